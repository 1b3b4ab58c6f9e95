/**
 * Lookahead embeddings (Lin et al., ICLR 2024, PE, Alg. 1 with lookahead degree K; Xie et al., ICML 2024, use
 * the same option as aug-pe `--lookahead_degree`): instead of a candidate's own embedding, the vote uses the mean of
 * the embeddings of K variations of it, so that a candidate is judged by where its variations land. K = 0 keeps the
 * candidate's own embedding (the default, as in every aug-pe script).
 */
import type { Matrix } from './histogram';

/**
 * Rows i·K … i·K + K − 1 of `variations` are the K variations of candidate i (sample-major, as runAugPe writes them);
 * returns the matrix of their means, one row per candidate.
 */
export function lookaheadMean(variations: Matrix, k: number): Matrix {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`lookahead K must be a whole number ≥ 1; got ${k}`);
  if (variations.rows % k !== 0)
    throw new RangeError(`${variations.rows} variation rows are not a multiple of K = ${k}`);
  const n = variations.rows / k;
  const d = variations.dim;
  const out = new Float32Array(n * d);
  const acc = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    acc.fill(0);
    for (let r = 0; r < k; r++) {
      const o = (i * k + r) * d;
      for (let j = 0; j < d; j++) acc[j]! += variations.data[o + j]!;
    }
    for (let j = 0; j < d; j++) out[i * d + j] = acc[j]! / k;
  }
  return { rows: n, dim: d, data: out };
}
