/**
 * Gaussian differential privacy (GDP) for the un-subsampled Gaussian mechanism, the one Private Evolution uses.
 *
 * Convention: add/remove neighbours, L2 sensitivity 1, noise N(0, σ²). One release is μ-GDP with μ = 1/σ; the
 * privacy loss is exactly N(μ²/2, μ²) in both directions, so the two directions coincide.
 */
import { UsageError } from '../errors';
import { inverseMonotone } from './calibrate';
import { isUnsubsampled, isVacuous, type MechanismSpec } from './types';
import { logNormalCdf, normalCdf, phiDiffScaled } from './special';

/**
 * μ of the composition of un-subsampled Gaussian entries: μ = sqrt(Σ T_i / σ_i²).
 * Source: Dong, Roth, Su, "Gaussian differential privacy" (JRSS-B 2022), Corollary 3.3 (composition of μ_i-GDP is
 * sqrt(Σ μ_i²)-GDP) with μ_i = 1/σ_i per step.
 */
export function gdpMu(specs: readonly MechanismSpec[]): number {
  let mu2 = 0;
  for (const s of specs) {
    if (isVacuous(s)) continue;
    if (!isUnsubsampled(s)) {
      throw new UsageError(
        'the gdp accountant applies only to un-subsampled Gaussian entries (kind "gaussian" or samplingRate 1)',
        'Use the pld (default) or rdp accountant for Poisson-subsampled entries.',
      );
    }
    mu2 += s.steps / (s.sigma * s.sigma);
  }
  return Math.sqrt(mu2);
}

/**
 * δ(ε) of a μ-GDP mechanism: δ = Φ(−ε/μ + μ/2) − e^ε·Φ(−ε/μ − μ/2).
 * Source: Balle & Wang, "Improving the Gaussian mechanism for differential privacy" (ICML 2018), Theorem 8
 * (equivalently Dong, Roth, Su 2022, Corollary 2.13). Valid for every real ε (negative ε is used by the PLD).
 * The e^ε·Φ(·) product is formed in log space / with the scaled erfc, so large ε gives 0 or a tiny δ, never NaN.
 */
export function gaussianDelta(epsilon: number, mu: number): number {
  if (Number.isNaN(epsilon) || Number.isNaN(mu)) return NaN;
  if (mu === 0) return epsilon >= 0 ? 0 : -Math.expm1(epsilon);
  if (mu === Infinity) return 1;
  if (epsilon === Infinity) return 0;
  if (epsilon === -Infinity) return 1;
  const a = -epsilon / mu + mu / 2;
  const b = a - mu;
  let d: number;
  if (a > 1) {
    // Φ(a) ≥ 0.84: no harmful cancellation; the second term in log space.
    d = normalCdf(a) - Math.exp(epsilon + logNormalCdf(b));
  } else {
    // Both terms share the factor e^{−a²/2} because ε − b²/2 = −a²/2: Φ(a) − e^ε Φ(b) = ½e^{−a²/2}[erfcx(−a/√2) −
    // erfcx(−b/√2)].
    d = phiDiffScaled(a, b);
  }
  return Math.min(1, Math.max(0, d));
}

/**
 * The smallest ε ≥ 0 with δ(ε) ≤ delta for a μ-GDP mechanism, by bracketing and bisection (calibrate.ts; the bracket's
 * upper end is returned, so δ(returned ε) ≤ delta always holds). Relative precision ~1e−14.
 */
export function gaussianEpsilon(delta: number, mu: number): number {
  if (!(delta > 0)) return Infinity;
  if (mu === 0 || delta >= 1) return 0;
  if (!Number.isFinite(mu)) return Infinity;
  if (gaussianDelta(0, mu) <= delta) return 0;
  // δ(ε) decreases in ε; ε = 0 is known to fail (checked above). The answer is the bracket's upper end.
  return inverseMonotone({
    what: `ε for δ = ${delta} at μ = ${mu}`,
    ok: (eps) => gaussianDelta(eps, mu) <= delta,
    safe: 'above',
    start: Math.min(1e12, Math.max(1e-6, (mu * mu) / 2 + mu * Math.sqrt(2 * Math.log(1 / delta)))),
    floor: { x: 0, ok: false },
    max: 1e12,
    mid: 'arithmetic',
    relTol: 1e-14,
    onNoSafePoint: () => Infinity,
  });
}

/**
 * The largest μ whose δ at ε is ≤ delta (so σ = sqrt(T)/μ meets the target), by bracketing and bisection on μ
 * (calibrate.ts). δ(ε; μ) increases with μ. Relative precision ~1e−13; the returned μ is always on the safe (smaller)
 * side.
 */
export function gaussianMuFor(epsilon: number, delta: number): number {
  if (!(delta > 0) || !(epsilon >= 0)) return 0;
  // δ(ε; μ) increases with μ; μ = 0 has δ = 0. The answer is the bracket's lower end.
  return inverseMonotone({
    what: `μ for ε = ${epsilon} at δ = ${delta}`,
    ok: (mu) => gaussianDelta(epsilon, mu) <= delta,
    safe: 'below',
    start: 1,
    floor: { x: 0, ok: true },
    max: 1e9,
    mid: 'arithmetic',
    relTol: 1e-13,
  });
}
