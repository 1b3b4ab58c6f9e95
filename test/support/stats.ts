// Statistics helpers for tests: log-gamma, the binomial CDF and Clopper–Pearson bounds.

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~1e-15 relative). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P[X ≤ k] for X ~ Binomial(n, p), summed in log space. */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  const lnC = (i: number) => logGamma(n + 1) - logGamma(i + 1) - logGamma(n - i + 1);
  let max = -Infinity;
  const terms: number[] = [];
  for (let i = 0; i <= k; i++) {
    const t = lnC(i) + i * Math.log(p) + (n - i) * Math.log1p(-p);
    terms.push(t);
    if (t > max) max = t;
  }
  let s = 0;
  for (const t of terms) s += Math.exp(t - max);
  return Math.min(1, Math.exp(max + Math.log(s)));
}

/**
 * Clopper–Pearson exact interval for k successes in n trials, each side at level alpha (one-sided).
 * lower: the p with P[X ≥ k] = alpha; upper: the p with P[X ≤ k] = alpha. Found by bisection.
 */
export function clopperPearson(k: number, n: number, alpha: number): { lower: number; upper: number } {
  const solve = (f: (p: number) => number): number => {
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 80; i++) {
      const mid = (lo + hi) / 2;
      if (f(mid) > 0) hi = mid;
      else lo = mid;
    }
    return (lo + hi) / 2;
  };
  // P[X ≥ k] increases in p; lower bound where it equals alpha.
  const lower = k === 0 ? 0 : solve((p) => 1 - binomialCdf(k - 1, n, p) - alpha);
  // P[X ≤ k] decreases in p; upper bound where it equals alpha.
  const upper = k === n ? 1 : solve((p) => alpha - binomialCdf(k, n, p));
  return { lower, upper };
}

/** P[X ≥ k] for X ~ Binomial(n, p), as the lower tail of the complement (no cancellation for small tails). */
export function binomialSf(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  return binomialCdf(n - k, n, 1 - p);
}

/** The Binomial(n, p) probability mass function, term by term in log space (0 < p < 1). */
function binomialPmf(n: number, p: number): Float64Array {
  const out = new Float64Array(n + 1);
  const lnN = logGamma(n + 1);
  for (let i = 0; i <= n; i++)
    out[i] = Math.exp(lnN - logGamma(i + 1) - logGamma(n - i + 1) + i * Math.log(p) + (n - i) * Math.log1p(-p));
  return out;
}

/**
 * The acceptance region of a two-sided binomial test of X ~ Binomial(n, p0): the smallest lo and largest hi with
 * P[X < lo] ≤ alpha/2 and P[X > hi] ≤ alpha/2, so a correct implementation fails with probability ≤ alpha.
 * `accept(p)` is the probability that X ~ Binomial(n, p) lands in [lo, hi] (the chance a wrong p goes unnoticed).
 * Tails are summed from the outside in, so probabilities far below machine epsilon stay exact.
 */
export function binomialTest(
  n: number,
  p0: number,
  alpha: number,
): { lo: number; hi: number; falseFailure: number; accept: (p: number) => number } {
  const pmf = binomialPmf(n, p0);
  let lo = 0;
  let below = 0; // P[X < lo]
  while (lo <= n && below + pmf[lo]! <= alpha / 2) below += pmf[lo++]!;
  let hi = n;
  let above = 0; // P[X > hi]
  while (hi >= 0 && above + pmf[hi]! <= alpha / 2) above += pmf[hi--]!;
  return {
    lo,
    hi,
    falseFailure: below + above,
    accept: (p) => {
      if (p <= 0) return lo === 0 ? 1 : 0;
      if (p >= 1) return hi === n ? 1 : 0;
      const q = binomialPmf(n, p);
      let s = 0;
      for (let i = lo; i <= hi; i++) s += q[i]!;
      return Math.min(1, s);
    },
  };
}
