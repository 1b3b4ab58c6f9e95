import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset, type Dataset } from '../../../src/core/data';
import { planFewShot, calibrateFromCounts } from '../../../src/core/fewshot/plan';
import { buildPools } from '../../../src/core/runs/pools';
import { epsilonFor } from '../../../src/core/privacy';
import { UsageError } from '../../../src/core/errors';
import { tempDir, writeFile } from '../../support/tmp';
import { repoRoot } from '../../support/cli';

const dir = tempDir();

test('the plan reads no row: a noisy count release, then σ per label from ñ for the rest of (ε, δ)', async () => {
  const ds = await loadDataset('examples/banking77-sample.csv', { root: repoRoot });
  const settings = { labels: ['card_arrival', 'exchange_rate'], shots: 2, epsilon: 4, delta: 1e-5, maxTokens: 16 };
  const plan = planFewShot(ds, settings);
  // Public parameters only: the same plan for any dataset with the same column mapping (here: no rows at all).
  const noRows: Dataset = { ...ds, examples: [] };
  assert.deepEqual(planFewShot(noRows, settings), plan);
  // The count release alone meets countShare·(ε, δ) (default 10%), as a Gaussian with sensitivity 1.
  assert.equal(plan.settings.countShare, 0.1);
  const countEps = epsilonFor([{ kind: 'gaussian', sigma: plan.counts.sigma, steps: 1 }], 1e-6);
  assert.ok(countEps <= 0.4 && countEps > 0.399, `count ε ${countEps}`);
  assert.equal(plan.counts.epsilon, 0.4);
  assert.ok(Math.abs(plan.counts.delta / 1e-6 - 1) < 1e-12);
  assert.deepEqual(
    plan.counts.charges.map((c) => c.partition),
    ['label:card_arrival', 'label:exchange_rate'],
  );
  // Reserved before anything is read: the count release plus a q = 1 stand-in for the steps (within ε).
  assert.deepEqual(
    plan.ledgerPlan.charges.map((c) => `${c.partition}/${c.mechanism.kind}`),
    [
      'label:card_arrival/gaussian',
      'label:exchange_rate/gaussian',
      'label:card_arrival/gaussian',
      'label:exchange_rate/gaussian',
    ],
  );
  assert.ok(plan.epsilonRun <= 4 && plan.epsilonRun > 3.5, `planned ε ${plan.epsilonRun}`);
  const standIn = plan.ledgerPlan.charges[2]!.mechanism;
  const standInEps = epsilonFor([standIn], 0.9e-5);
  assert.ok(standInEps <= 3.6 && standInEps > 3.599, `stand-in ε ${standInEps}`);
  assert.ok(plan.labels.every((l) => l.steps === 32 && l.partition === `label:${l.label}`));

  // The token steps: q̃ = min(1, M·N/ñ) and σ from the noisy counts alone, meeting the rest, (0.9ε, 0.9δ), alone.
  const noisy = [153.7, 61.2];
  const mech = calibrateFromCounts(plan, noisy);
  const countSpec = { kind: 'gaussian' as const, sigma: plan.counts.sigma, steps: 1 };
  mech.labels.forEach((l, i) => {
    assert.equal(l.noisyPool, noisy[i]);
    assert.equal(l.samplingRate, Math.min(1, 20 / noisy[i]!));
    assert.equal(l.steps, 32);
    const step = { kind: 'poisson-gaussian' as const, sigma: l.sigma, samplingRate: l.samplingRate, steps: l.steps };
    const eps = epsilonFor([step], 0.9e-5);
    assert.ok(eps <= 3.6 && eps > 3.59, `ε(steps) = ${eps}`);
    // Basic composition: 0.4 + 3.6 at 1e-6 + 9e-6; the PLD composition of both is below ε.
    assert.ok(epsilonFor([countSpec, step], 1e-5) <= 4);
    assert.ok(Math.abs(l.noiseStd - (l.sigma * Math.SQRT2) / 10) < 1e-12);
  });
  assert.ok(mech.epsilonRun <= 4 && mech.epsilonRun > 3.5);
  assert.deepEqual(
    mech.ledgerPlan.charges.map((c) => `${c.partition}/${c.mechanism.kind}`),
    ['label:card_arrival/poisson-gaussian', 'label:exchange_rate/poisson-gaussian'],
  );
  // The same noisy counts give the same mechanism; a larger token budget needs more noise at the same ε.
  assert.deepEqual(calibrateFromCounts(plan, noisy), mech);
  const longer = planFewShot(ds, { ...settings, labels: ['card_arrival'], maxTokens: 64 });
  assert.ok(calibrateFromCounts(longer, [153.7]).labels[0]!.sigma > mech.labels[0]!.sigma);
});

