import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, repoRoot } from '../support/cli';
import { tempDir } from '../support/tmp';

function workspace(): string {
  const dir = tempDir('pfs-demos-');
  copyFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), path.join(dir, 'data.csv'));
  return dir;
}
const small = ['--prompts', '3', '--max-tokens', '6'];

test('demos --dry-run prints the plan and touches nothing', async () => {
  const ws = workspace();
  const r = await runCli(
    [
      'demos',
      'data.csv',
      '--labels',
      'card_arrival,exchange_rate',
      '--shots',
      '2',
      '--epsilon',
      '2',
      '--dry-run',
      '--json',
      ...small,
    ],
    { cwd: ws },
  );
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.dryRun, true);
  // The plan shows the noisy count release and the steps; q and the token σ come from the noisy counts at run time,
  // so no pool size, q or σ computed from the exact counts is in it.
  assert.deepEqual(o.plan.labels, [
    { label: 'card_arrival', steps: 12 },
    { label: 'exchange_rate', steps: 12 },
  ]);
  assert.ok(o.plan.countRelease.sigma > 0);
  assert.ok(Math.abs(o.plan.countRelease.epsilon - 0.2) < 1e-3, `count ε ${o.plan.countRelease.epsilon}`);
  assert.equal(o.plan.countRelease.share, 0.1);
  assert.doesNotMatch(r.stdout, /poolUnits|samplingRate|noiseStd/);
  // One more record in a pool changes nothing in the plan (at a given δ: the default δ, and the ledger's δ at which
  // the budget lines are computed, follow the dataset's n, which the ledger treats as known).
  const ws2 = workspace();
  writeFileSync(
    path.join(ws2, 'data.csv'),
    readFileSync(path.join(ws2, 'data.csv'), 'utf8') + 'where is my card,card_arrival\n',
  );
  const atDelta = (dir: string) =>
    runCli(
      [
        'demos',
        'data.csv',
        '--labels',
        'card_arrival,exchange_rate',
        '--shots',
        '2',
        '--epsilon',
        '2',
        '--delta',
        '1e-5',
        '--dry-run',
        '--json',
        ...small,
      ],
      { cwd: dir },
    );
  const [p1, p2] = (await Promise.all([atDelta(ws), atDelta(ws2)])).map((x) => JSON.parse(x.stdout));
  assert.deepEqual(p2.plan, p1.plan);
  const text = await runCli(
    ['demos', 'data.csv', '--labels', 'card_arrival', '--shots', '2', '--epsilon', '2', '--dry-run', ...small],
    { cwd: ws },
  );
  assert.match(
    text.stdout,
    /pool counts released with Gaussian noise σ_c = [\d.]+: ε 0\.2 at δ [\d.e-]+ \(10% of ε and δ\)/,
  );
  assert.doesNotMatch(text.stdout, /q = \d|pool \d/);
  assert.equal(o.budget.spent, 0);
  assert.ok(o.budget.fits);
  assert.equal(o.estimate.maxCalls, 2 * 2 * 6 * 4);
  assert.equal(o.provider.offline, true);
  // Where private data goes, as the Generate panel says it.
  assert.deepEqual(o.dataFlow, { offline: true, sentence: 'Built-in model: nothing leaves this machine.' });
  assert.match(text.stdout, /^ {2}data: Built-in model: nothing leaves this machine\.$/m);
  assert.equal(existsSync(path.join(ws, '.private-fewshot')), false, 'no ledger written');
});

