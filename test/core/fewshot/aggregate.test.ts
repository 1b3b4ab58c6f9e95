import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noisyArgmax, restrictToCandidates } from '../../../src/core/fewshot/aggregate';

test('restricting to the candidate set renormalises, and missing candidates get 0', () => {
  const d = restrictToCandidates(
    [
      { token: ' a', logprob: Math.log(0.5) },
      { token: ' z', logprob: Math.log(0.3) },
      { token: ' b', logprob: Math.log(0.1) },
    ],
    [' a', ' b', ' c'],
  );
  assert.deepEqual(
    [...d].map((x) => +x.toFixed(12)),
    [0.833333333333, 0.166666666667, 0],
  );
  assert.deepEqual([...restrictToCandidates([{ token: ' z', logprob: -1 }], [' a', ' b'])], [0, 0]);
  // -Infinity (an "absent" marker after parsing) is ignored rather than producing NaN.
  assert.deepEqual(
    [
      ...restrictToCandidates(
        [
          { token: ' a', logprob: -Infinity },
          { token: ' b', logprob: 0 },
        ],
        [' a', ' b'],
      ),
    ],
    [0, 1],
  );
});

test('noisy argmax averages, adds noise of std σ·√2/M to every candidate, and picks only among candidates', () => {
  const seen: number[] = [];
  const dists = [new Float64Array([0.5, 0.5]), new Float64Array([0.5, 0.5]), new Float64Array([0.8, 0.2])];
  const pick = noisyArgmax(dists, 3, 1.5, (std) => {
    seen.push(std);
    return 0;
  });
  assert.equal(pick, 0); // means 0.6 vs 0.4, no noise
  assert.deepEqual(seen, [(1.5 * Math.SQRT2) / 3, (1.5 * Math.SQRT2) / 3]);
  const flipped = noisyArgmax(
    dists,
    3,
    1.5,
    (() => {
      let i = 0;
      return () => (i++ === 1 ? 0.21 : 0); // pushes candidate 1 from 0.4 to 0.61
    })(),
  );
  assert.equal(flipped, 1);
  // Every noisy score may be negative: the choice is still a candidate index.
  assert.equal(
    noisyArgmax([new Float64Array([0, 0, 0])], 1, 1, () => -5),
    0,
  );
  assert.throws(() => noisyArgmax(dists, 4, 1, () => 0));
});
