import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../../../src/core/data';
import {
  assignSplit,
  createSplit,
  heldOutPart,
  readSplit,
  splitFile,
  trainingPart,
} from '../../../src/core/evaluate/split';
import { UsageError } from '../../../src/core/errors';
import { repoRoot } from '../../support/cli';
import { tempDir } from '../../support/tmp';

const sample = readFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), 'utf8');

/** A fixed split seed (createSplit's `random`), so that tests of the split's proportions do not depend on a draw. */
const fixedSeed = (name: string) => () => createHash('sha256').update(name).digest();

async function load(dir: string, name: string, content: string) {
  writeFileSync(path.join(dir, name), content);
  return loadDataset(path.join(dir, name), { root: dir });
}

test('split: disjoint, covers every row, about the asked fraction in every label', async () => {
  const dir = tempDir('pfs-split-');
  const ds = await load(dir, 'data.csv', sample);
  // A fixed seed: with a random one the 4σ bound on the share below would fail once in 17,000 runs.
  const { split } = createSplit(path.join(dir, '.private-fewshot'), ds.identity.path, 0.2, fixedSeed('split-share'));
  const { training, heldOut } = assignSplit(ds, split);
  assert.equal(training.length + heldOut.length, ds.examples.length);
  const trainTexts = new Set(training.map((e) => e.text.trim()));
  for (const e of heldOut) assert.ok(!trainTexts.has(e.text.trim()), 'a record on both sides');
  // Held-out share 0.2 ± 4 binomial standard deviations (n = 2000: σ ≈ 0.009).
  const share = heldOut.length / ds.examples.length;
  assert.ok(Math.abs(share - 0.2) < 0.036, `held-out share ${share}`);
  // Stratified in expectation: no label of ~26 rows is wildly off (each is Binomial(n_l, 0.2); 6σ bound).
  const byLabel = new Map<string, [number, number]>();
  for (const e of ds.examples) byLabel.set(e.label, [0, 0]);
  for (const e of heldOut) byLabel.get(e.label)![0]++;
  for (const e of ds.examples) byLabel.get(e.label)![1]++;
  for (const [label, [h, n]] of byLabel)
    assert.ok(Math.abs(h / n - 0.2) < 6 * Math.sqrt(0.16 / n), `${label}: ${h} of ${n}`);
});

test('split: stable across runs and row orders, and fixed once made', async () => {
  const dir = tempDir('pfs-split-');
  const ledgerDir = path.join(dir, '.private-fewshot');
  const ds = await load(dir, 'data.csv', sample);
  const a = createSplit(ledgerDir, ds.identity.path, 0.2);
  assert.equal(a.created, true);
  assert.ok(existsSync(splitFile(ledgerDir, 'data.csv')));
  const again = createSplit(ledgerDir, ds.identity.path, 0.2);
  assert.equal(again.created, false);
  assert.deepEqual(again.split, a.split);
  assert.throws(() => createSplit(ledgerDir, ds.identity.path, 0.3), UsageError);
  const held1 = new Set(assignSplit(ds, a.split).heldOut.map((e) => e.text));
  // The same file with its rows reversed and CRLF line endings (same path, so the same split file).
  const [header, ...rows] = sample.trimEnd().split('\n');
  const reordered = await load(dir, 'data.csv', [header, ...rows.reverse()].join('\r\n') + '\r\n');
  const held2 = new Set(heldOutPart(reordered, ledgerDir).parts.heldOut.map((e) => e.text));
  assert.deepEqual([...held2].sort(), [...held1].sort());
  // A second, independent split (new seed) is a different subset: the seed is random, not fixed.
  const other = createSplit(path.join(dir, 'other'), ds.identity.path, 0.2);
  const held3 = new Set(assignSplit(ds, other.split).heldOut.map((e) => e.text));
  assert.notDeepEqual([...held3].sort(), [...held1].sort());
});

test('split: all rows of a privacy unit fall on one side', async () => {
  const dir = tempDir('pfs-split-');
  const rows = ['text,label,user'];
  // Each unit has rows under both labels (i % 3 varies within a unit): the unit, not the (unit, label) pair, is split.
  for (let i = 0; i < 400; i++) rows.push(`message ${i},${i % 3 ? 'a' : 'b'},u${i % 40}`);
  writeFileSync(path.join(dir, 'u.csv'), rows.join('\n') + '\n');
  const ds = await loadDataset(path.join(dir, 'u.csv'), { root: dir, unitColumn: 'user' });
  // A fixed seed: with a random one all 40 units land on one side with probability 0.7^40 + 0.3^40 = 6.4e-7.
  const { split } = createSplit(path.join(dir, '.private-fewshot'), ds.identity.path, 0.3, fixedSeed('split-units'));
  const { training, heldOut } = assignSplit(ds, split);
  const t = new Set(training.map((e) => e.unit));
  for (const e of heldOut) assert.ok(!t.has(e.unit), `unit ${e.unit} on both sides`);
  assert.ok(heldOut.length > 0 && training.length > 0);
});

test('trainingPart: without a split the dataset is unchanged; with one only the training rows and a note', async () => {
  const dir = tempDir('pfs-split-');
  const ledgerDir = path.join(dir, '.private-fewshot');
  const ds = await load(dir, 'data.csv', sample);
  const none = trainingPart(ds, ledgerDir);
  assert.equal(none.dataset, ds);
  assert.equal(none.note, undefined);
  assert.throws(() => heldOutPart(ds, ledgerDir), /has no held-out split/);
  createSplit(ledgerDir, ds.identity.path, 0.25);
  const part = trainingPart(ds, ledgerDir);
  const { heldOut } = heldOutPart(ds, ledgerDir).parts;
  assert.equal(part.dataset.examples.length + heldOut.length, ds.examples.length);
  assert.match(part.note!, /training part/);
  assert.equal(part.dataset.identity, ds.identity);
});

test('readSplit: a damaged split file is a one-line error naming it', async () => {
  const dir = tempDir('pfs-split-');
  const ledgerDir = path.join(dir, '.private-fewshot');
  createSplit(ledgerDir, 'data.csv', 0.2);
  writeFileSync(splitFile(ledgerDir, 'data.csv'), '{"format":"private-fewshot-split/1","holdout":2}');
  assert.throws(() => readSplit(ledgerDir, 'data.csv'), /splits.*not a valid split file/);
});
