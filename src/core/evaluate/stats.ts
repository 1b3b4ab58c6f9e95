/** Accuracy with a confidence interval, for the evaluation tables (local measurements, never released). */

/** z for a two-sided 95% interval: Φ⁻¹(0.975). */
export const Z95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

/**
 * The Wilson score interval for a binomial proportion with `successes` out of `n` (Wilson 1927, "Probable inference,
 * the law of succession, and statistical inference", JASA 22(158):209–212; recommended over the Wald interval by
 * Brown, Cai & DasGupta 2001, "Interval estimation for a binomial proportion", Statistical Science 16(2):101–133):
 *   (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n).
 * n = 0 gives the uninformative [0, 1].
 */
export function wilson(successes: number, n: number, z = Z95): Interval {
  if (n === 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At p̂ = 0 or 1 the bound is exactly 0 or 1 (rounding would give 1e-17 or 1 − 1e-16).
  return {
    low: successes === 0 ? 0 : Math.max(0, center - half),
    high: successes === n ? 1 : Math.min(1, center + half),
  };
}

export interface Accuracy extends Interval {
  correct: number;
  n: number;
  accuracy: number;
}

export function accuracy(correct: number, n: number): Accuracy {
  return { correct, n, accuracy: n ? correct / n : Number.NaN, ...wilson(correct, n) };
}
