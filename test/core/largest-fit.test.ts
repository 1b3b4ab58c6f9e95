import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadDataset } from '../../src/core/data';
import { planFewShot } from '../../src/core/fewshot/plan';
import { prepareFewShot } from '../../src/core/fewshot/prepare';
import { largestEpsilonFor, largestFittingEpsilon, roundDown2 } from '../../src/core/largest-fit';
import { Ledger, defaultAccountant } from '../../src/core/ledger';
import { tempDir, writeFile } from '../support/tmp';
import { repoRoot } from '../support/cli';

test('roundDown2 rounds down to two significant digits', () => {
  assert.equal(roundDown2(0.387), 0.38);
  assert.equal(Number(roundDown2(1.26).toPrecision(2)), 1.2);
  assert.equal(Number(roundDown2(0.38).toPrecision(2)), 0.38);
  assert.equal(roundDown2(0), 0);
});

test('largestFittingEpsilon finds the boundary of a monotone check, on the admitted side', async () => {
  const tried: number[] = [];
  const fits = (e: number) => {
    tried.push(e);
    return Promise.resolve(e <= 0.4321);
  };
  const x = await largestFittingEpsilon({ fits, requested: 1 });
  assert.equal(x, 0.43);
  assert.ok(tried.length < 20, `${tried.length} checks`);
  assert.equal(await largestFittingEpsilon({ fits: () => Promise.resolve(false), requested: 1 }), undefined);
});

test('the largest ε that fits a refused DP few-shot run is admitted by the ledger, and 12 % more is not', async () => {
  const root = tempDir('pfs-largest-');
  writeFile(root, 'data.csv', readFileSync(`${repoRoot}/examples/banking77-sample.csv`));
  const ds = await loadDataset('data.csv', { root });
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  const settings = { labels: ['card_arrival', 'exchange_rate'], shots: 1, epsilon: 1, prompts: 2, maxTokens: 4 };
  const first = await prepareFewShot(ds, ledger, settings);
  await ledger.setTotal(first.target, { epsilon: 0.5 });
  const refused = await prepareFewShot(ds, ledger, settings);
  assert.equal(refused.check.fits, false);
  const delta = refused.status.total.delta;
  const plan = (epsilon: number) => planFewShot(ds, { ...settings, epsilon, delta });
  const x = await largestEpsilonFor(ledger, refused.target, 1, plan);
  assert.ok(x !== undefined && x > 0.3 && x < 1, `largest ${x}`);
  assert.equal((await ledger.check(refused.target, plan(x).ledgerPlan)).fits, true);
  assert.equal((await ledger.check(refused.target, plan(x * 1.12).ledgerPlan)).fits, false);
  // Nothing was reserved by the search.
  assert.equal((await ledger.status(refused.target)).spent, 0);
});
