/**
 * Exact k-nearest-neighbour search for Aug-PE voting: a blocked WebAssembly SIMD integer dot-product kernel finds,
 * for every query, a short list of candidates that can still be among its k nearest, and the short list is then
 * scored with exactly the reference arithmetic (float64, sequential over dimensions), so the result is the
 * reference's, bit for bit (docs/VOTING.md).
 *
 * Scores. score(i, j) = bias[j] − factor · Σ_t q[i][t]·c[j][t], smaller is nearer, ties to the lower j. For L2,
 * bias = ‖c_j‖² and factor = 2; for cosine (rows already normalised), bias = 0 and factor = 1.
 *
 * Why a re-check. Every row is quantised, x = s·x̃ + r (s a power of two, x̃ 16-bit integers), and the kernel sums
 * the integer products exactly; the reference sums the float32 inputs in float64. By Cauchy–Schwarz the two dot
 * products differ by at most ‖s_q q̃‖·‖r_c‖ + ‖r_q‖·‖c‖, and the reference's rounding is at most γ_d·‖q‖·‖c‖ with
 * γ_d = d·u/(1 − d·u), u = 2⁻⁵³ (Higham 2002, Accuracy and Stability of Numerical Algorithms, §3.1, eq. 3.5). So
 * every candidate gets bounds lo ≤ reference score ≤ hi; τ, the k-th smallest hi seen, bounds the k-th reference
 * score from above, so every reference neighbour has lo ≤ τ; the scan keeps all candidates with lo ≤ τ and the
 * exact re-check picks the k smallest (score, index) among them. Inputs with a non-finite value go to the reference
 * loop.
 */
import { KNN_WASM_BASE64 } from './knnWasm';

/** Row-major vectors: row i is data[i·dim … (i+1)·dim). */
export interface Matrix {
  rows: number;
  dim: number;
  data: Float32Array;
}

/** What score to minimise: bias[j] − factor · q·c_j (see the module comment). */
export interface ScoreSpec {
  bias: Float64Array;
  factor: number;
}

/** Block sizes (tests use tiny ones to exercise every edge). */
export interface KnnBlocks {
  /** Queries per block, a multiple of 4 (the microkernel's rows). */
  queryBlock: number;
  /** Candidates per block, a multiple of 8 (the microkernel's columns). */
  candidateBlock: number;
  /** Dimensions per depth chunk. */
  depthBlock: number;
}

// Measured on a 2-core Xeon (48 KiB L1d, 2 MiB L2): a 256 × 1024 int32 tile (1 MiB) plus a 256 × 512 int16 query
// chunk (256 KiB) stay in L2, and one 8 × 512 int16 candidate panel (8 KiB) in L1. Depth 512 rather than 256: one
// chunk at d = 384 (≈ 13 % less CPU time there), no measurable change at d = 1,536 (docs/VOTING.md).
export const DEFAULT_BLOCKS: KnnBlocks = { queryBlock: 256, candidateBlock: 1024, depthBlock: 512 };

/**
 * The reference: the plain loop, one candidate after another, float64 sums, strict `<` so equal scores keep the
 * earlier (lower) index. Returns rows × k indices, nearest first. Kept as the definition the kernel must match.
 */
export function topKReference(q: Matrix, c: Matrix, score: ScoreSpec, k: number): Int32Array {
  const dim = c.dim;
  const m = c.rows;
  const { bias, factor } = score;
  const out = new Int32Array(q.rows * k);
  // Four queries at a time share each candidate row's loads (≈2–3× faster than one at a time in V8).
  const bestScore = new Float64Array(4 * k);
  const bestIdx = new Int32Array(4 * k);
  const insert = (base: number, s: number, j: number) => {
    if (!(s < bestScore[base + k - 1]!)) return; // ties keep the earlier (lower) index
    let p = k - 1;
    while (p > 0 && s < bestScore[base + p - 1]!) {
      bestScore[base + p] = bestScore[base + p - 1]!;
      bestIdx[base + p] = bestIdx[base + p - 1]!;
      p--;
    }
    bestScore[base + p] = s;
    bestIdx[base + p] = j;
  };
  const cd = c.data;
  const qd = q.data;
  for (let i0 = 0; i0 < q.rows; i0 += 4) {
    const b = Math.min(4, q.rows - i0);
    // Missing rows of the last block repeat the first one; their results are ignored.
    const o0 = i0 * dim;
    const o1 = (b > 1 ? i0 + 1 : i0) * dim;
    const o2 = (b > 2 ? i0 + 2 : i0) * dim;
    const o3 = (b > 3 ? i0 + 3 : i0) * dim;
    bestScore.fill(Infinity);
    bestIdx.fill(-1);
    for (let j = 0; j < m; j++) {
      const co = j * dim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let t = 0; t < dim; t++) {
        const x = cd[co + t]!;
        s0 += qd[o0 + t]! * x;
        s1 += qd[o1 + t]! * x;
        s2 += qd[o2 + t]! * x;
        s3 += qd[o3 + t]! * x;
      }
      const bj = bias[j]!;
      insert(0, bj - factor * s0, j);
      if (b > 1) insert(k, bj - factor * s1, j);
      if (b > 2) insert(2 * k, bj - factor * s2, j);
      if (b > 3) insert(3 * k, bj - factor * s3, j);
    }
    for (let r = 0; r < b; r++) out.set(bestIdx.subarray(r * k, (r + 1) * k), (i0 + r) * k);
  }
  return out;
}

