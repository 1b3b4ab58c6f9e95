/**
 * Aug-PE's DP nearest-neighbour histogram (Xie et al., ICML 2024, Alg. 1 line "DP_NN_HISTOGRAM"; Lin et al., PE,
 * ICLR 2024, Alg. 2): every private privacy unit votes for its k nearest synthetic candidates of its own label in
 * embedding space, each unit's vote vector is scaled to L2 norm 1, and Gaussian noise of std σ is added to every
 * candidate's count.
 *
 * Sensitivity. The histograms of all labels of one iteration form one vector h = Σ_units v_u with ‖v_u‖₂ = 1, so
 * adding or removing one unit changes h by exactly one v_u: L2 sensitivity 1 under add/remove of a unit, and the
 * release h + N(0, σ²I) is one Gaussian mechanism with noise multiplier σ (μ = 1/σ GDP; Dong, Roth, Su 2022, Thm 2.7).
 *   - No unit column: each row is a unit and votes for k distinct candidates, 1/√k each
 *     (microsoft/DPSDA pe.histogram.NearestNeighbors, vote_normalization_level="sample").
 *   - Unit column: a unit's rows vote (k each, counts adding up), and the unit's whole vector, across every label it
 *     has rows in, is divided by its L2 norm (pe's vote_normalization_level="client", user-level DP).
 * Labels partition the candidates; when no unit spans labels each label's histogram is a separate mechanism on a
 * disjoint set of units (parallel composition), otherwise the joint normalisation above keeps one mechanism per
 * iteration for the whole dataset.
 *
 * Noise comes from the exact discrete Gaussian on a fine grid (src/core/privacy/noise.ts, addGaussianNoise), from
 * cryptoRandom() in production.
 */
import { UserError } from '../errors';
import { addGaussianNoise, type RandomSource } from '../privacy';
import {
  DEFAULT_BLOCKS,
  squaredNorms,
  topK,
  topKReference,
  type KnnBlocks,
  type Matrix,
  type ScoreSpec,
} from '../vector/knn';
import { topKParallel, type ParallelOptions } from '../vector/knnParallel';

export type Metric = 'l2' | 'cosine';
export const METRICS: readonly Metric[] = ['l2', 'cosine'];

export type { Matrix };

export function toMatrix(vectors: readonly ArrayLike<number>[], dim?: number): Matrix {
  const d = dim ?? vectors[0]?.length ?? 0;
  // Shared memory, so the nearest-neighbour worker threads read it without a copy (src/core/vector/knnParallel.ts).
  const data = new Float32Array(new SharedArrayBuffer(vectors.length * d * 4));
  vectors.forEach((v, i) => {
    if (v.length !== d)
      throw new UserError(
        `embedding ${i + 1} has ${v.length} dimensions, expected ${d}`,
        'The embedder must return vectors of one fixed size.',
      );
    for (let j = 0; j < d; j++) {
      const x = v[j]!;
      if (!Number.isFinite(x))
        throw new UserError(`embedding ${i + 1} has a non-finite value`, 'Check the embedding model.');
      data[i * d + j] = x;
    }
  });
  return { rows: vectors.length, dim: d, data };
}

/** A copy with every row scaled to unit L2 norm (zero rows stay zero). */
function normalizeRows(m: Matrix): Matrix {
  const out = new Float32Array(new SharedArrayBuffer(m.data.length * 4));
  for (let i = 0; i < m.rows; i++) {
    let s = 0;
    for (let j = 0; j < m.dim; j++) s += m.data[i * m.dim + j]! ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < m.dim; j++) out[i * m.dim + j] = m.data[i * m.dim + j]! * inv;
  }
  return { rows: m.rows, dim: m.dim, data: out };
}

/**
 * For each query row, the indices of its k nearest candidate rows (k ≤ candidates), nearest first; equal distances
 * go to the lower index. L2: argmin ‖x − c‖² = argmin (‖c‖² − 2x·c) (faiss IndexFlatL2, the aug-pe default);
 * cosine: argmax of x·c after L2-normalising both sides (pe's "cos_sim" mode). Returns an n×k Int32Array.
 * Computed by the blocked WebAssembly kernel (src/core/vector/knn.ts), which returns exactly what the plain loop
 * (nearestNeighboursReference) returns: which candidate a private row votes for depends only on the data.
 */
export function nearestNeighbours(
  queries: Matrix,
  candidates: Matrix,
  k: number,
  metric: Metric,
  blocks: KnnBlocks = DEFAULT_BLOCKS,
): Int32Array {
  const p = prepareScores(queries, candidates, k, metric);
  return topK(p.q, p.c, p.score, k, undefined, blocks);
}

/**
 * nearestNeighbours on worker threads when the problem is large enough to pay for them
 * (src/core/vector/knnParallel.ts); the same answer as nearestNeighbours.
 */
export function nearestNeighboursAsync(
  queries: Matrix,
  candidates: Matrix,
  k: number,
  metric: Metric,
  o: ParallelOptions = {},
): Promise<Int32Array> {
  const p = prepareScores(queries, candidates, k, metric);
  return topKParallel(p.q, p.c, p.score, k, o);
}

/** The plain loop nearestNeighbours must agree with (tests and benchmarks only). */
export function nearestNeighboursReference(queries: Matrix, candidates: Matrix, k: number, metric: Metric): Int32Array {
  const p = prepareScores(queries, candidates, k, metric);
  return topKReference(p.q, p.c, p.score, k);
}

/**
 * Checks sizes and turns the metric into a score to minimise: score(c) = bias(c) − factor·x·c, with bias = ‖c‖²
 * and factor 2 for L2, and for cosine (both sides normalised) bias 0 and factor 1.
 */
