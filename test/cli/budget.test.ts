import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../support/cli';
import { tempDir, writeFile } from '../support/tmp';
import { loadDataset, summarize } from '../../src/core/data';
import { Ledger, defaultAccountant, releaseHash } from '../../src/core/ledger';
import { epsilonFor } from '../../src/core/privacy';
import { filterEpsilon } from '../../src/core/privacy/filter';

const root = tempDir('pfs-budget-cli-');
let n = 0;
/** A workspace with a small labelled dataset of `rows` rows (labels a/b/c). */
function workspace(rows = 60) {
  const ws = path.join(root, `ws${++n}`);
  mkdirSync(path.join(ws, 'data'), { recursive: true });
  const body = Array.from({ length: rows }, (_, i) => `text number ${i},${'abc'[i % 3]}`).join('\n');
  writeFile(path.join(ws, 'data'), 'train.csv', `text,label\n${body}\n`);
  return ws;
}
async function target(ws: string) {
  const ds = await loadDataset('data/train.csv', { root: ws });
  return { identity: ds.identity, units: summarize(ds).units };
}

test('budget on a fresh dataset: default total ε 4 at δ = 1e-6 whatever n, nothing spent, no ledger written', async () => {
  const ws = workspace(60);
  const { code, stdout, stderr } = await runCli(['budget', 'data/train.csv', '--json'], { cwd: ws });
  assert.equal(code, 0, stderr);
  const s = JSON.parse(stdout);
  assert.equal(s.total.epsilon, 4);
  assert.equal(s.total.delta, 1e-6);
  assert.equal(s.spent, 0);
  assert.equal(s.remaining, 4);
  assert.deepEqual(s.runs, []);
  const text = await runCli(['budget', 'data/train.csv'], { cwd: ws });
  assert.match(text.stdout, /total: +ε 4 at δ 1e-6 \(default: ε 4, δ 1e-6; pinned at the first run\)/);
  assert.match(text.stdout, /runs: +none yet/);
  // 60 records: 1e-6 is far below 1/(n ln n), so no warning.
  assert.doesNotMatch(text.stdout, /warning/);
});

test('budget on a large dataset at the default δ: a local-only warning (δ above 1/(n ln n)) and the command to set δ', async () => {
  const ws = workspace(90_000); // n ln n > 10⁶ from n ≈ 87,850
  const text = await runCli(['budget', 'data/train.csv'], { cwd: ws });
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    /warning: local only, not private: this dataset's δ is the default 1\.00e-6, above 1\/\(n·ln n\) = 9\.74e-7 for its 90000 records or privacy units .*private-fewshot budget data\/train\.csv --delta D/,
  );
  // The plans say it too (stdout of --dry-run, and its --json warnings; both local), and nothing is refused.
  const demos = await runCli(
    ['demos', 'data/train.csv', '--labels', 'a', '--shots', '1', '--epsilon', '1', '--max-tokens', '2', '--dry-run'],
    { cwd: ws },
  );
  assert.equal(demos.code, 0, demos.stderr);
  assert.match(demos.stdout, /warning: local only, not private: this dataset's δ is the default 1\.00e-6/);
  const synth = await runCli(
    ['synth', 'data/train.csv', '--labels', 'a', '--count', '2', '--epsilon', '1', '--dry-run', '--json'],
    { cwd: ws },
  );
  assert.equal(synth.code, 0, synth.stderr);
  const plan = JSON.parse(synth.stdout);
  assert.equal(plan.plan.delta, 1e-6);
  assert.ok(plan.warnings.some((w: string) => /^local only, not private: .*--delta D$/.test(w)));
  // Set explicitly, the warning goes (the user chose δ); no refusal either way.
  const set = await runCli(['budget', 'data/train.csv', '--delta', '1e-7'], { cwd: ws });
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /at δ 1e-7 \(set at ledger line/);
  assert.doesNotMatch(set.stdout, /warning/);
});

