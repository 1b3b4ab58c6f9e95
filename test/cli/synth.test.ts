import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, repoRoot } from '../support/cli';
import { tempDir } from '../support/tmp';

function workspace(): string {
  const dir = tempDir('pfs-synth-');
  copyFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), path.join(dir, 'data.csv'));
  return dir;
}
const small = ['--iterations', '2', '--variations', '1'];

test('synth --dry-run prints σ, T, the class sizes and the estimates, and touches nothing', async () => {
  const ws = workspace();
  const r = await runCli(
    [
      'synth',
      'data.csv',
      '--labels',
      'card_arrival,exchange_rate',
      '--count',
      '5',
      '--epsilon',
      '2',
      '--fractions',
      'card_arrival=2,exchange_rate=3',
      '--dry-run',
      '--json',
      ...small,
    ],
    { cwd: ws },
  );
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.dryRun, true);
  assert.equal(o.plan.iterations, 2);
  assert.ok(o.plan.sigma > 0 && Math.abs(o.plan.mu - Math.sqrt(2) / o.plan.sigma) < 1e-12);
  assert.ok(o.plan.epsilonRun <= 2 && o.plan.epsilonRun > 2 - 1e-9);
  assert.deepEqual(
    o.plan.labels.map((l: { count: number; population: number }) => [l.count, l.population]),
    [
      [2, 4],
      [3, 6],
    ],
  );
  // L = 2: initial 2·n_c, then (T−1)·1·n_c per label.
  assert.equal(o.plan.estimate.completions, 10 + 5);
  assert.equal(o.budget.spent, 0);
  assert.ok(o.budget.fits);
  assert.equal(o.provider.offline, true);
  assert.equal(o.embedder.offline, true);
  assert.equal(existsSync(path.join(ws, '.private-fewshot')), false, 'no ledger written');
  const text = await runCli(
    ['synth', 'data.csv', '--labels', 'card_arrival', '--count', '2', '--epsilon', '1', '--dry-run'],
    { cwd: ws },
  );
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /T = 10 Gaussian histograms with σ = [\d.]+/);
  assert.match(text.stdout, /private rows stay on this machine/);
  assert.match(text.stdout, /^ {2}data: Built-in model and embedder: nothing leaves this machine\.$/m);
  assert.deepEqual(o.dataFlow, {
    offline: true,
    sentence: 'Built-in model and embedder: nothing leaves this machine.',
  });
});

test('synth writes records, charges the ledger, and a second run that would overspend is refused', async () => {
  const ws = workspace();
  const r = await runCli(
    [
      'synth',
      'data.csv',
      '--labels',
      'card_arrival,exchange_rate',
      '--count',
      '4',
      '--epsilon',
      '3',
      '--json',
      '--format',
      'jsonl',
      '--out',
      'synth.jsonl',
      ...small,
    ],
    { cwd: ws },
  );
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  // --json: the release (what may leave the machine) and the local diagnostics, apart.
  const { release, localOnlyNotPrivate: local } = o;
  assert.equal(release.status, 'completed');
  assert.equal(release.records.length, 4);
  assert.equal(release.privacy.histograms, 2);
  assert.ok(release.privacy.epsilonCharged <= 3 && release.privacy.epsilonCharged > 2.99);
  assert.ok(Math.abs(local.budget.spent - release.privacy.epsilonCharged) < 1e-9);
  assert.equal(local.budget.total, 4);
  const journal = JSON.parse(readFileSync(path.join(ws, local.journal), 'utf8'));
  assert.deepEqual(journal.privateEmbeddingUsage, local.privateEmbeddingUsage, 'the run journal keeps the diagnostics');
  const lines = readFileSync(path.join(ws, 'synth.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.label),
    ['card_arrival', 'card_arrival', 'exchange_rate', 'exchange_rate'],
  );
  assert.ok(lines.every((l) => l.offline === true && typeof l.text === 'string'));

  const again = await runCli(
    ['synth', 'data.csv', '--labels', 'card_arrival', '--count', '2', '--epsilon', '3', ...small],
    { cwd: ws },
  );
  assert.equal(again.code, 1);
  assert.match(again.stderr, /over its total ε = 4/);
  // Another label's pool is disjoint: it still fits; json output is the release (records and public parameters).
  const other = await runCli(
    [
      'synth',
      'data.csv',
      '--labels',
      'top_up_failed',
      '--count',
      '2',
      '--epsilon',
      '3',
      '--format',
      'json',
      '--embedder',
      'builtin',
      ...small,
    ],
    { cwd: ws },
  );
  assert.equal(other.code, 0, other.stderr);
  const j = JSON.parse(other.stdout);
  assert.equal(j.records.length, 2);
  assert.equal(j.algorithm, 'aug-pe');
  assert.equal(j.usage, undefined);
  assert.equal(j.report, undefined);
  assert.match(j.notice, /built-in offline model/);
  assert.match(other.stderr, /private rows are embedded on this machine/);
});

test('synth usage errors exit 2 with a clear message', async () => {
  const ws = workspace();
  const run = (...a: string[]) => runCli(['synth', 'data.csv', ...a], { cwd: ws });
  const both = await run('--labels', 'a', '--all-labels', '--count', '2', '--epsilon', '1');
  assert.equal(both.code, 2);
  assert.match(both.stderr, /either --labels a,b,c or --all-labels/);
  assert.equal((await run('--labels', 'card_arrival', '--epsilon', '1')).code, 2);
  const metric = await run('--labels', 'card_arrival', '--count', '2', '--epsilon', '1', '--metric', 'ip');
  assert.equal(metric.code, 2);
  assert.match(metric.stderr, /--metric must be one of l2, cosine/);
  const fr = await run(
    '--labels',
    'card_arrival,exchange_rate',
    '--count',
    '2',
    '--epsilon',
    '1',
    '--fractions',
    'card_arrival=1',
  );
  assert.equal(fr.code, 2);
  assert.match(fr.stderr, /no weight to "exchange_rate"/);
  const fmt = await run('--labels', 'card_arrival', '--count', '2', '--epsilon', '1', '--format', 'chat');
  assert.equal(fmt.code, 2);
  const emb = await run('--labels', 'card_arrival', '--count', '2', '--epsilon', '1', '--embedder', 'other');
  assert.equal(emb.code, 2);
  const unknown = await run('--labels', 'no_such_label', '--count', '2', '--epsilon', '1', '--dry-run');
  // Whether a label has rows is private: the plan is not refused (what is released may not depend on it); a local
  // warning says so.
  assert.equal(unknown.code, 0, unknown.stderr);
  assert.match(unknown.stderr + unknown.stdout, /local only, not private: no rows have the label/);
  const help = await runCli(['synth', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--embedder E/);
});

test('--all-labels orders labels by name, so the private label frequencies decide neither the split nor the order', async () => {
  const ws = tempDir('pfs-synth-all-');
  const rows = [...Array(6).fill('zeta'), ...Array(2).fill('alpha'), ...Array(4).fill('mid')].map(
    (l, i) => `message number ${i} here,${l}`,
  );
  writeFileSync(path.join(ws, 'd.csv'), ['text,label', ...rows].join('\n') + '\n');
  const r = await runCli(
    ['synth', 'd.csv', '--all-labels', '--count', '4', '--epsilon', '1', '--delta', '1e-3', '--dry-run', '--json'],
    { cwd: ws },
  );
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.deepEqual(
    o.plan.labels.map((l: { label: string; count: number }) => [l.label, l.count]),
    [
      ['alpha', 2],
      ['mid', 1],
      ['zeta', 1],
    ],
  );
});
