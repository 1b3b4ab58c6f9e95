// The blocked WebAssembly kernel against the plain reference loop (src/core/vector/knn.ts): the same neighbours, in
// the same order, ties to the lower index, for random data, ties, near-ties that float32 cannot separate, every
// tile edge and dimensions that are not multiples of the block sizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  prepareCandidates,
  quantLimit,
  squaredNorms,
  topK,
  topKReference,
  type KnnBlocks,
  type Matrix,
} from '../../../src/core/vector/knn';
import { topKParallel } from '../../../src/core/vector/knnParallel';
import { testNormal, testRng } from '../../support/rng';

type Rng = ReturnType<typeof testRng>;
const int = (rng: Rng, n: number) => rng.nextUint32() % n;

function gaussian(rng: Rng, rows: number, dim: number): Matrix {
  const normal = testNormal(rng);
  return { rows, dim, data: Float32Array.from({ length: rows * dim }, () => normal(1)) };
}
const l2 = (c: Matrix) => ({ bias: squaredNorms(c), factor: 2 });
const dot = (c: Matrix) => ({ bias: new Float64Array(c.rows), factor: 1 });

// Tiny blocks put many tile edges (query rows, candidate columns, depth chunks) inside small problems.
const TINY: KnnBlocks = { queryBlock: 4, candidateBlock: 8, depthBlock: 3 };
const SMALL: KnnBlocks = { queryBlock: 8, candidateBlock: 16, depthBlock: 5 };

function same(q: Matrix, c: Matrix, k: number, blocks: KnnBlocks | undefined, what: string, score = l2(c)) {
  const want = topKReference(q, c, score, k);
  const got = topK(q, c, score, k, undefined, blocks);
  assert.deepEqual(Array.from(got), Array.from(want), what);
}

test('random Gaussian data: the kernel returns the reference neighbours for odd sizes and every block size', () => {
  const rng = testRng('knn-random');
  for (let trial = 0; trial < 40; trial++) {
    const dim = 1 + int(rng, 23); // 1 … 23: mostly not multiples of 4 or of the depth block
    const n = 1 + int(rng, 30);
    const m = 1 + int(rng, 40);
    const k = 1 + int(rng, Math.min(m, 5));
    const q = gaussian(rng, n, dim);
    const c = gaussian(rng, m, dim);
    for (const blocks of [TINY, SMALL, undefined]) {
      same(q, c, k, blocks, `l2 n=${n} m=${m} d=${dim} k=${k} ${JSON.stringify(blocks)}`);
      same(q, c, k, blocks, `dot n=${n} m=${m} d=${dim} k=${k}`, dot(c));
    }
  }
});

test('larger shapes across default blocks: 300 × 1100 × 37 (two candidate blocks, a partial one) and d = 384', () => {
  const rng = testRng('knn-large');
  same(gaussian(rng, 300, 37), gaussian(rng, 1100, 37), 3, undefined, '300×1100×37');
  const q = gaussian(rng, 70, 384);
  same(q, gaussian(rng, 90, 384), 2, undefined, '70×90×384');
  same(q, gaussian(rng, 90, 384), 1, { queryBlock: 12, candidateBlock: 24, depthBlock: 100 }, '70×90×384 blocked');
});

test('exact ties (duplicated rows, small integers) go to the lowest index, as in the reference', () => {
  const rng = testRng('knn-ties');
  for (let trial = 0; trial < 30; trial++) {
    const dim = 1 + int(rng, 9);
    const n = 1 + int(rng, 20);
    const m = 2 + int(rng, 30);
    // Values in {−1, 0, 1}: many candidates at exactly the same distance.
    const ints = (rows: number) => ({
      rows,
      dim,
      data: Float32Array.from({ length: rows * dim }, () => int(rng, 3) - 1),
    });
    const q = ints(n);
    const c = ints(m);
    // Also whole duplicated rows: copy row 0 over a random later row.
    const j = 1 + int(rng, m - 1);
    c.data.copyWithin(j * dim, 0, dim);
    const k = 1 + int(rng, Math.min(m, 4));
    for (const blocks of [TINY, SMALL, undefined]) {
      same(q, c, k, blocks, `ties l2 trial ${trial}`);
      same(q, c, k, blocks, `ties dot trial ${trial}`, dot(c));
    }
  }
});

test('near-ties float32 cannot separate are ordered by the float64 reference', () => {
  // Candidates a, b differ in one small coordinate; beside a large one, a float32 sum loses it, float64 keeps it.
  const dim = 7;
  const q: Matrix = { rows: 1, dim, data: new Float32Array([4096, 1, 1, 1, 1, 1, 1]) };
  const eps = 2 ** -10;
  const rows = [
    [4096, 0, 0, 0, 0, 0, 0],
    [4096, 0, 0, 0, 0, 0, eps], // nearer than row 0 in exact (and float64) arithmetic
    [4096, 0, 0, 0, 0, eps, 0], // as near as row 1: the tie goes to 1
    [4096, 0, 0, 0, 0, 0, 2 * eps], // nearest
  ];
  const c: Matrix = { rows: rows.length, dim, data: Float32Array.from(rows.flat()) };
  for (const score of [dot(c), l2(c)]) {
    const want = Array.from(topKReference(q, c, score, 4));
    for (const blocks of [TINY, SMALL, undefined])
      assert.deepEqual(Array.from(topK(q, c, score, 4, undefined, blocks)), want);
  }
  assert.deepEqual(Array.from(topKReference(q, c, dot(c), 4)), [3, 1, 2, 0]);
});

