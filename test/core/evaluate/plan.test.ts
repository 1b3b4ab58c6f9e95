import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../../../src/core/data';
import { planInContext } from '../../../src/core/evaluate/plan';
import { createSplit, heldOutPart } from '../../../src/core/evaluate/split';
import { ORACLE_LABELS, oracleCsv, oracleProvider } from '../../support/oracle-classifier';
import { tempDir } from '../../support/tmp';

test('planInContext: held-out rows of the demonstrations’ labels; real demonstrations only from the training part', async () => {
  const ws = tempDir('pfs-plan-');
  writeFileSync(path.join(ws, 'data.csv'), oracleCsv(30));
  const ds = await loadDataset(path.join(ws, 'data.csv'), { root: ws });
  const ledgerDir = path.join(ws, '.private-fewshot');
  createSplit(ledgerDir, ds.identity.path, 0.3);
  const { training, heldOut } = heldOutPart(ds, ledgerDir).parts;
  const demos = ORACLE_LABELS.slice(0, 2).flatMap((label) => [
    { label, text: `a ${label}` },
    { label, text: `b ${label}` },
  ]);
  writeFileSync(path.join(ws, 'd.jsonl'), demos.map((d) => JSON.stringify(d)).join('\n'));
  const plan = await planInContext({ ds, ledgerDir, ref: 'd.jsonl', cwd: ws, provider: oracleProvider('logprobs') });
  assert.deepEqual(plan.labels, ORACLE_LABELS.slice(0, 2));
  const heldTexts = new Set(heldOut.map((e) => e.text));
  const trainTexts = new Set(training.map((e) => e.text));
  assert.deepEqual(
    plan.rows.map((r) => r.text),
    heldOut.filter((e) => plan.labels.includes(e.label)).map((e) => e.text),
  );
  const real = plan.conditions.find((c) => c.kind === 'real')!;
  assert.equal(real.demos.length, 4, 'as many real demonstrations per label as the file has');
  for (const d of real.demos) {
    assert.ok(trainTexts.has(d.text), 'a real demonstration comes from the training part');
    assert.ok(!heldTexts.has(d.text), 'never a held-out row');
  }
  assert.equal(plan.mode, 'logprobs');
  assert.match(plan.lines[0]!, /local only, not private/);
  assert.equal(plan.view.typicalCalls, plan.rows.length * 3 * 3, 'card_* labels share two tokens: 3 calls');
  const gen = await planInContext({ ds, ledgerDir, ref: 'd.jsonl', cwd: ws, provider: oracleProvider('generation') });
  assert.equal(gen.mode, 'generation');
  assert.equal(gen.view.maxCallsNeeded, gen.rows.length * 3);
});