function prepareScores(queries: Matrix, candidates: Matrix, k: number, metric: Metric) {
  if (queries.rows > 0 && candidates.rows > 0 && queries.dim !== candidates.dim) {
    throw new UserError(
      `private and synthetic embeddings differ in size (${queries.dim} vs ${candidates.dim})`,
      'Use one embedding model for both.',
    );
  }
  if (!Number.isInteger(k) || k < 1 || k > candidates.rows)
    throw new RangeError(`k must be in [1, ${candidates.rows}]; got ${k}`);
  const q = metric === 'cosine' ? normalizeRows(queries) : queries;
  const c = metric === 'cosine' ? normalizeRows(candidates) : candidates;
  const score: ScoreSpec =
    metric === 'cosine' ? { bias: new Float64Array(c.rows), factor: 1 } : { bias: squaredNorms(c), factor: 2 };
  return { q, c, score };
}

/** One label's voters and candidates. `units[i]` is the privacy unit of private row i. */
export interface VoteGroup {
  private: Matrix;
  units: readonly string[];
  candidates: Matrix;
}

/**
 * Clean (noise-free) vote histograms, one per group, with every unit's votes across all groups scaled to L2 norm 1
 * (see the module comment). k is clamped to the group's candidate count. A group without candidates gets an empty
 * histogram (its rows cast no vote).
 */
export function voteHistograms(groups: readonly VoteGroup[], k: number, metric: Metric): Float64Array[] {
  checkVoteArgs(groups, k);
  return tally(
    groups,
    k,
    groups.map((g) =>
      voters(g) ? nearestNeighbours(g.private, g.candidates, Math.min(k, g.candidates.rows), metric) : null,
    ),
  );
}

/**
 * voteHistograms with the neighbour search on worker threads where it pays (large groups): the same histograms.
 * Groups are searched one after another, each using every thread.
 */
export async function voteHistogramsAsync(
  groups: readonly VoteGroup[],
  k: number,
  metric: Metric,
  o: ParallelOptions = {},
): Promise<Float64Array[]> {
  checkVoteArgs(groups, k);
  const nn: (Int32Array | null)[] = [];
  for (const g of groups)
    nn.push(
      voters(g)
        ? await nearestNeighboursAsync(g.private, g.candidates, Math.min(k, g.candidates.rows), metric, o)
        : null,
    );
  return tally(groups, k, nn);
}

function checkVoteArgs(groups: readonly VoteGroup[], k: number) {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a whole number ≥ 1; got ${k}`);
  for (const g of groups)
    if (g.units.length !== g.private.rows) throw new RangeError('one unit per private row is needed');
}

/** Whether a group casts votes (it has both private rows and candidates). */
const voters = (g: VoteGroup) => g.candidates.rows > 0 && g.private.rows > 0;

/** The histograms from each group's neighbour lists (rows × min(k, candidates)), normalised per unit. */
function tally(groups: readonly VoteGroup[], k: number, nns: readonly (Int32Array | null)[]): Float64Array[] {
  // unit → (group, candidate) → vote count
  const votes = new Map<string, Map<number, number>>();
  const offsets: number[] = [];
  let total = 0;
  for (const g of groups) {
    offsets.push(total);
    total += g.candidates.rows;
  }
  groups.forEach((g, gi) => {
    const nn = nns[gi];
    if (!nn) return;
    const kk = Math.min(k, g.candidates.rows);
    for (let i = 0; i < g.private.rows; i++) {
      const unit = g.units[i]!;
      let v = votes.get(unit);
      if (!v) votes.set(unit, (v = new Map()));
      for (let r = 0; r < kk; r++) {
        const key = offsets[gi]! + nn[i * kk + r]!;
        v.set(key, (v.get(key) ?? 0) + 1);
      }
    }
  });
  const joint = new Float64Array(total);
  for (const v of votes.values()) {
    let s = 0;
    for (const x of v.values()) s += x * x;
    // v_u / ‖v_u‖₂: unit L2 norm per privacy unit (pe NearestNeighbors, vote normalisation "sample"/"client").
    const inv = 1 / Math.sqrt(s);
    for (const [key, x] of v) joint[key]! += x * inv;
  }
  return groups.map((g, gi) => joint.slice(offsets[gi]!, offsets[gi]! + g.candidates.rows));
}

/**
 * The released histogram: h̃ = h + N(0, σ²) on every candidate (std σ: sensitivity 1 after normalisation; Xie et al.
 * 2024 Alg. 1, pe.dp.Gaussian.add_noise), then max(h̃, H) − H with threshold H (aug-pe dp_counter.dp_nn_histogram).
 */
export function privatizeHistogram(
  clean: ArrayLike<number>,
  sigma: number,
  rng: RandomSource,
  threshold = 0,
): Float64Array {
  if (!(threshold >= 0) || !Number.isFinite(threshold))
    throw new RangeError(`threshold must be a finite number ≥ 0; got ${threshold}`);
  const out = new Float64Array(clean.length);
  for (let i = 0; i < clean.length; i++) {
    const noisy = addGaussianNoise(rng, clean[i]!, sigma);
    out[i] = Math.max(noisy, threshold) - threshold;
  }
  return out;
}

/**
 * Rank selection (Xie et al. 2024 §3.3, aug-pe `--select_syn_mode rank`): the indices of the m largest noisy counts,
 * in rank order; equal counts keep index order (a stable sort). Post-processing of the noisy histogram.
 */
export function rankSelect(noisy: ArrayLike<number>, m: number): number[] {
  if (!Number.isInteger(m) || m < 0) throw new RangeError(`m must be a whole number ≥ 0; got ${m}`);
  const idx = Array.from({ length: noisy.length }, (_, i) => i);
  idx.sort((a, b) => noisy[b]! - noisy[a]! || a - b);
  return idx.slice(0, Math.min(m, noisy.length));
}