test('the nearest candidate at every position (each tile edge) is found, for every query position', () => {
  const rng = testRng('knn-edges');
  for (const blocks of [TINY, SMALL]) {
    const dim = 7; // two full depth chunks of 3 and a partial one (TINY); one and a partial (SMALL)
    const n = 2 * blocks.queryBlock + 3;
    const m = 2 * blocks.candidateBlock + 5;
    const q = gaussian(rng, n, dim);
    for (let j = 0; j < m; j++) {
      // Far candidates everywhere, the query rows' own vectors placed at position j (shifted by the query index).
      const c = gaussian(rng, m, dim);
      for (let t = 0; t < c.data.length; t++) c.data[t] = c.data[t]! * 0.01 + 100;
      const i = j % n;
      c.data.set(q.data.subarray(i * dim, (i + 1) * dim), j * dim);
      const got = topK(q, c, l2(c), 1, undefined, blocks);
      assert.equal(got[i], j, `query ${i} should find candidate ${j} (${JSON.stringify(blocks)})`);
      assert.deepEqual(Array.from(got), Array.from(topKReference(q, c, l2(c), 1)));
    }
  }
});

test('a row range gives the rows of the whole answer; k = m lists every candidate', () => {
  const rng = testRng('knn-range');
  const q = gaussian(rng, 23, 5);
  const c = gaussian(rng, 9, 5);
  const all = topK(q, c, l2(c), 9, undefined, TINY);
  assert.deepEqual(Array.from(all), Array.from(topKReference(q, c, l2(c), 9)));
  const part = topK(q, c, l2(c), 9, { from: 5, to: 17 }, TINY);
  assert.deepEqual(Array.from(part), Array.from(all.subarray(5 * 9, 17 * 9)));
  // Candidates prepared once (what the threads share), in shared memory; one prepared for another depth is redone.
  const prepared = prepareCandidates(c, l2(c), TINY, true);
  assert.ok(prepared && prepared.packed.buffer instanceof SharedArrayBuffer);
  assert.deepEqual(Array.from(topK(q, c, l2(c), 9, { from: 5, to: 17 }, TINY, prepared)), Array.from(part));
  assert.deepEqual(Array.from(topK(q, c, l2(c), 9, undefined, SMALL, prepared)), Array.from(all));
  const bad: Matrix = { rows: 2, dim: 5, data: new Float32Array([1, 2, 3, 4, 5, 1, 2, NaN, 4, 5]) };
  assert.equal(prepareCandidates(bad, l2(bad)), null);
});

test('huge and non-finite values: still the reference (huge ones in the kernel, non-finite ones by the plain loop)', () => {
  const q: Matrix = { rows: 2, dim: 2, data: new Float32Array([1e20, 1, -1e20, 2]) };
  const c: Matrix = { rows: 3, dim: 2, data: new Float32Array([1e20, 0, 0, 1, -1e20, 3]) };
  assert.deepEqual(Array.from(topK(q, c, dot(c), 1)), Array.from(topKReference(q, c, dot(c), 1)));
  assert.deepEqual(Array.from(topK(q, c, dot(c), 1)), [0, 2]);
  const big: Matrix = { rows: 2, dim: 2, data: new Float32Array([3e38, -3e38, 1, 2]) };
  same(big, big, 2, undefined, 'near float32 max', dot(big));
  for (const bad of [Infinity, -Infinity, NaN]) {
    const cb: Matrix = { rows: 3, dim: 2, data: new Float32Array([1, 0, bad, 1, 0, 1]) };
    assert.deepEqual(Array.from(topK(q, cb, dot(cb), 1)), Array.from(topKReference(q, cb, dot(cb), 1)), `${bad}`);
    const qb: Matrix = { rows: 2, dim: 2, data: new Float32Array([1, bad, 0, 1]) };
    assert.deepEqual(Array.from(topK(qb, c, dot(c), 1)), Array.from(topKReference(qb, c, dot(c), 1)), `q ${bad}`);
  }
});

