// The forms' presets (src/shared/presets.ts) plan without a warning on the example data: with the first 3 labels,
// the first 10 and all 77. (DP few-shot's "expect weak signal" comes only after the noisy pool counts, in the run,
// and cannot be avoided with 7–37 rows per label; its q = 1 warning can, and is checked here at the true counts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset, summarize } from '../../src/core/data';
import { planAugPe } from '../../src/core/augpe/plan';
import { calibrateFromCounts, planFewShot } from '../../src/core/fewshot/plan';
import { GENERATE_PRESETS, SYNTH_PRESETS, balanced, presetCount } from '../../src/shared/presets';
import { repoRoot } from '../support/cli';

// The default δ of a fresh ledger on the example data (1e-6).
const DELTA = 1e-6;

test('every preset plans without a warning on the example data', async () => {
  const ds = await loadDataset('examples/banking77-sample.csv', { root: repoRoot });
  const summary = summarize(ds);
  const all = summary.labels.map((l) => l.label);
  const sets = { 'first 3': all.slice(0, 3), 'first 10': all.slice(0, 10), 'all 77': all };
  assert.deepEqual(
    [...GENERATE_PRESETS, ...SYNTH_PRESETS].map((p) => p.title),
    ['Quick test', 'Balanced', 'Strong privacy', 'Quick test', 'Balanced', 'Strong privacy'],
  );
  for (const [name, labels] of Object.entries(sets)) {
    for (const p of SYNTH_PRESETS) {
      const v = p.values;
      const plan = planAugPe(ds, {
        labels,
        count: presetCount(v, labels.length),
        epsilon: v.epsilon,
        iterations: v.iterations,
        variations: v.variations,
        delta: DELTA,
      });
      assert.deepEqual(plan.warnings, [], `Synthesize ${p.title}, ${name}`);
    }
    for (const p of GENERATE_PRESETS) {
      const plan = planFewShot(ds, { labels, ...p.values, delta: DELTA });
      assert.deepEqual(plan.warnings, [], `Generate ${p.title}, ${name}`);
      const pools = plan.labels.map((l) => summary.labels.find((x) => x.label === l.label)!.count);
      const q1 = calibrateFromCounts(plan, pools).warnings.filter((w) => w.includes('q = 1'));
      assert.deepEqual(q1, [], `Generate ${p.title}, ${name}`);
    }
  }
});

test('the old defaults did warn (the check above can fail)', async () => {
  const ds = await loadDataset('examples/banking77-sample.csv', { root: repoRoot });
  const labels = summarize(ds)
    .labels.slice(0, 3)
    .map((l) => l.label);
  const plan = planAugPe(ds, { labels, count: 10, epsilon: 1, iterations: 10, variations: 3, delta: DELTA });
  assert.equal(plan.warnings.length, 3);
  assert.equal(balanced(SYNTH_PRESETS).name, 'balanced');
});
