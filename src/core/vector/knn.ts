/**
 * Exact k-nearest-neighbour search for Aug-PE voting: a blocked WebAssembly SIMD dot-product kernel finds, for every
 * query, a short list of candidates that can still be among its k nearest, and the short list is then scored with
 * exactly the reference arithmetic (float64, sequential over dimensions), so the result is the reference's, bit for
 * bit (docs/AUGPE.md, "Voting kernel").
 *
 * Scores. score(i, j) = bias[j] − factor · Σ_t q[i][t]·c[j][t], smaller is nearer, ties to the lower j. For L2,
 * bias = ‖c_j‖² and factor = 2; for cosine (rows already normalised), bias = 0 and factor = 1.
 *
 * Why a re-check. The kernel sums in float32 (maybe fused, depending on the CPU), the reference in float64, so the
 * two can order two nearly equal candidates differently. A sequential float32 dot product of d terms has error at
 * most γ_d·Σ|q_t c_t| ≤ γ_d·‖q‖·‖c‖ with γ_d = d·u/(1 − d·u), u = 2⁻²⁴ (Higham 2002, Accuracy and Stability of
 * Numerical Algorithms, §3.1, eq. 3.5; Cauchy–Schwarz for the norm form), and the float64 reference has the same
 * bound with u = 2⁻⁵³. With δ ≥ 2·γ_d (float32) every candidate gets bounds lo ≤ reference score ≤ hi, where
 * lo/hi = kernel score ∓ δ·(factor·‖q‖·‖c‖ + bias). τ, the k-th smallest hi seen, bounds the k-th reference score
 * from above, so every reference neighbour has lo ≤ τ; the kernel keeps all candidates with lo ≤ τ and the exact
 * re-check picks the k smallest (score, index) among them. Inputs whose norms could overflow float32 (or are not
 * finite) go to the reference loop.
 */
import { KNN_WASM_BASE64, KNN_WASM_PLAIN_BASE64 } from './knnWasm';

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

// Measured on a 2-core Xeon (48 KiB L1d, 2 MiB L2): a 256 × 1024 float tile (1 MiB) plus a 256 × 256 query chunk
// (256 KiB) stay in L2, and one 8 × 256 candidate panel (8 KiB) in L1 (bench/voting).
export const DEFAULT_BLOCKS: KnnBlocks = { queryBlock: 256, candidateBlock: 1024, depthBlock: 256 };

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
/** The compiled kernel: relaxed SIMD where the engine has it (Node 22), else plain SIMD (same results, see above). */
export function knnModule(): WebAssembly.Module {
  if (!compiled) {
    try {
      compiled = new WebAssembly.Module(Buffer.from(KNN_WASM_BASE64, 'base64'));
    } catch {
      compiled = new WebAssembly.Module(Buffer.from(KNN_WASM_PLAIN_BASE64, 'base64'));
    }
  }
  return compiled;
}

interface KnnExports {
  memory: WebAssembly.Memory;
  tile: (
    qp: number,
    groups: number,
    cp: number,
    panels: number,
    kc: number,
    out: number,
    outStride: number,
    accumulate: number,
  ) => void;
}

/**
 * The k nearest candidates of query rows [from, to) (all rows by default), nearest first, as (to − from) × k
 * indices; identical to topKReference on the same rows. Memory: the packed candidates (their own size, padded to
 * 8 rows), one query block and one queryBlock × candidateBlock float tile; never the rows × candidates matrix.
 */