test('16-bit quantisation: the integer sums cannot overflow, and rows at the limit, with outliers or subnormals agree', () => {
  for (const d of [1, 2, 3, 7, 384, 1536, 3072, 100_000]) {
    const lim = quantLimit(d);
    assert.ok(d * lim * lim <= 2 ** 31 - 1 && lim <= 32767, `d = ${d}`);
    assert.ok(d * (lim + 1) * (lim + 1) > 2 ** 31 - 1 || lim === 32767, `d = ${d}: limit not the largest`);
  }
  const rng = testRng('knn-quant');
  // Every value at ±the row maximum: every integer is ±Q, so the integer dot products reach d·Q² (just below 2³¹).
  for (const dim of [384, 1536]) {
    const signs = (rows: number, scale: number) => ({
      rows,
      dim,
      data: Float32Array.from({ length: rows * dim }, () => (int(rng, 2) ? scale : -scale)),
    });
    // Values Q·2⁻¹² and Q·2⁻¹⁰: the power-of-two scales map them to exactly ±Q.
    const q = signs(9, quantLimit(dim) / 4096);
    const c = signs(21, quantLimit(dim) / 1024);
    c.data.set(q.data.subarray(0, dim)); // candidate 0 = query 0: the maximal sum
    same(q, c, 3, undefined, `±max d=${dim}`);
    same(q, c, 2, { queryBlock: 4, candidateBlock: 8, depthBlock: 1536 }, `±max one chunk d=${dim}`, dot(c));
  }
  // One large outlier coordinate per row (quantisation steps far above the other values), and subnormal rows.
  for (let trial = 0; trial < 20; trial++) {
    const dim = 2 + int(rng, 40);
    const q = gaussian(rng, 1 + int(rng, 12), dim);
    const c = gaussian(rng, 2 + int(rng, 30), dim);
    for (const mtx of [q, c]) for (let i = 0; i < mtx.rows; i++) mtx.data[i * dim + int(rng, dim)] = 1e4 * (1 + i);
    const tinyRows = gaussian(rng, 5, dim);
    for (let t = 0; t < tinyRows.data.length; t++) tinyRows.data[t] = tinyRows.data[t]! * 2 ** -140;
    const k = 1 + int(rng, Math.min(c.rows, 3));
    for (const blocks of [TINY, undefined]) {
      same(q, c, k, blocks, `outliers trial ${trial}`);
      same(q, c, k, blocks, `outliers dot trial ${trial}`, dot(c));
      same(tinyRows, c, k, blocks, `subnormal queries ${trial}`, dot(c));
      same(q, tinyRows, Math.min(k, 5), blocks, `subnormal candidates ${trial}`);
    }
  }
});

test('the quantisation residuals decide: the integer scores alone rank the true neighbour second', () => {
  // d = 64: integers up to 5792. A coordinate of 4096 sets a row's step to 1, so its 0.25s round to 0 (residual
  // 0.25 each); a row of 8s has step 2⁻⁹ and is exact. Dot-product scores (larger dot = nearer).
  const dim = 64;
  assert.equal(quantLimit(dim), 5792);
  const row = (first: number, rest: number) => [first, ...Array.from({ length: dim - 1 }, () => rest)];
  const mat = (rows: number[][]): Matrix => ({ rows: rows.length, dim, data: Float32Array.from(rows.flat()) });
  // Query residuals: q·c1 = 4096, q·c2 = 4096 − 8 + 0.25·8·63 = 4214, but q̃·c2 = 4088 < 4096.
  const q1 = mat([row(4096, 0.25)]);
  const c1 = mat([row(1, 0), row(1 - 2 ** -9, 8)]);
  // Candidate residuals: q·c1 = 4096, q·c2 = 4032 + 8·0.25·63 = 4158, but q·c̃2 = 4032 < 4096.
  const q2 = mat([row(1, 8)]);
  const c2 = mat([row(4096, 0), row(4032, 0.25)]);
  for (const [q, c] of [
    [q1, c1],
    [q2, c2],
  ] as const) {
    assert.deepEqual(Array.from(topKReference(q, c, dot(c), 1)), [1]);
    for (const blocks of [TINY, SMALL, undefined]) same(q, c, 1, blocks, 'residuals', dot(c));
  }
});

test('a large common offset (float32 rounds the small parts away, float64 keeps them): still the reference', () => {
  const rng = testRng('knn-offset');
  for (let trial = 0; trial < 30; trial++) {
    const dim = 2 + int(rng, 12);
    const n = 1 + int(rng, 12);
    const m = 2 + int(rng, 30);
    const shifted = (rows: number) => {
      const g = gaussian(rng, rows, dim);
      for (let i = 0; i < rows; i++) g.data[i * dim] = 4096 + int(rng, 2);
      for (let t = 0; t < g.data.length; t++) if (t % dim !== 0) g.data[t] = g.data[t]! * 2 ** -12;
      return g;
    };
    const q = shifted(n);
    const c = shifted(m);
    const k = 1 + int(rng, Math.min(m, 3));
    for (const blocks of [TINY, undefined]) {
      same(q, c, k, blocks, `offset l2 trial ${trial}`);
      same(q, c, k, blocks, `offset dot trial ${trial}`, dot(c));
    }
  }
});

test('on worker threads: the same answer as one thread and the reference (3 threads, uneven ranges)', async () => {
  const rng = testRng('knn-threads');
  const q = gaussian(rng, 101, 19);
  const c = gaussian(rng, 77, 19);
  const want = Array.from(topKReference(q, c, l2(c), 2));
  const got = await topKParallel(q, c, l2(c), 2, { threads: 3, minWork: 0, blocks: SMALL });
  assert.deepEqual(Array.from(got), want);
  assert.deepEqual(Array.from(await topKParallel(q, c, l2(c), 2, { threads: 1 })), want);
});
