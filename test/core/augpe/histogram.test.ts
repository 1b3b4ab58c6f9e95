import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  nearestNeighbours,
  privatizeHistogram,
  rankSelect,
  toMatrix,
  voteHistograms,
  type Matrix,
  type Metric,
  type VoteGroup,
} from '../../../src/core/augpe/histogram';
import { seededRandom } from '../../support/rng';
import { testNormal, testRng } from '../../support/rng';

type Rng = ReturnType<typeof testRng>;
const int = (rng: Rng, n: number) => rng.nextUint32() % n;

function randomMatrix(rng: Rng, rows: number, dim: number): Matrix {
  const normal = testNormal(rng);
  return toMatrix(
    Array.from({ length: rows }, () => Array.from({ length: dim }, () => normal(1))),
    dim,
  );
}

/** Brute force in float64 for the reference: distances sorted, ties by index. */
function bruteForce(q: Matrix, c: Matrix, k: number, metric: Metric): number[][] {
  const row = (m: Matrix, i: number) => Array.from(m.data.subarray(i * m.dim, (i + 1) * m.dim));
  const norm = (v: number[]) => Math.sqrt(v.reduce((a, x) => a + x * x, 0)) || 1;
  return Array.from({ length: q.rows }, (_, i) => {
    const x = row(q, i);
    const d = Array.from({ length: c.rows }, (_, j) => {
      const y = row(c, j);
      if (metric === 'l2') return y.reduce((a, yv, t) => a + (x[t]! - yv) ** 2, 0);
      return -y.reduce((a, yv, t) => a + x[t]! * yv, 0) / (norm(x) * norm(y));
    });
    return d
      .map((v, j) => ({ v, j }))
      .sort((a, b) => a.v - b.v || a.j - b.j)
      .slice(0, k)
      .map((e) => e.j);
  });
}

test('nearest neighbours match a brute-force search (L2 and cosine, k = 1 and 3)', () => {
  const rng = testRng('nn');
  for (const metric of ['l2', 'cosine'] as const) {
    for (const k of [1, 3]) {
      for (let trial = 0; trial < 20; trial++) {
        const dim = 1 + int(rng, 9);
        const q = randomMatrix(rng, 1 + int(rng, 12), dim);
        const c = randomMatrix(rng, k + int(rng, 10), dim);
        const got = nearestNeighbours(q, c, k, metric);
        const want = bruteForce(q, c, k, metric);
        for (let i = 0; i < q.rows; i++)
          assert.deepEqual(Array.from(got.subarray(i * k, (i + 1) * k)), want[i], `${metric} k=${k} row ${i}`);
      }
    }
  }
});

test('equal distances go to the lower index; L2 and cosine differ where norms differ', () => {
  const q = toMatrix([[1, 0]]);
  const tied = toMatrix([
    [0, 1],
    [0, -1],
    [1, 0],
    [1, 0],
  ]);
  assert.deepEqual(Array.from(nearestNeighbours(q, tied, 3, 'l2')), [2, 3, 0]);
  // Same direction, different length: cosine ties them (lower index wins), L2 prefers the one at distance 0.
  const c = toMatrix([
    [5, 0],
    [1, 0],
  ]);
  assert.deepEqual(Array.from(nearestNeighbours(q, c, 1, 'l2')), [1]);
  assert.deepEqual(Array.from(nearestNeighbours(q, c, 1, 'cosine')), [0]);
});

/** A random iteration: 1–3 labels, candidates per label, private rows with units (own unit per row, or shared). */
function randomGroups(rng: Rng, unitColumn: boolean, dim: number): VoteGroup[] {
  const labels = 1 + int(rng, 3);
  const unitPool = 1 + int(rng, 6);
  let row = 0;
  return Array.from({ length: labels }, () => {
    const rows = int(rng, 10);
    const units = Array.from({ length: rows }, () => (unitColumn ? `u${int(rng, unitPool)}` : `row${row++}`));
    return { private: randomMatrix(rng, rows, dim), units, candidates: randomMatrix(rng, 1 + int(rng, 6), dim) };
  });
}

function without(groups: VoteGroup[], unit: string): VoteGroup[] {
  return groups.map((g) => {
    const keep = g.units.map((u, i) => (u === unit ? -1 : i)).filter((i) => i >= 0);
    const rows = keep.map((i) => g.private.data.subarray(i * g.private.dim, (i + 1) * g.private.dim));
    return { private: toMatrix(rows, g.private.dim), units: keep.map((i) => g.units[i]!), candidates: g.candidates };
  });
}

function l2Diff(a: Float64Array[], b: Float64Array[]): number {
  let s = 0;
  a.forEach((h, gi) => h.forEach((x, j) => (s += (x - b[gi]![j]!) ** 2)));
  return Math.sqrt(s);
}

test('sensitivity: adding or removing one privacy unit moves the clean histograms by L2 norm exactly 1 (property test)', () => {
  const rng = testRng('sensitivity');
  let checked = 0;
  for (const unitColumn of [false, true]) {
    for (const k of [1, 3]) {
      for (const metric of ['l2', 'cosine'] as const) {
        for (let trial = 0; trial < 40; trial++) {
          const dim = 2 + int(rng, 6);
          const groups = randomGroups(rng, unitColumn, dim);
          const full = voteHistograms(groups, k, metric);
          // Each unit casts total mass ‖v‖₁ ≤ √(votes) but always ‖v‖₂ = 1.
          for (const unit of new Set(groups.flatMap((g) => g.units))) {
            const d = l2Diff(full, voteHistograms(without(groups, unit), k, metric));
            assert.ok(
              Math.abs(d - 1) < 1e-9,
              `unit ${unit}: ‖Δh‖₂ = ${d} (unit column ${unitColumn}, k ${k}, ${metric})`,
            );
            checked++;
          }
        }
      }
    }
  }
  assert.ok(checked > 300, `checked ${checked} neighbouring pairs`);
});

