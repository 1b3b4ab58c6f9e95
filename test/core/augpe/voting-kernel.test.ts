// Wiring: Aug-PE's vote histograms go through the blocked kernel, and every private row votes for exactly the
// candidates the plain reference loop picks (a wrong neighbour moves a vote, so the released histogram would change).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  nearestNeighbours,
  nearestNeighboursReference,
  voteHistograms,
  voteHistogramsAsync,
  type Matrix,
} from '../../../src/core/augpe/histogram';
import { testNormal, testRng } from '../../support/rng';

function gaussian(seed: string, rows: number, dim: number): Matrix {
  const normal = testNormal(testRng(seed));
  return { rows, dim, data: Float32Array.from({ length: rows * dim }, () => normal(1)) };
}

/** The clean histogram from the reference neighbours, one unit per row: 1/√k per vote (histogram.ts). */
function referenceHistogram(q: Matrix, c: Matrix, k: number, metric: 'l2' | 'cosine'): number[] {
  const nn = nearestNeighboursReference(q, c, k, metric);
  const h = new Array<number>(c.rows).fill(0);
  for (const j of nn) h[j]! += 1 / Math.sqrt(k);
  return h;
}

test('vote histograms equal the reference neighbours’ votes (both metrics, k = 1 and 4, the last row and column)', () => {
  // 1029 candidates: the default 1024-candidate block plus a partial one; 259 private rows: a 256-row query block
  // plus a partial one; 37 dimensions: not a multiple of 4.
  const c = gaussian('vk-c', 1029, 37);
  const q = gaussian('vk-q', 259, 37);
  // The last private row sits on the last candidate, so an off-by-one at either tile edge moves its vote.
  q.data.set(c.data.subarray(1028 * 37, 1029 * 37), 258 * 37);
  for (const metric of ['l2', 'cosine'] as const) {
    for (const k of [1, 4]) {
      const [h] = voteHistograms(
        [{ private: q, units: Array.from({ length: q.rows }, (_, i) => `u${i}`), candidates: c }],
        k,
        metric,
      );
      const want = referenceHistogram(q, c, k, metric);
      assert.deepEqual(Array.from(h!), want, `${metric} k=${k}`);
    }
    assert.equal(nearestNeighbours(q, c, 1, metric)[258], 1028);
  }
});

test('nearestNeighbours (kernel) and nearestNeighboursReference agree at d = 384 with tiny blocks', () => {
  const c = gaussian('vk-c384', 45, 384);
  const q = gaussian('vk-q384', 21, 384);
  for (const metric of ['l2', 'cosine'] as const) {
    const want = Array.from(nearestNeighboursReference(q, c, 3, metric));
    assert.deepEqual(Array.from(nearestNeighbours(q, c, 3, metric)), want);
    assert.deepEqual(
      Array.from(nearestNeighbours(q, c, 3, metric, { queryBlock: 4, candidateBlock: 8, depthBlock: 7 })),
      want,
    );
  }
});

test('voteHistogramsAsync on worker threads gives voteHistograms’ histograms (two labels, one unit spanning both)', async () => {
  const c1 = gaussian('vk-a1', 30, 11);
  const c2 = gaussian('vk-a2', 17, 11);
  const q1 = gaussian('vk-b1', 41, 11);
  const q2 = gaussian('vk-b2', 9, 11);
  const groups = [
    { private: q1, units: Array.from({ length: 41 }, (_, i) => `u${i % 20}`), candidates: c1 },
    { private: q2, units: Array.from({ length: 9 }, (_, i) => `u${i}`), candidates: c2 },
  ];
  const want = voteHistograms(groups, 2, 'l2').map((h) => Array.from(h));
  const got = await voteHistogramsAsync(groups, 2, 'l2', { threads: 2, minWork: 0 });
  assert.deepEqual(
    got.map((h) => Array.from(h)),
    want,
  );
});
