import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../../../src/core/data';
import { chooseLabels, prepareFewShot } from '../../../src/core/fewshot/prepare';
import { UsageError } from '../../../src/core/errors';
import { LEDGER_DIR, LEDGER_FILE, Ledger, DEFAULT_DELTA, type LedgerAccountant } from '../../../src/core/ledger';
import { calibrateSigma, epsilonFor } from '../../../src/core/privacy';
import { tempDir, writeFile } from '../../support/tmp';
import { repoRoot } from '../../support/cli';

const accountant: LedgerAccountant = {
  name: 'pld',
  epsilonFor: (specs, delta) => epsilonFor(specs, delta, 'pld'),
  calibrateSigma: (target, shape) => calibrateSigma(target, shape, 'pld'),
};

async function setup() {
  const root = tempDir('pfs-prepare-');
  writeFile(root, 'data.csv', readFileSync(`${repoRoot}/examples/banking77-sample.csv`));
  const ds = await loadDataset('data.csv', { root });
  return { root, ds, ledger: new Ledger(root, { accountant }) };
}

const settings = { labels: ['card_arrival', 'exchange_rate'], shots: 1, epsilon: 1, prompts: 2, maxTokens: 4 };

test('prepareFewShot takes δ from the ledger, plans, checks the budget and writes nothing', async () => {
  const { root, ds, ledger } = await setup();
  const p = await prepareFewShot(ds, ledger, settings);
  assert.equal(p.target.units, 2000);
  assert.equal(p.status.total.delta, DEFAULT_DELTA);
  assert.equal(p.plan.settings.delta, DEFAULT_DELTA);
  assert.deepEqual(
    p.plan.labels.map((l) => l.label),
    settings.labels,
  );
  assert.equal(p.check.fits, true);
  assert.equal(p.check.spentBefore, 0);
  assert.ok(Math.abs(p.check.epsilonRun - p.plan.epsilonRun) < 1e-9);
  // The PLD composition of the count release and the stand-in steps, each meeting its share of (ε, δ): below ε.
  assert.ok(p.plan.epsilonRun <= 1 && p.plan.epsilonRun > 0.85, `ε of the run ${p.plan.epsilonRun}`);
  // A preview touches nothing: no ledger file appears.
  assert.equal(existsSync(join(root, LEDGER_DIR, LEDGER_FILE)), false);
  assert.equal((await ledger.status(p.target)).spent, 0);
});

test('prepareFewShot: an explicit δ wins, and a run over the total is reported as not fitting', async () => {
  const { ds, ledger } = await setup();
  const explicit = await prepareFewShot(ds, ledger, { ...settings, delta: 1e-6 });
  assert.equal(explicit.plan.settings.delta, 1e-6);
  const over = await prepareFewShot(ds, ledger, { ...settings, epsilon: 5 });
  assert.equal(over.check.fits, false);
  assert.ok(over.check.over > 0.4, `over by ${over.check.over}`);
});

test('chooseLabels: every label of the file only with the acknowledgement; unknown names dropped; none refused', () => {
  const file = ['a', 'b', 'c'];
  assert.deepEqual(chooseLabels(file, [], true), file);
  // The file's summary lists labels by count; all labels come back by name, so the output order hides the ranking.
  assert.deepEqual(chooseLabels(['common', 'mid', 'rare', 'Zed', 'b'], [], true), [
    'Zed',
    'b',
    'common',
    'mid',
    'rare',
  ]);
  assert.deepEqual(chooseLabels(file, ['c', 'a', 'c', 'zzz'], false), ['c', 'a']);
  assert.throws(
    () => chooseLabels(file, ['a', 'b', 'c'], false),
    (e: unknown) =>
      e instanceof UsageError && /label set public/.test(e.message) && /Use all labels/.test(e.hint ?? ''),
  );
  assert.throws(() => chooseLabels(['only'], ['only'], false), UsageError);
  assert.throws(() => chooseLabels(file, ['zzz'], false), /no labels are selected/);
  assert.deepEqual(chooseLabels(['only'], ['only'], true), ['only']);
});