/** The reference score of one pair: the same float64 operations, in the same order, as topKReference. */
function exactScore(qd: Float32Array, qo: number, cd: Float32Array, co: number, dim: number, bj: number, f: number) {
  let s = 0;
  for (let t = 0; t < dim; t++) s += qd[qo + t]! * cd[co + t]!;
  return bj - f * s;
}

/** Squared L2 norm of each row, float64, sequential (the reference's ‖c‖² for the L2 bias). */
export function squaredNorms(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows);
  const { dim, data } = m;
  for (let j = 0; j < m.rows; j++) {
    let s = 0;
    for (let t = 0; t < dim; t++) s += data[j * dim + t]! ** 2;
    out[j] = s;
  }
  return out;
}

let compiled: WebAssembly.Module | undefined;
/** The compiled kernel (plain, deterministic SIMD: Node 16.4+ and every current browser engine). */
export function knnModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(Buffer.from(KNN_WASM_BASE64, 'base64'));
  return compiled;
}

interface KnnExports {
  memory: WebAssembly.Memory;
  tile: (
    qp: number,
    groups: number,
    cp: number,
    panels: number,
    pairs: number,
    out: number,
    outStride: number,
    accumulate: number,
  ) => void;
  scan: (
    tile: number,
    outStride: number,
    rows: number,
    cols: number,
    j0: number,
    fsc: number,
    biasLo: number,
    biasHi: number,
    rcF: number,
    cN: number,
    sq: number,
    qa: number,
    qg: number,
    tau: number,
    k: number,
    entries: number,
  ) => number;
}

/**
 * The largest integer magnitude of the 16-bit quantisation for d dimensions: every partial sum of d products of two
 * such integers is below 2³¹ (|Σ a_t b_t| ≤ d·Q²), so the kernel's i32 sums are exact; and Q ≤ 32767 (i16).
 */
export function quantLimit(dim: number): number {
  return Math.min(32767, Math.floor(Math.sqrt((2 ** 31 - 1) / Math.max(1, dim))));
}

const ROUND = 1.5 * 2 ** 52;

/**
 * Per-row quantisation x = s·x̃ + r with s a power of two, x̃ integers with |x̃_t| ≤ limit: writes x̃ to `ints` and
 * returns s, or 0 when the row has a non-finite value. `norms` receives ‖x‖², ‖s·x̃‖², ‖r‖² (float64 sums). With s a
 * power of two, s·x̃_t and r_t = x_t − s·x̃_t are exact in float64 (x_t has 24 significant bits; r_t is below s/2).
 */
function quantizeRow(x: Float32Array, off: number, dim: number, limit: number, ints: Int16Array, norms: Float64Array) {
  let max = 0;
  for (let t = 0; t < dim; t++) {
    const a = Math.abs(x[off + t]!);
    if (!(a <= max)) max = a; // NaN is caught below
  }
  if (!Number.isFinite(max)) return 0;
  // The smallest power of two s with max / s ≤ limit (log2 can be off by one near powers of two: adjusted).
  // A zero row keeps s = 1.
  let s = 1;
  if (max > 0) {
    s = 2 ** Math.ceil(Math.log2(max / limit));
    while (max / s > limit) s *= 2;
    while (max / (s / 2) <= limit) s /= 2;
  }
  const inv = 1 / s; // exact: s is a power of two
  let xx = 0;
  let qq = 0;
  let rr = 0;
  for (let t = 0; t < dim; t++) {
    const v = x[off + t]!;
    // Round to the nearest integer (ties to even): adding and subtracting 1.5·2⁵² leaves no fraction bits for
    // |v/s| ≤ limit < 2⁵¹; about 3× faster than Math.round here. Any rounding is correct (r is exact), |i| ≤ limit.
    const i = v * inv + ROUND - ROUND;
    ints[t] = i;
    const r = v - i * s;
    xx += v * v;
    qq += i * i;
    rr += r * r;
  }
  norms[0] = xx;
  norms[1] = qq * s * s;
  norms[2] = rr;
  return s;
}

