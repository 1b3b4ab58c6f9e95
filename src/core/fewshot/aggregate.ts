import type { TokenLogprob } from '../providers/types';

/**
 * Restricts one prompt's next-token distribution to the public candidate set and renormalises it (Tang et al. 2024,
 * "RVP": p_i(v) = P(v | P_i) / Σ_{u∈V} P(u | P_i) for v ∈ V). A candidate the API did not return gets probability 0.
 * If no candidate was returned at all the result is the zero vector; the per-prompt L2 sensitivity bound √2 of the
 * mean still holds, since ‖p − 0‖₂ ≤ ‖p‖₁ = 1 ≤ √2 for any p on the simplex. decode.ts gives the same zero vector to
 * a private prompt the server refused (providers/refusal.ts; docs/ARCHITECTURE.md, "Provider failures").
 */
export function restrictToCandidates(top: readonly TokenLogprob[], candidates: readonly string[]): Float64Array {
  const index = new Map(candidates.map((c, i) => [c, i]));
  const out = new Float64Array(candidates.length);
  let max = -Infinity;
  for (const t of top) if (index.has(t.token) && Number.isFinite(t.logprob)) max = Math.max(max, t.logprob);
  if (max === -Infinity) return out;
  let sum = 0;
  for (const t of top) {
    const i = index.get(t.token);
    if (i === undefined || !Number.isFinite(t.logprob) || out[i]! > 0) continue; // first occurrence wins
    const p = Math.exp(t.logprob - max);
    out[i] = p;
    sum += p;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/**
 * The per-token DP aggregator (Tang et al. 2024, Alg. 1 with the Gaussian mechanism; reference code
 * `run_exp_*.py`: p̃ = mean_i p_i + N(0, (√2·σ/M)² I)):
 * - mean of the M restricted distributions (L2 sensitivity √2/M under add/remove of one record, which changes at
 *   most one p_i);
 * - Gaussian noise of standard deviation σ·√2/M on every candidate coordinate;
 * - argmax over the candidate set only (never over tokens outside it).
 * Returns the index of the chosen candidate.
 */
export function noisyArgmax(
  distributions: readonly Float64Array[],
  m: number,
  sigma: number,
  noise: (std: number) => number,
): number {
  if (distributions.length !== m)
    throw new Error(`noisyArgmax: expected ${m} distributions, got ${distributions.length}`);
  const k = distributions[0]!.length;
  const std = (sigma * Math.SQRT2) / m;
  let best = -1;
  let bestScore = -Infinity;
  for (let v = 0; v < k; v++) {
    let mean = 0;
    for (const d of distributions) mean += d[v]!;
    mean /= m;
    const score = mean + noise(std);
    if (score > bestScore) {
      bestScore = score;
      best = v;
    }
  }
  return best;
}