test('demos writes demonstrations, charges the ledger, and a second run that would overspend is refused', async () => {
  const ws = workspace();
  const r = await runCli(
    [
      'demos',
      'data.csv',
      '--labels',
      'card_arrival',
      '--shots',
      '2',
      '--epsilon',
      '3',
      '--json',
      '--format',
      'jsonl',
      '--out',
      'demos.jsonl',
      ...small,
    ],
    { cwd: ws },
  );
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  // --json: the release (what may leave the machine) and the local diagnostics, apart.
  const { release, localOnlyNotPrivate: local } = o;
  assert.equal(release.status, 'completed');
  assert.equal(release.demonstrations.length, 2);
  assert.ok(release.privacy.epsilonCharged <= 3 && release.privacy.epsilonCharged > 2.5);
  assert.equal(release.privacy.accountant, 'pld');
  assert.ok(Math.abs(local.budget.spent - release.privacy.epsilonCharged) < 1e-9);
  assert.equal(local.budget.total, 4);
  assert.ok(local.usage.calls > 0 && local.usage.roundTrips > 0);
  assert.match(local.note, /Local only, not private/);
  const journal = JSON.parse(readFileSync(path.join(ws, local.journal), 'utf8'));
  assert.deepEqual(journal.usage, local.usage, 'the run journal keeps the diagnostics');
  const lines = readFileSync(path.join(ws, 'demos.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => l.label === 'card_arrival' && l.offline === true));
  assert.ok(existsSync(path.join(ws, '.private-fewshot/ledger.jsonl')));

  // ε 3.5 on the same pool: the PLD composition with the first run passes the total (ε 3 would now fit: a run's PLD
  // figure is below its nominal ε, as the count release and the steps each meet their own share).
  const again = await runCli(
    ['demos', 'data.csv', '--labels', 'card_arrival', '--shots', '2', '--epsilon', '3.5', ...small],
    { cwd: ws },
  );
  assert.equal(again.code, 1);
  assert.match(again.stderr, /over its total ε = 4/);
  assert.match(again.stderr, /nothing was reserved/);
  // A dry run of a second, smaller run on the same pool shows the budget filter's number and, next to it, the PLD
  // composition as if both runs had been planned in advance.
  const dry = await runCli(
    ['demos', 'data.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '0.5', '--dry-run', ...small],
    { cwd: ws },
  );
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(
    dry.stdout,
    /budget: total ε 4, spent [\d.]+, after this run [\d.]+, .*\(budget filter: valid for runs chosen/,
  );
  assert.match(dry.stdout, /as planned: after this run ε [\d.]+ if all runs had been planned in advance/);
  // Another label's pool is disjoint: it still fits.
  const other = await runCli(
    [
      'demos',
      'data.csv',
      '--labels',
      'exchange_rate',
      '--shots',
      '1',
      '--epsilon',
      '3',
      '--format',
      'text',
      '--template',
      'Q: {text}\\nA: {label}',
      ...small,
    ],
    { cwd: ws },
  );
  assert.equal(other.code, 0, other.stderr);
  assert.match(other.stdout, /A: exchange_rate/);
  assert.match(other.stdout, /built-in offline model/);
});

test('demos usage errors exit 2 with a clear message', async () => {
  const ws = workspace();
  const both = await runCli(['demos', 'data.csv', '--labels', 'a', '--all-labels', '--shots', '1', '--epsilon', '1'], {
    cwd: ws,
  });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /either --labels a,b,c or --all-labels/);
  const neither = await runCli(['demos', 'data.csv', '--shots', '1', '--epsilon', '1'], { cwd: ws });
  assert.equal(neither.code, 2);
  const format = await runCli(
    ['demos', 'data.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '1', '--format', 'xml'],
    { cwd: ws },
  );
  assert.equal(format.code, 2);
  assert.match(format.stderr, /--format must be one of/);
  const template = await runCli(
    ['demos', 'data.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '1', '--template', '{txt}'],
    { cwd: ws },
  );
  assert.equal(template.code, 2);
  const unknown = await runCli(
    ['demos', 'data.csv', '--labels', 'no_such_label', '--shots', '1', '--epsilon', '1', '--dry-run'],
    { cwd: ws },
  );
  // Whether a label has rows is private: the plan does not say (the run's noisy count warns instead).
  assert.equal(unknown.code, 0, unknown.stderr);
  assert.doesNotMatch(unknown.stdout + unknown.stderr, /no rows have the label/);
});

test('demos --all-labels takes the labels by name, not by how often they occur', async () => {
  const ws = tempDir('pfs-demos-order-');
  const rows = [...Array(6).fill('zeta'), ...Array(2).fill('alpha'), ...Array(4).fill('mid')].map(
    (l, i) => `message number ${i} about ${l},${l}`,
  );
  writeFileSync(path.join(ws, 'data.csv'), `text,label\n${rows.join('\n')}\n`);
  const r = await runCli(
    ['demos', 'data.csv', '--all-labels', '--shots', '1', '--epsilon', '3', '--dry-run', '--json', ...small],
    { cwd: ws },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    JSON.parse(r.stdout).plan.labels.map((l: { label: string }) => l.label),
    ['alpha', 'mid', 'zeta'],
  );
});

test('demos stops at Ctrl-C (SIGINT) in a real process, keeps what was written and settles the ledger', async () => {
  const ws = workspace();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(repoRoot, 'src/cli/main.ts'),
      'demos',
      path.join(ws, 'data.csv'),
      '--workspace',
      ws,
      '--labels',
      'card_arrival,exchange_rate',
      '--shots',
      '20',
      '--epsilon',
      '4',
      '--max-tokens',
      '64',
    ],
    { cwd: repoRoot },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.includes('… ') && !child.killed) child.kill('SIGINT'); // the first progress line: tokens are flowing
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 1, stderr);
  const m = /cancelled: (\d+) demonstration\(s\)/.exec(stderr);
  assert.ok(m, stderr);
  assert.ok(Number(m[1]) < 40, `stopped with ${m[1]} of 40 demonstrations written`);
  const ledger = readFileSync(path.join(ws, '.private-fewshot/ledger.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(ledger.at(-1).status, 'settled', 'the reservation is closed, not left open');
});

test('demos --dry-run with a remote model says where private examples go (its host), and contacts nothing', async () => {
  const ws = workspace();
  const args = ['demos', 'data.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '1', '--dry-run'];
  const remote = ['--provider', 'openai', '--model', 'm', '--base-url', 'http://127.0.0.1:9/v1', ...small];
  const env = { OPENAI_API_KEY: 'sk-test' };
  const r = await runCli([...args, ...remote, '--json'], { cwd: ws, env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).dataFlow, {
    offline: false,
    endpoint: 'http://127.0.0.1:9/v1',
    sentence: 'Private examples are sent to 127.0.0.1:9 inside prompts.',
  });
  const text = await runCli([...args, ...remote], { cwd: ws, env });
  assert.match(text.stdout, /^ {2}data: Private examples are sent to 127\.0\.0\.1:9 inside prompts\.$/m);
  assert.doesNotMatch(r.stdout + text.stdout, /sk-test/);
});
