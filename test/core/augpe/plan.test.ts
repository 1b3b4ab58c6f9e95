import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset, Example } from '../../../src/core/data';
import { allocateCounts, planAugPe } from '../../../src/core/augpe/plan';
import { conventionalDelta } from '../../../src/core/ledger';
import { epsilonFor, gaussianEpsilon } from '../../../src/core/privacy';

/** An in-memory dataset: `rows` rows split over labels by `weights`, optionally with a unit column. */
function fakeDataset(
  rows: number,
  labels: string[],
  o: { weights?: number[]; unitOf?: (i: number, label: string) => string } = {},
): Dataset {
  const w = o.weights ?? labels.map(() => 1);
  const total = w.reduce((a, x) => a + x, 0);
  const examples: Example[] = [];
  let li = 0;
  let acc = 0;
  for (let i = 0; i < rows; i++) {
    while (li < labels.length - 1 && i >= Math.round(((acc + w[li]!) / total) * rows)) acc += w[li++]!;
    const label = labels[li]!;
    examples.push({ line: i + 2, text: `text ${i}`, label, unit: o.unitOf ? o.unitOf(i, label) : String(i + 2) });
  }
  return {
    file: 'fake.csv',
    format: 'csv',
    columns: {
      text: 'text',
      label: 'label',
      ...(o.unitOf ? { unit: 'user' } : {}),
      available: ['text', 'label'],
    } as Dataset['columns'],
    examples,
    skipped: [],
    duplicatesRemoved: 0,
    identity: { path: 'fake.csv', contentSha256: '0'.repeat(64), bytes: 1 },
  };
}

test('σ for the Aug-PE test vectors (analytic GDP, δ = 1/(N ln N)) comes out of the planner', () => {
  // docs/BACKGROUND.md §5.2 (recomputed with the upstream analytic formula).
  const vectors: { n: number; t: number; eps: number; sigma: number }[] = [
    { n: 8396, t: 10, eps: 1, sigma: 11.6 },
    { n: 8396, t: 10, eps: 2, sigma: 6.211 },
    { n: 8396, t: 10, eps: 4, sigma: 3.374 },
    { n: 8396, t: 20, eps: 1, sigma: 16.405 },
    { n: 75316, t: 10, eps: 1, sigma: 13.251 },
    { n: 75316, t: 20, eps: 1, sigma: 18.739 },
    { n: 1000, t: 5, eps: 1, sigma: 6.9149 },
  ];
  const cache = new Map<number, Dataset>();
  for (const v of vectors) {
    const ds = cache.get(v.n) ?? fakeDataset(v.n, ['a', 'b']);
    cache.set(v.n, ds);
    const delta = conventionalDelta(v.n);
    if (v.n === 8396) assert.ok(Math.abs(delta - 1.3182e-5) < 5e-10);
    const plan = planAugPe(ds, { labels: ['a', 'b'], count: 10, epsilon: v.eps, delta, iterations: v.t });
    const digits = v.sigma === 6.9149 ? 5e-5 : 5e-4;
    assert.ok(Math.abs(plan.sigma - v.sigma) < digits, `N ${v.n}, T ${v.t}, ε ${v.eps}: σ ${plan.sigma} vs ${v.sigma}`);
    // The run's ε is the analytic-Gaussian ε of μ = √T/σ, and it meets the target (from below, tightly).
    assert.equal(plan.mu, Math.sqrt(v.t) / plan.sigma);
    assert.equal(plan.epsilonRun, gaussianEpsilon(delta, Math.sqrt(v.t) / plan.sigma));
    assert.ok(plan.epsilonRun <= v.eps && plan.epsilonRun > v.eps - 1e-9, `ε ${plan.epsilonRun}`);
  }
  // The notes' check column: σ = 11.60 at N 8396, T 10 gives ε = 1.0000.
  assert.ok(
    Math.abs(epsilonFor([{ kind: 'gaussian', sigma: 11.6, steps: 10 }], conventionalDelta(8396), 'gdp') - 1) < 5e-5,
  );
});

test('ledger plan: one gaussian charge of T steps per label pool, or one on the whole dataset with a unit column', () => {
  const labels = ['x', 'y', 'z'];
  const rows = fakeDataset(300, labels);
  const p = planAugPe(rows, { labels: ['x', 'z'], count: 6, epsilon: 2, delta: 1e-4, iterations: 7 });
  assert.equal(p.ledgerPlan.algorithm, 'aug-pe');
  assert.deepEqual(p.ledgerPlan.charges, [
    { partition: 'label:x', mechanism: { kind: 'gaussian', sigma: p.sigma, steps: 7 } },
    { partition: 'label:z', mechanism: { kind: 'gaussian', sigma: p.sigma, steps: 7 } },
  ]);
  assert.equal(p.sequential, false);
  // A unit column whose units stay inside one label: also one joint charge, because whether units span labels is
  // private and may not choose the mechanism's composition.
  const inLabel = fakeDataset(300, labels, { unitOf: (i, l) => `${l}-${i % 10}` });
  assert.deepEqual(
    planAugPe(inLabel, { labels: ['x'], count: 3, epsilon: 2, delta: 1e-4 }).ledgerPlan.charges.map((c) => c.partition),
    ['*'],
  );
  // Units spanning labels (even a label not in the run): one charge on "*", with the same σ and T (joint
  // normalisation).
  const spanning = fakeDataset(300, labels, { unitOf: (i) => `user${i % 40}` });
  const s = planAugPe(spanning, { labels: ['x', 'y'], count: 4, epsilon: 2, delta: 1e-4, iterations: 5 });
  assert.equal(s.sequential, true);
  assert.deepEqual(s.ledgerPlan.charges, [
    { partition: '*', mechanism: { kind: 'gaussian', sigma: s.sigma, steps: 5 } },
  ]);
  assert.equal(s.epsilonRun, epsilonFor([{ kind: 'gaussian', sigma: s.sigma, steps: 5 }], 1e-4, 'gdp'));
  assert.ok(s.warnings.some((w) => /normalised across all its labels/.test(w)));
});