/** Error-bound constants shared by the candidate and the query side (see the comment in prepareCandidates). */
const SLACK = 1 + 1e-9;
const TINY = 1e-300;
const boundDelta = (dim: number) => 8 * (dim + 4) * 2 ** -53;

/**
 * The candidates quantised and packed for the kernel, computed once per search and shared by every thread (in
 * SharedArrayBuffers when asked): `packed` is the i16 panels, per depth chunk [panel][pair][8 rows][2], and `perJ`
 * five float64 arrays of mPad entries: factor·s_c, bias lower and upper bounds, slack·|factor|·‖r_c‖, and
 * slack·(‖c‖ + ‖r_c‖).
 */
export interface PreparedCandidates {
  rows: number;
  dim: number;
  depth: number;
  factor: number;
  packed: Int16Array;
  perJ: Float64Array;
}

/** The kernel takes two dimensions per step: depth chunks are a whole number of pairs. */
const depthOf = (blocks: KnnBlocks) => 2 * Math.ceil(blocks.depthBlock / 2);

/**
 * Quantises and packs the candidates (null when they cannot go through the kernel: a non-finite value, bias or
 * factor, or nothing to search; topK then uses the reference loop).
 */
export function prepareCandidates(
  c: Matrix,
  score: ScoreSpec,
  blocks: KnnBlocks = DEFAULT_BLOCKS,
  shared = false,
): PreparedCandidates | null {
  const { dim, rows: m } = c;
  const { bias, factor } = score;
  if (m === 0 || dim === 0 || !Number.isFinite(factor)) return null;
  for (let j = 0; j < m; j++) if (!Number.isFinite(bias[j]!)) return null;
  const KC = depthOf(blocks);
  const dimPad = dim + (dim & 1);
  const mPad = Math.ceil(m / 8) * 8;
  const buffer = (bytes: number) => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  // Fresh buffers are zero: padding rows and the odd dimension's partner stay 0.
  const packed = new Int16Array(buffer(mPad * dimPad * 2));
  const perJ = new Float64Array(buffer(5 * mPad * 8));

  // Error bounds (docs/VOTING.md, "Exactness"). With q = s_q·q̃ + r_q and c = s_c·c̃ + r_c (rows quantised here),
  //   q·c − s_q·s_c·(q̃·c̃) = (s_q·q̃)·r_c + r_q·c,  so  |…| ≤ ‖s_q q̃‖·‖r_c‖ + ‖r_q‖·‖c‖  (Cauchy–Schwarz),
  // and q̃·c̃ is computed exactly (integers, no overflow). The reference's own float64 rounding, and this driver's
  // float64 arithmetic on the bounds, are covered by δ·(factor·(‖q‖+‖r_q‖)·(‖c‖+‖r_c‖) + |bias|) with
  // δ = 8·(d + 4)·2⁻⁵³ ≥ 4·γ_{d+2} in double precision (Higham 2002, §3.1, eq. 3.5), and float64 norms by a relative
  // slack of 10⁻⁹ (their relative error is below d·2⁻⁵³).
  const limit = quantLimit(dim);
  const delta = boundDelta(dim);
  const cd = c.data;
  const fsc = perJ.subarray(0, mPad); // factor · s_c
  const biasLo = perJ.subarray(mPad, 2 * mPad);
  const biasHi = perJ.subarray(2 * mPad, 3 * mPad);
  const rcF = perJ.subarray(3 * mPad, 4 * mPad); // slack·|factor|·‖r_c‖
  const cN = perJ.subarray(4 * mPad, 5 * mPad); // slack·(‖c‖ + ‖r_c‖)
  const row = new Int16Array(dimPad);
  const norms = new Float64Array(3);
  for (let j = 0; j < m; j++) {
    const s = quantizeRow(cd, j * dim, dim, limit, row, norms);
    if (s === 0) return null;
    fsc[j] = factor * s;
    const rc = Math.sqrt(norms[2]!) * SLACK;
    rcF[j] = Math.abs(factor) * rc;
    cN[j] = (Math.sqrt(norms[0]!) + rc) * SLACK;
    const b = bias[j]!;
    biasLo[j] = b - delta * Math.abs(b) - TINY;
    biasHi[j] = b + delta * Math.abs(b) + TINY;
    const p = j >> 3;
    const r = j & 7;
    for (let c0 = 0; c0 < dim; c0 += KC) {
      const pairs = (Math.min(KC, dim - c0) + 1) >> 1;
      const base = c0 * mPad + p * 16 * pairs + r * 2;
      const end = Math.min(c0 + KC, dim);
      for (let t = c0; t < end; t++) packed[base + ((t - c0) >> 1) * 16 + (t & 1)] = row[t]!;
    }
  }
  return { rows: m, dim, depth: KC, factor, packed, perJ };
}