test('budget shows runs recorded by the engine, with label names resolved locally and the same spent ε', async () => {
  const ws = workspace(90);
  const ds = await target(ws);
  const ledger = new Ledger(ws, { accountant: defaultAccountant() });
  // Total 8: under the default 4 the budget filter refuses the second run (the first alone spends its PLD ε 2.77,
  // and the Rényi filter of both is 4.97; the PLD composition of both, 2.81, would have let it through).
  // δ = 1/(n ln n) set explicitly: the figures above were computed at it (the default δ is 1e-6).
  await ledger.setTotal(ds, { epsilon: 8, delta: 1 / (90 * Math.log(90)) });
  const r = await ledger.reserve(ds, {
    algorithm: 'dp-few-shot',
    charges: [
      { partition: 'label:a', mechanism: { kind: 'poisson-gaussian', sigma: 0.9, samplingRate: 0.1, steps: 20 } },
      { partition: 'label:b', mechanism: { kind: 'poisson-gaussian', sigma: 0.9, samplingRate: 0.1, steps: 40 } },
    ],
  });
  await r.settle({
    released: releaseHash('demos'),
    used: [
      { partition: 'label:a', mechanism: { kind: 'poisson-gaussian', sigma: 0.9, samplingRate: 0.1, steps: 20 } },
      { partition: 'label:b', mechanism: { kind: 'poisson-gaussian', sigma: 0.9, samplingRate: 0.1, steps: 30 } },
    ],
  });
  const open = await ledger.reserve(ds, {
    algorithm: 'aug-pe',
    charges: [{ partition: '*', mechanism: { kind: 'gaussian', sigma: 20, steps: 10 } }],
  });

  const { code, stdout } = await runCli(['budget', 'data/train.csv', '--json'], { cwd: ws });
  assert.equal(code, 0);
  const s = JSON.parse(stdout);
  const expected = await ledger.status(ds);
  assert.equal(s.spent, expected.spent);
  // Worst pool: label b (30 steps) with the Aug-PE run on the whole dataset. Two runs touch it, so spent is the
  // Rényi budget filter of both; the PLD composition (the number before the filter) is shown as "as planned".
  const poolB = [
    { kind: 'poisson-gaussian' as const, sigma: 0.9, samplingRate: 0.1, steps: 30 },
    { kind: 'gaussian' as const, sigma: 20, steps: 10 },
  ];
  const worst = filterEpsilon(poolB, expected.total.delta);
  assert.ok(Math.abs(s.spent - worst) <= 1e-9 * worst, `${s.spent} vs ${worst}`);
  const planned = epsilonFor(poolB, expected.total.delta);
  assert.ok(Math.abs(s.pldIfPlanned - planned) <= 1e-9 * planned, `${s.pldIfPlanned} vs ${planned}`);
  assert.ok(s.spent > s.pldIfPlanned);
  assert.equal(s.worst.label, 'b');
  assert.equal(s.spentRule, 'renyi-filter');
  assert.deepEqual(
    s.runs.map((x: { status: string }) => x.status),
    ['settled', 'reserved'],
  );
  assert.equal(s.runs[1].id, open.id);

  const text = (await runCli(['budget', 'data/train.csv'], { cwd: ws })).stdout;
  assert.match(text, /spent: +ε [\d.]+ \(worst pool: label "b"; Rényi budget filter over its runs\)/);
  assert.match(text, /as planned: ε [\d.]+ if all these runs had been planned in advance/);
  assert.match(text, /privacy unit: row \(each row is one unit\)/);
  assert.match(text, /label "b": Poisson-subsampled Gaussian σ 0\.9, q 0\.1, 30 steps/);
  assert.match(text, /planned: label "b": Poisson-subsampled Gaussian σ 0\.9, q 0\.1, 40 steps/);
  assert.match(text, /aug-pe +reserved \(open or crashed: charged as planned\)/);
  assert.match(text, /whole dataset: Gaussian σ 20, 10 steps \(μ 0\.1581\)/);
  // The ledger file itself never holds the label names.
  assert.doesNotMatch(readFileSync(ledger.file, 'utf8'), /"label:|"a"|"b"/);
});

test('--set-total and --delta write a budget line; --workspace picks the ledger; bad values are usage errors', async () => {
  const ws = workspace(60);
  const elsewhere = path.join(root, `cwd${n}`);
  mkdirSync(elsewhere);
  const file = path.join(ws, 'data', 'train.csv');
  const { code, stdout, stderr } = await runCli(
    ['budget', file, '--workspace', ws, '--set-total', '2.5', '--delta', '1e-5', '--json'],
    { cwd: elsewhere },
  );
  assert.equal(code, 0, stderr);
  const s = JSON.parse(stdout);
  assert.deepEqual([s.total.epsilon, s.total.delta, s.total.source], [2.5, 1e-5, 'user']);
  assert.equal(s.dataset.path, 'data/train.csv');
  const lines = readFileSync(path.join(ws, '.private-fewshot', 'ledger.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.type),
    ['ledger', 'budget'],
  );
  assert.equal(lines[1].epsilon, 2.5);

  const big = await runCli(['budget', 'data/train.csv', '--delta', '0.02'], { cwd: ws });
  assert.equal(big.code, 2);
  assert.match(big.stderr, /δ must be in \[1e-12, 1\/n\)/);
  const neg = await runCli(['budget', 'data/train.csv', '--set-total', '-1'], { cwd: ws });
  assert.equal(neg.code, 2);
  const none = await runCli(['budget'], { cwd: ws });
  assert.equal(none.code, 2);
});

test('a tampered ledger: exit code 1 and the error names the ledger file and line', async () => {
  const ws = workspace(60);
  const ledger = new Ledger(ws, { accountant: defaultAccountant() });
  const r = await ledger.reserve(await target(ws), {
    algorithm: 'aug-pe',
    charges: [{ partition: '*', mechanism: { kind: 'gaussian', sigma: 20, steps: 10 } }],
  });
  await r.settle({ released: releaseHash('x') });
  const lines = readFileSync(ledger.file, 'utf8').split('\n');
  lines[2] = lines[2]!.replace('"steps":10', '"steps":1');
  writeFileSync(ledger.file, lines.join('\n'));
  const { code, stdout, stderr } = await runCli(['budget', 'data/train.csv'], { cwd: ws });
  assert.equal(code, 1);
  assert.equal(stdout, '');
  assert.match(stderr, /ledger\.jsonl:3: the line does not match its own hash: it was edited/);
  assert.match(stderr, /never reset/);
});

test('the privacy unit from --unit-column reaches the ledger: budget shows it, a demos dry run with another unit is refused', async () => {
  const ws = path.join(root, `ws${++n}`);
  mkdirSync(path.join(ws, 'data'), { recursive: true });
  const body = Array.from({ length: 60 }, (_, i) => `text number ${i},${'abc'[i % 3]},u${i % 20}`).join('\n');
  writeFile(path.join(ws, 'data'), 'train.csv', `text,label,user\n${body}\n`);
  const ds = await loadDataset('data/train.csv', { root: ws, labelColumn: 'label', textColumn: 'text' });
  const ledger = new Ledger(ws, { accountant: defaultAccountant() });
  // A row-level run (no unit column) through the engine's API.
  const r = await ledger.reserve(
    { identity: ds.identity, units: summarize(ds).units },
    { algorithm: 'aug-pe', charges: [{ partition: '*', mechanism: { kind: 'gaussian', sigma: 20, steps: 10 } }] },
  );
  await r.settle({ released: releaseHash('x') });
  assert.equal(JSON.parse(readFileSync(ledger.file, 'utf8').trim().split('\n')[2]!).unit, 'row');

  const flags = ['--text-column', 'text', '--label-column', 'label', '--unit-column', 'user'];
  const s = await runCli(['budget', 'data/train.csv', ...flags, '--json'], { cwd: ws });
  assert.equal(s.code, 0, s.stderr);
  const j = JSON.parse(s.stdout);
  assert.equal(j.privacyUnit, 'column:user');
  assert.deepEqual(j.recordedUnits, ['row']);
  const text = await runCli(['budget', 'data/train.csv', ...flags], { cwd: ws });
  assert.match(
    text.stdout,
    /privacy unit: unit column "user" — earlier runs used row \(each row is one unit\): runs with this unit are refused/,
  );
  const dry = await runCli(
    ['demos', 'data/train.csv', ...flags, '--labels', 'a', '--shots', '1', '--epsilon', '1', '--dry-run'],
    { cwd: ws },
  );
  assert.equal(dry.code, 1, dry.stderr);
  assert.match(
    dry.stderr,
    /data\/train\.csv: this run's privacy unit is unit column "user", but the run at ledger line 3 on the same data used row/,
  );
});