test('class sizes: equal split or public fractions, floor plus largest remainder — never the private label counts', () => {
  assert.deepEqual(allocateCounts(10, [1, 1, 1]), [4, 3, 3]);
  assert.deepEqual(allocateCounts(11, [1, 1, 1]), [4, 4, 3]);
  assert.deepEqual(allocateCounts(10, [0.3, 0.7]), [3, 7]);
  assert.deepEqual(allocateCounts(7, [3, 7]), [2, 5]);
  for (let n = 1; n < 50; n++)
    assert.equal(
      allocateCounts(n, [0.2, 0.5, 0.3]).reduce((a, b) => a + b, 0),
      n,
    );
  // Two datasets with very different private label proportions get the same class sizes.
  const balanced = planAugPe(fakeDataset(200, ['a', 'b']), { labels: ['a', 'b'], count: 9, epsilon: 1, delta: 1e-4 });
  const skewed = planAugPe(fakeDataset(200, ['a', 'b'], { weights: [9, 1] }), {
    labels: ['a', 'b'],
    count: 9,
    epsilon: 1,
    delta: 1e-4,
  });
  assert.notEqual(balanced.labels[0]!.rows, skewed.labels[0]!.rows);
  assert.deepEqual(
    balanced.labels.map((l) => l.count),
    [5, 4],
  );
  assert.deepEqual(
    skewed.labels.map((l) => l.count),
    [5, 4],
  );
  const fr = planAugPe(fakeDataset(200, ['a', 'b']), {
    labels: ['a', 'b'],
    count: 10,
    fractions: [1, 4],
    epsilon: 1,
    delta: 1e-4,
    variations: 2,
  });
  assert.deepEqual(
    fr.labels.map((l) => [l.count, l.population]),
    [
      [2, 6],
      [8, 24],
    ],
  );
  // Estimate: initial L·n_c, then (T−1)(L−1)n_c completions per label.
  assert.equal(fr.estimate.completions, 30 + 9 * 2 * 10);
});

test('planner refusals name the problem', () => {
  const ds = fakeDataset(100, ['a', 'b']);
  const base = { labels: ['a', 'b'], count: 4, epsilon: 1, delta: 1e-4 };
  assert.throws(() => planAugPe(ds, { ...base, labels: [] }), /no labels/);
  assert.throws(() => planAugPe(ds, { ...base, labels: ['a', 'a'] }), /named twice/);
  // An empty pool is private: a local warning, not a refusal.
  assert.ok(
    planAugPe(ds, { ...base, labels: ['a', 'nope'] }).warnings.some((w) =>
      /local only.*no rows have the label/.test(w),
    ),
  );
  assert.throws(() => planAugPe(ds, { ...base, count: 1 }), /smaller than the number of labels/);
  assert.throws(() => planAugPe(ds, { ...base, fractions: [1] }), /1 fraction\(s\) for 2 label/);
  assert.throws(() => planAugPe(ds, { ...base, fractions: [1, 0] }), /positive/);
  assert.throws(() => planAugPe(ds, { ...base, count: 3, fractions: [1, 100] }), /no record to "a"/);
  assert.throws(() => planAugPe(ds, { ...base, epsilon: 0 }), /ε must be a positive/);
  assert.throws(() => planAugPe(ds, { ...base, iterations: 0 }), /iterations/);
  assert.throws(() => planAugPe(ds, { ...base, metric: 'ip' as never }), /metric/);
  assert.throws(() => planAugPe(ds, { ...base, maskProbability: 0 }), /mask probability/);
});

test('a warning when σ dwarfs the votes a candidate can get (local: it uses private counts)', () => {
  const ds = fakeDataset(40, ['a', 'b']);
  const weak = planAugPe(ds, { labels: ['a', 'b'], count: 10, epsilon: 0.5, delta: 1e-3 });
  assert.ok(weak.warnings.some((w) => /mostly noise/.test(w)));
  const strong = planAugPe(fakeDataset(4000, ['a', 'b']), {
    labels: ['a', 'b'],
    count: 4,
    epsilon: 4,
    delta: 1e-5,
    iterations: 2,
  });
  assert.ok(!strong.warnings.some((w) => /mostly noise/.test(w)), strong.warnings.join('\n'));
});