export function topK(
  q: Matrix,
  c: Matrix,
  score: ScoreSpec,
  k: number,
  range?: { from: number; to: number },
  blocks: KnnBlocks = DEFAULT_BLOCKS,
): Int32Array {
  const from = range?.from ?? 0;
  const to = range?.to ?? q.rows;
  const dim = c.dim;
  const m = c.rows;
  const { bias, factor } = score;
  const QB = blocks.queryBlock;
  const CB = blocks.candidateBlock;
  const KC = blocks.depthBlock;
  if (QB % 4 !== 0 || QB < 4 || CB % 8 !== 0 || CB < 8 || !(KC >= 1))
    throw new RangeError(`bad block sizes ${JSON.stringify(blocks)}`);
  const n = to - from;
  const out = new Int32Array(n * k);
  if (n === 0) return out;
  if (m === 0 || dim === 0 || k < 1 || k > m) {
    return topKReference({ rows: n, dim: q.dim, data: q.data.subarray(from * dim, to * dim) }, c, score, k);
  }

  // Error bound factor δ = 2·γ_d for float32 (covers the float64 reference's own, far smaller, error too).
  const u = 2 ** -24;
  const gamma = ((dim + 2) * u) / (1 - (dim + 2) * u);
  const delta = 2 * gamma;
  // Underflow: each of the d products and sums may lose up to 2⁻¹⁴⁹ (float32's smallest subnormal); an absolute term.
  const tiny = (dim + 2) * 2 ** -140 * factor;
  const cn = squaredNorms(c);
  let cMax = 0;
  const ncF = new Float64Array(m); // δ·factor·‖c_j‖
  const biasLo = new Float64Array(m);
  const biasHi = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    const nc = Math.sqrt(cn[j]!);
    cMax = Math.max(cMax, nc);
    ncF[j] = delta * factor * nc;
    const b = bias[j]!;
    biasLo[j] = b - delta * Math.abs(b) - tiny;
    biasHi[j] = b + delta * Math.abs(b) + tiny;
  }
  const qn = squaredNorms({ rows: n, dim, data: q.data.subarray(from * dim, to * dim) });
  let qMax = 0;
  for (let i = 0; i < n; i++) qMax = Math.max(qMax, Math.sqrt(qn[i]!));
  let biasOk = true;
  for (let j = 0; j < m; j++) if (!Number.isFinite(bias[j]!)) biasOk = false;
  // Partial sums are bounded by ‖q‖·‖c‖ (Cauchy–Schwarz): far below float32's 3.4e38 means no overflow.
  if (!(qMax * cMax < 1e36) || !biasOk || !Number.isFinite(factor)) {
    return topKReference({ rows: n, dim, data: q.data.subarray(from * dim, to * dim) }, c, score, k);
  }

  // Memory layout (bytes, 16-aligned): packed candidates | packed query block | tile.
  const panelsAll = Math.ceil(m / 8);
  const mPad = panelsAll * 8;
  const cOff = 0;
  const qOff = cOff + mPad * dim * 4;
  const outOff = qOff + QB * dim * 4;
  const need = outOff + QB * CB * 4;
  const inst = new WebAssembly.Instance(knnModule(), {});
  const ex = inst.exports as unknown as KnnExports;
  ex.memory.grow(Math.max(0, Math.ceil(need / 65536) - ex.memory.buffer.byteLength / 65536));
  const mem = new Float32Array(ex.memory.buffer);

  // Pack the candidates: per depth chunk [panel][t][8], zero rows past m.
  const cd = c.data;
  for (let c0 = 0; c0 < dim; c0 += KC) {
    const kc = Math.min(KC, dim - c0);
    const base = (cOff >> 2) + c0 * mPad;
    for (let p = 0; p < panelsAll; p++) {
      const pb = base + p * 8 * kc;
      for (let r = 0; r < 8; r++) {
        const j = p * 8 + r;
        if (j >= m) {
          for (let t = 0; t < kc; t++) mem[pb + t * 8 + r] = 0;
          continue;
        }
        const src = j * dim + c0;
        for (let t = 0; t < kc; t++) mem[pb + t * 8 + r] = cd[src + t]!;
      }
    }
  }

  const qd = q.data;
  const tau = new Float64Array(QB * k); // per query, the k smallest upper bounds, ascending
  const shortIdx: number[][] = Array.from({ length: QB }, () => []);
  const shortLo: number[][] = Array.from({ length: QB }, () => []);
  const pruneAt = Math.max(64, 8 * k);
  const outF = outOff >> 2;

  for (let q0 = from; q0 < to; q0 += QB) {
    const rows = Math.min(QB, to - q0);
    const groups = Math.ceil(rows / 4);
    // Pack the query block: per depth chunk [group][t][4], zero rows past `rows`.
    for (let c0 = 0; c0 < dim; c0 += KC) {
      const kc = Math.min(KC, dim - c0);
      const base = (qOff >> 2) + c0 * QB;
      for (let g = 0; g < groups; g++) {
        const gb = base + g * 4 * kc;
        for (let r = 0; r < 4; r++) {
          const i = g * 4 + r;
          if (i >= rows) {
            for (let t = 0; t < kc; t++) mem[gb + t * 4 + r] = 0;
            continue;
          }
          const src = (q0 + i) * dim + c0;
          for (let t = 0; t < kc; t++) mem[gb + t * 4 + r] = qd[src + t]!;
        }
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
        const kc = Math.min(KC, dim - c0);
        const cp = cOff + (c0 * mPad + (j0 / 8) * 8 * kc) * 4;
        ex.tile(qOff + c0 * QB * 4, groups, cp, panels, kc, outOff, CB * 4, c0 === 0 ? 0 : 1);
      }
      // Candidates of this block that may still be among each query's k nearest.
      for (let i = 0; i < rows; i++) {
        const nq = Math.sqrt(qn[q0 - from + i]!);
        const tb = i * k;
        let t = tau[tb + k - 1]!;
        const row = outF + i * CB;
        const si = shortIdx[i]!;
        const sl = shortLo[i]!;
        for (let jj = 0; jj < cols; jj++) {
          const j = j0 + jj;
          const dot = factor * mem[row + jj]!;
          const e = nq * ncF[j]!;
          const lo = biasLo[j]! - dot - e;
          if (lo > t) continue;
          si.push(j);
          sl.push(lo);
          const hi = biasHi[j]! - dot + e;
          if (hi < t) {
            let p = k - 1;
            while (p > 0 && hi < tau[tb + p - 1]!) {
              tau[tb + p] = tau[tb + p - 1]!;
              p--;
            }
            tau[tb + p] = hi;
            t = tau[tb + k - 1]!;
          }
        }
        if (si.length > pruneAt) prune(si, sl, t);
      }
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