test('a privacy-unit column makes every charge sequential on the whole dataset, whether or not units span labels', async () => {
  const rows = ['uid,text,label'];
  for (let i = 0; i < 40; i++) rows.push(`u${i % 20},some text number ${i},${i < 20 ? 'a' : 'b'}`);
  const ds = await loadDataset(writeFile(dir, 'span.csv', rows.join('\n')), {
    root: dir,
    unitColumn: 'uid',
    labelColumn: 'label',
  });
  const settings = { labels: ['a', 'b'], shots: 1, epsilon: 2, delta: 1e-4, maxTokens: 8, prompts: 4 };
  const plan = planFewShot(ds, settings);
  assert.equal(plan.sequential, true);
  assert.deepEqual(
    plan.ledgerPlan.charges.map((c) => c.partition),
    ['*', '*'],
  );
  // Units that do not span labels: the same plan (spanning is private; the column mapping is not).
  const disjoint = ['uid,text,label'];
  for (let i = 0; i < 40; i++) disjoint.push(`u${i},some text number ${i},${i < 20 ? 'a' : 'b'}`);
  const ds2 = await loadDataset(writeFile(dir, 'nospan.csv', disjoint.join('\n')), {
    root: dir,
    unitColumn: 'uid',
    labelColumn: 'label',
  });
  assert.deepEqual(planFewShot(ds2, settings), plan);
  const mech = calibrateFromCounts(plan, [14.1, 14.1]);
  // Both labels' steps together meet the steps' share (0.9ε, 0.9δ); with the counts, at most ε by PLD too.
  const steps = epsilonFor(
    mech.ledgerPlan.charges.map((c) => c.mechanism),
    0.9e-4,
  );
  assert.ok(steps <= 1.8 + 1e-9 && steps > 1.79, `steps ε ${steps}`);
  const eps = epsilonFor(
    [...plan.counts.charges, ...mech.ledgerPlan.charges].map((c) => c.mechanism),
    1e-4,
  );
  assert.ok(eps <= 2, `composed ε ${eps}`);
  assert.ok(Math.abs(eps - mech.epsilonRun) < 1e-9);
  assert.ok(mech.ledgerPlan.charges.every((c) => c.partition === '*'));
  const { pools } = buildPools(ds, ['a']);
  // 20 users each with rows in both labels: the pool is made of units, each unit holding only its label-a rows.
  assert.equal(pools.get('a')!.length, 20);
  assert.ok(pools.get('a')!.every((u) => u.texts.length === 1));
});

test('the plan refuses bad numbers and an empty label list; small or empty noisy pools only warn', async () => {
  const ds = await loadDataset('examples/banking77-sample.csv', { root: repoRoot });
  // Whether a named label has rows is private: the plan does not look (the noisy count tells, see below).
  assert.doesNotThrow(() => planFewShot(ds, { labels: ['no_such_label'], shots: 1, epsilon: 1, delta: 1e-5 }));
  assert.throws(() => planFewShot(ds, { labels: [], shots: 1, epsilon: 1, delta: 1e-5 }), UsageError);
  assert.throws(() => planFewShot(ds, { labels: ['card_arrival'], shots: 0, epsilon: 1, delta: 1e-5 }), UsageError);
  assert.throws(() => planFewShot(ds, { labels: ['card_arrival'], shots: 1, epsilon: 0, delta: 1e-5 }), UsageError);
  assert.throws(
    () => planFewShot(ds, { labels: ['card_arrival'], shots: 1, epsilon: 1, delta: 1e-5, countShare: 1 }),
    UsageError,
  );
  const small = planFewShot(ds, { labels: ['card_arrival'], shots: 1, epsilon: 1, delta: 1e-5, prompts: 40 });
  const m = calibrateFromCounts(small, [37.5]);
  assert.equal(m.labels[0]!.samplingRate, 1);
  assert.ok(m.warnings.some((w) => /no amplification by subsampling/.test(w)));
  const empty = calibrateFromCounts(small, [-3.2]);
  assert.equal(empty.labels[0]!.samplingRate, 1);
  assert.ok(empty.warnings.some((w) => /may be misspelled/.test(w)));
});
