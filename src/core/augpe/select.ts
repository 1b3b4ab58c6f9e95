/**
 * Aug-PE's selection of the next population from a released (noisy, thresholded) histogram. Both modes are
 * post-processing of the DP histogram: they read nothing else, so they cost no privacy.
 *
 * - `rank` (Xie et al., ICML 2024, §3.3, aug-pe `--select_syn_mode rank`; the default): the n_c candidates with the
 *   largest noisy counts (rankSelect in histogram.ts).
 * - `prob` (Lin et al., ICLR 2024, PE Alg. 1 "draw N_syn samples with replacement with probabilities P = H/ΣH";
 *   aug-pe `--select_syn_mode prob`): n_c draws with replacement, each candidate with probability proportional to its
 *   noisy count. When every count is 0 (possible after the threshold) the draws are uniform.
 *
 * The draws use a RandomSource: cryptoRandom() in production (runAugPe's default), a seeded one only in tests.
 */
import { uniform01 } from '../runs/random';
import type { RandomSource } from '../privacy';
import { rankSelect } from './histogram';

export type Selection = 'rank' | 'prob';
export const SELECTIONS: readonly Selection[] = ['rank', 'prob'];

/** n draws with replacement, P(j) = w_j / Σw (uniform when Σw = 0); indices in draw order. */
export function probSelect(noisy: ArrayLike<number>, m: number, rng: RandomSource): number[] {
  if (!Number.isInteger(m) || m < 0) throw new RangeError(`m must be a whole number ≥ 0; got ${m}`);
  const n = noisy.length;
  if (n === 0) return [];
  const cum = new Float64Array(n);
  let total = 0;
  for (let j = 0; j < n; j++) {
    const w = noisy[j]!;
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`histogram entry ${j} is not a finite count ≥ 0: ${w}`);
    total += w;
    cum[j] = total;
  }
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    const u = uniform01(rng);
    if (total === 0) {
      out.push(Math.min(n - 1, Math.floor(u * n)));
      continue;
    }
    // The first j with cum[j] > u·total (binary search); zero-weight candidates are never drawn.
    const x = u * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    out.push(lo);
  }
  return out;
}

/** The selection the run uses: rank (deterministic given the histogram) or prob (draws from `rng`). */
export function selectCandidates(
  mode: Selection,
  noisy: ArrayLike<number>,
  m: number,
  rng: () => RandomSource,
): number[] {
  return mode === 'prob' ? probSelect(noisy, m, rng()) : rankSelect(noisy, m);
}