/**
 * The k nearest candidates of query rows [from, to) (all rows by default), nearest first, as (to − from) × k
 * indices; identical to topKReference on the same rows. `prepared` (prepareCandidates of the same c, score and depth
 * block) saves quantising the candidates again. Memory: the packed 16-bit candidates (half their float32 size,
 * padded to 8 rows), one query block, one queryBlock × candidateBlock i32 tile and its short-list entries; never the
 * rows × candidates matrix.
 */
export function topK(
  q: Matrix,
  c: Matrix,
  score: ScoreSpec,
  k: number,
  range?: { from: number; to: number },
  blocks: KnnBlocks = DEFAULT_BLOCKS,
  prepared?: PreparedCandidates | null,
): Int32Array {
  const from = range?.from ?? 0;
  const to = range?.to ?? q.rows;
  const dim = c.dim;
  const m = c.rows;
  const { bias, factor } = score;
  const QB = blocks.queryBlock;
  const CB = blocks.candidateBlock;
  if (QB % 4 !== 0 || QB < 4 || CB % 8 !== 0 || CB < 8 || !(blocks.depthBlock >= 1))
    throw new RangeError(`bad block sizes ${JSON.stringify(blocks)}`);
  const KC = depthOf(blocks);
  const n = to - from;
  const out = new Int32Array(n * k);
  if (n === 0) return out;
  const reference = () =>
    topKReference({ rows: n, dim: q.dim, data: q.data.subarray(from * dim, to * dim) }, c, score, k);
  if (k < 1 || k > m) return reference();
  const prep =
    prepared && prepared.rows === m && prepared.dim === dim && prepared.depth === KC && prepared.factor === factor
      ? prepared
      : prepareCandidates(c, score, blocks);
  if (!prep) return reference();

  // Memory layout (bytes, 16-aligned): packed candidates | packed query block | tile | the scan's float64 arrays
  // (src/core/vector/knn.wat, `scan`): per candidate (mPad each), per query row of the block (QB each), the k smallest
  // upper bounds per row, and the short-list entries (16 bytes, at most one per tile cell). dimPad: dim rounded up
  // to pairs.
  const dimPad = dim + (dim & 1);
  const mPad = Math.ceil(m / 8) * 8;
  const cOff = 0;
  const qOff = cOff + mPad * dimPad * 2;
  const outOff = qOff + QB * dimPad * 2;
  const perJ = outOff + QB * CB * 4;
  const perI = perJ + 5 * mPad * 8;
  const tauOff = perI + 3 * QB * 8;
  const entOff = tauOff + QB * k * 8;
  const need = entOff + QB * CB * 16;
  const inst = new WebAssembly.Instance(knnModule(), {});
  const ex = inst.exports as unknown as KnnExports;
  ex.memory.grow(Math.max(0, Math.ceil(need / 65536) - ex.memory.buffer.byteLength / 65536));
  const mem16 = new Int16Array(ex.memory.buffer);
  const f64 = (off: number, len: number) => new Float64Array(ex.memory.buffer, off, len);
  mem16.set(prep.packed, cOff >> 1);
  f64(perJ, 5 * mPad).set(prep.perJ);
  const qLimit = quantLimit(dim);
  const delta = boundDelta(dim);
  const slack = SLACK;
  const cd = c.data;
  const row = new Int16Array(dimPad);
  const norms = new Float64Array(3);

  const qd = q.data;
  const qs = f64(perI, QB); // s_q
  const qA = f64(perI + QB * 8, QB); // slack·‖s_q q̃‖
  const qG = f64(perI + 2 * QB * 8, QB); // slack·|factor|·‖r_q‖ + δ·|factor|·(‖q‖ + ‖r_q‖)
  const tau = f64(tauOff, QB * k); // per query, the k smallest upper bounds, ascending
  const entI = new Int32Array(ex.memory.buffer, entOff, QB * CB * 4);
  const entLo = new Float64Array(ex.memory.buffer, entOff, QB * CB * 2);
  const shortIdx: number[][] = Array.from({ length: QB }, () => []);
  const shortLo: number[][] = Array.from({ length: QB }, () => []);
  const pruneAt = Math.max(64, 8 * k);
  const af = Math.abs(factor);

  for (let q0 = from; q0 < to; q0 += QB) {
    const rows = Math.min(QB, to - q0);
    const groups = Math.ceil(rows / 4);
    // Quantise and pack the query block: per depth chunk [group][pair][4 rows][2]; rows past `rows` are zeroed.
    for (let i = 0; i < groups * 4; i++) {
      if (i < rows) {
        const s = quantizeRow(qd, (q0 + i) * dim, dim, qLimit, row, norms);
        if (s === 0) return reference();
        qs[i] = s;
        const rq = Math.sqrt(norms[2]!) * slack;
        qA[i] = Math.sqrt(norms[1]!) * slack;
        qG[i] = af * rq * slack + delta * af * (Math.sqrt(norms[0]!) + rq) * slack;
      } else row.fill(0);
      const g = i >> 2;
      const r = i & 3;
      for (let c0 = 0; c0 < dim; c0 += KC) {
        const pairs = (Math.min(KC, dim - c0) + 1) >> 1;
        const base = (qOff >> 1) + c0 * QB + g * 8 * pairs + r * 2;
        for (let t = c0; t < Math.min(c0 + KC, dim); t++) mem16[base + ((t - c0) >> 1) * 8 + (t & 1)] = row[t]!;
      }
    }
    tau.fill(Infinity);
    for (let i = 0; i < rows; i++) {
      shortIdx[i]!.length = 0;
      shortLo[i]!.length = 0;
    }

    for (let j0 = 0; j0 < m; j0 += CB) {
      const cols = Math.min(CB, m - j0);
      const panels = Math.ceil(cols / 8);
      for (let c0 = 0; c0 < dim; c0 += KC) {
        const pairs = (Math.min(KC, dim - c0) + 1) >> 1;
        const cp = cOff + (c0 * mPad + (j0 / 8) * 16 * pairs) * 2;
        ex.tile(qOff + c0 * QB * 2, groups, cp, panels, pairs, outOff, CB * 4, c0 === 0 ? 0 : 1);
      }
      // Candidates of this block that may still be among each query's k nearest (entries in (row, candidate) order).
      const found = ex.scan(
        outOff,
        CB * 4,
        rows,
        cols,
        j0,
        perJ,
        perJ + mPad * 8,
        perJ + 2 * mPad * 8,
        perJ + 3 * mPad * 8,
        perJ + 4 * mPad * 8,
        perI,
        perI + QB * 8,
        perI + 2 * QB * 8,
        tauOff,
        k,
        entOff,
      );
      for (let r = 0; r < found; r++) {
        const i = entI[4 * r]!;
        shortIdx[i]!.push(entI[4 * r + 1]!);
        shortLo[i]!.push(entLo[2 * r + 1]!);
      }
      for (let i = 0; i < rows; i++)
        if (shortIdx[i]!.length > pruneAt) prune(shortIdx[i]!, shortLo[i]!, tau[i * k + k - 1]!);
    }

    // Exact re-check of each short list with the reference arithmetic; order by (score, index).
    for (let i = 0; i < rows; i++) {
      const si = shortIdx[i]!;
      const sl = shortLo[i]!;
      prune(si, sl, tau[i * k + k - 1]!);
      const qo = (q0 + i) * dim;
      const scored = si.map((j) => ({ j, s: exactScore(qd, qo, cd, j * dim, dim, bias[j]!, factor) }));
      scored.sort((a, b) => a.s - b.s || a.j - b.j);
      const ob = (q0 - from + i) * k;
      for (let r = 0; r < k; r++) out[ob + r] = scored[r]!.j;
    }
  }
  return out;
}

/** Keeps the short-list entries whose lower bound is ≤ t (in place, order kept). */
function prune(idx: number[], lo: number[], t: number) {
  let w = 0;
  for (let r = 0; r < idx.length; r++) {
    if (lo[r]! <= t) {
      idx[w] = idx[r]!;
      lo[w] = lo[r]!;
      w++;
    }
  }
  idx.length = w;
  lo.length = w;
}