test('without a unit column each row casts k votes of 1/√k; with one, a unit that votes twice for one candidate counts 1', () => {
  const cands = toMatrix([
    [0, 0],
    [1, 0],
    [2, 0],
    [9, 9],
  ]);
  const [h] = voteHistograms([{ private: toMatrix([[0.9, 0]]), units: ['r1'], candidates: cands }], 3, 'l2');
  const r = 1 / Math.sqrt(3);
  assert.deepEqual(
    Array.from(h!).map((x) => +x.toFixed(12)),
    [r, r, r, 0].map((x) => +x.toFixed(12)),
  );
  // One unit, two rows, both nearest to candidate 0, k = 1: raw vector (2) is normalised to (1).
  const [u] = voteHistograms(
    [
      {
        private: toMatrix([
          [0.1, 0],
          [0, 0.1],
        ]),
        units: ['alice', 'alice'],
        candidates: cands,
      },
    ],
    1,
    'l2',
  );
  assert.deepEqual(Array.from(u!), [1, 0, 0, 0]);
  // A unit spanning two labels: its vote vector across both is normalised jointly (1/√2 each).
  const two = voteHistograms(
    [
      { private: toMatrix([[0, 0]]), units: ['bob'], candidates: cands },
      { private: toMatrix([[9, 9]]), units: ['bob'], candidates: cands },
    ],
    1,
    'l2',
  );
  assert.ok(Math.abs(two[0]![0]! - Math.SQRT1_2) < 1e-12 && Math.abs(two[1]![3]! - Math.SQRT1_2) < 1e-12);
  // k larger than the candidate count is clamped (still norm 1).
  const [c] = voteHistograms(
    [
      {
        private: toMatrix([[0, 0]]),
        units: ['r'],
        candidates: toMatrix([
          [0, 0],
          [1, 1],
        ]),
      },
    ],
    5,
    'l2',
  );
  assert.ok(Math.abs(Math.hypot(...c!) - 1) < 1e-12);
});

/** z-scores of the mean and of the χ² statistic of (noisy − clean)/σ over n draws. */
function noiseStats(
  sigmaUsed: number,
  sigmaClaimed: number,
  n: number,
  seed: string,
): { zMean: number; zChi2: number } {
  // Clean counts far above 0 so the threshold max(h̃, 0) never clips.
  const clean = Float64Array.from({ length: n }, (_, i) => 1000 + (i % 7));
  const noisy = privatizeHistogram(clean, sigmaUsed, seededRandom(seed), 0);
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const z = (noisy[i]! - clean[i]!) / sigmaClaimed;
    sum += z;
    sq += z * z;
  }
  // Σz² ~ χ²(n): mean n, variance 2n; Σz ~ N(0, n).
  return { zMean: sum / Math.sqrt(n), zChi2: (sq - n) / Math.sqrt(2 * n) };
}

test('noise scale: the empirical std of noisy − clean is σ (χ² test), and a halved or √k-inflated σ is caught', () => {
  const n = 20_000;
  const sigma = 2.5;
  const ok = noiseStats(sigma, sigma, n, 'noise-ok');
  assert.ok(Math.abs(ok.zMean) < 4.5 && Math.abs(ok.zChi2) < 4.5, JSON.stringify(ok));
  const half = noiseStats(sigma / 2, sigma, n, 'noise-half');
  assert.ok(half.zChi2 < -20, `half the noise must be caught: ${JSON.stringify(half)}`);
  const inflated = noiseStats(sigma * Math.sqrt(3), sigma, n, 'noise-sqrtk');
  assert.ok(inflated.zChi2 > 20, `√k·σ must be caught: ${JSON.stringify(inflated)}`);
});

test('threshold H: released counts are max(h̃, H) − H', () => {
  const clean = Float64Array.from({ length: 2000 }, (_, i) => (i % 2 ? 0 : 10));
  const h0 = privatizeHistogram(clean, 1, seededRandom('th0'), 0);
  assert.ok(h0.every((x) => x >= 0));
  assert.ok(
    h0.some((x) => x === 0),
    'zero counts with noise go below 0 about half the time and are clipped',
  );
  const rngA = seededRandom('th5');
  const rngB = seededRandom('th5');
  const raw = privatizeHistogram(clean, 1, rngA, 0);
  const h5 = privatizeHistogram(clean, 1, rngB, 5);
  // Same noise stream: the thresholded value is max(raw', 5) − 5 where raw' is the unclipped noisy count.
  for (let i = 0; i < clean.length; i++) {
    if (raw[i]! > 0) assert.equal(h5[i], Math.max(raw[i]!, 5) - 5);
    else assert.equal(h5[i], 0);
  }
  assert.throws(() => privatizeHistogram(clean, 1, seededRandom('x'), -1), /threshold/);
});

test('rank selection: top m by noisy count, ties in index order', () => {
  assert.deepEqual(rankSelect([1, 5, 5, 0, 7, 5], 4), [4, 1, 2, 5]);
  assert.deepEqual(rankSelect([0, 0, 0], 2), [0, 1]);
  assert.deepEqual(rankSelect([3, 1], 5), [0, 1]);
  assert.deepEqual(rankSelect([3, 1], 0), []);
});
