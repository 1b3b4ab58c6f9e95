import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../support/cli';
import { tempDir, writeFile } from '../support/tmp';
import { loadDataset, summarize } from '../../src/core/data';
import { Ledger, defaultAccountant, releaseHash } from '../../src/core/ledger';
import { epsilonFor } from '../../src/core/privacy';

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

test('budget on a fresh dataset: default total ε 4 at δ = 1/(n ln n), nothing spent, no ledger written', async () => {
  const ws = workspace(60);
  const { code, stdout, stderr } = await runCli(['budget', 'data/train.csv', '--json'], { cwd: ws });
  assert.equal(code, 0, stderr);
  const s = JSON.parse(stdout);
  assert.equal(s.total.epsilon, 4);
  assert.ok(Math.abs(s.total.delta - 1 / (60 * Math.log(60))) < 1e-15);
  assert.equal(s.spent, 0);
  assert.equal(s.remaining, 4);
  assert.deepEqual(s.runs, []);
  const text = await runCli(['budget', 'data/train.csv'], { cwd: ws });
  const delta = String(Number((1 / (60 * Math.log(60))).toPrecision(4))).replace('.', '\\.');
  assert.match(text.stdout, new RegExp(`total: +ε 4 at δ ${delta} \\(default`));
  assert.match(text.stdout, /runs: +none yet/);
});

test('budget shows runs recorded by the engine, with label names resolved locally and the same spent ε', async () => {
  const ws = workspace(90);
  const ds = await target(ws);
  const ledger = new Ledger(ws, { accountant: defaultAccountant() });
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
  // Worst pool: label b (30 steps) with the Aug-PE run on the whole dataset.
  const worst = epsilonFor(
    [
      { kind: 'poisson-gaussian', sigma: 0.9, samplingRate: 0.1, steps: 30 },
      { kind: 'gaussian', sigma: 20, steps: 10 },
    ],
    expected.total.delta,
  );
  assert.ok(Math.abs(s.spent - worst) <= 1e-9 * worst, `${s.spent} vs ${worst}`);
  assert.equal(s.worst.label, 'b');
  assert.deepEqual(
    s.runs.map((x: { status: string }) => x.status),
    ['settled', 'reserved'],
  );
  assert.equal(s.runs[1].id, open.id);

  const text = (await runCli(['budget', 'data/train.csv'], { cwd: ws })).stdout;
  assert.match(text, /spent: +ε [\d.]+ \(worst pool: label "b"\)/);
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
