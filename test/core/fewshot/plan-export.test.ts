import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../../../src/core/data';
import { planFewShot, buildPools } from '../../../src/core/fewshot/plan';
import { epsilonFor } from '../../../src/core/privacy';
import { UsageError, UserError } from '../../../src/core/errors';
import { tempDir, writeFile } from '../../support/tmp';
import { repoRoot } from '../../support/cli';

const dir = tempDir();

test('the plan calibrates σ per label so each pool alone meets ε, with q = M·N/|pool| and T = shots × T_max', async () => {
  const ds = await loadDataset('examples/banking77-sample.csv', { root: repoRoot });
  const plan = planFewShot(ds, {
    labels: ['card_arrival', 'exchange_rate'],
    shots: 2,
    epsilon: 4,
    delta: 1e-5,
    maxTokens: 16,
  });
  const { pools } = buildPools(ds, ['card_arrival', 'exchange_rate']);
  for (const l of plan.labels) {
    const pool = pools.get(l.label)!.length;
    assert.equal(l.poolUnits, pool);
    assert.equal(l.samplingRate, Math.min(1, 20 / pool));
    assert.equal(l.steps, 32);
    assert.equal(l.partition, `label:${l.label}`);
    const eps = epsilonFor(
      [{ kind: 'poisson-gaussian', sigma: l.sigma, samplingRate: l.samplingRate, steps: l.steps }],
      1e-5,
    );
    assert.ok(eps <= 4 && eps > 3.98, `ε(σ) = ${eps}`);
    assert.ok(Math.abs(l.noiseStd - (l.sigma * Math.SQRT2) / 10) < 1e-12);
  }
  assert.ok(plan.epsilonRun <= 4 && plan.epsilonRun > 3.98);
  assert.deepEqual(
    plan.ledgerPlan.charges.map((c) => c.partition),
    ['label:card_arrival', 'label:exchange_rate'],
  );
  // A larger token budget needs more noise at the same ε.
  const longer = planFewShot(ds, { labels: ['card_arrival'], shots: 2, epsilon: 4, delta: 1e-5, maxTokens: 64 });
  assert.ok(longer.labels[0]!.sigma > plan.labels[0]!.sigma);
});

test('privacy units that span labels make every charge sequential on the whole dataset', async () => {
  const rows = ['uid,text,label'];
  for (let i = 0; i < 40; i++) rows.push(`u${i % 20},some text number ${i},${i < 20 ? 'a' : 'b'}`);
  const ds = await loadDataset(writeFile(dir, 'span.csv', rows.join('\n')), {
    root: dir,
    unitColumn: 'uid',
    labelColumn: 'label',
  });
  const plan = planFewShot(ds, { labels: ['a', 'b'], shots: 1, epsilon: 2, delta: 1e-4, maxTokens: 8, prompts: 4 });
  assert.equal(plan.sequential, true);
  assert.deepEqual(
    plan.ledgerPlan.charges.map((c) => c.partition),
    ['*', '*'],
  );
  const eps = epsilonFor(
    plan.ledgerPlan.charges.map((c) => c.mechanism),
    1e-4,
  );
  assert.ok(eps <= 2 + 1e-9, `composed ε ${eps}`);
  assert.ok(Math.abs(eps - plan.epsilonRun) < 1e-9);
  const { pools } = buildPools(ds, ['a']);
  // 20 users each with rows in both labels: the pool is made of units, each unit holding only its label-a rows.
  assert.equal(pools.get('a')!.length, 20);
  assert.ok(pools.get('a')!.every((u) => u.texts.length === 1));
});

test('the plan refuses unknown labels, bad numbers and an empty label list with actionable errors', async () => {
  const ds = await loadDataset('examples/banking77-sample.csv', { root: repoRoot });
  assert.throws(
    () => planFewShot(ds, { labels: ['no_such_label'], shots: 1, epsilon: 1, delta: 1e-5 }),
    (e) => e instanceof UserError && /no rows have the label/.test(e.message),
  );
  assert.throws(() => planFewShot(ds, { labels: [], shots: 1, epsilon: 1, delta: 1e-5 }), UsageError);
  assert.throws(() => planFewShot(ds, { labels: ['card_arrival'], shots: 0, epsilon: 1, delta: 1e-5 }), UsageError);
  assert.throws(() => planFewShot(ds, { labels: ['card_arrival'], shots: 1, epsilon: 0, delta: 1e-5 }), UsageError);
  const small = planFewShot(ds, { labels: ['card_arrival'], shots: 1, epsilon: 1, delta: 1e-5, prompts: 40 });
  assert.equal(small.labels[0]!.samplingRate, 1);
  assert.ok(small.warnings.some((w) => /no amplification by subsampling/.test(w)));
});
