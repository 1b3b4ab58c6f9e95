/**
 * A small, exact accountant for ledger tests that do not depend on src/core/privacy: every mechanism is treated as
 * an un-subsampled Gaussian (q ignored, which can only over-count), composed as Gaussian-DP with
 * μ = sqrt(Σ steps/σ²) (Dong, Roth & Su 2019, Cor. 3.3), and converted with the analytic Gaussian formula
 * δ(ε) = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2) (Balle & Wang 2018, Thm 8). `calls` counts epsilonFor calls.
 */
import type { LedgerAccountant, MechanismSpec } from '../../../src/core/ledger';

/** erfc with relative error < 1.2e-7 (Numerical Recipes, erfcc). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
const Phi = (x: number) => 0.5 * erfc(-x / Math.SQRT2);

export function mu(specs: MechanismSpec[]): number {
  return Math.sqrt(specs.reduce((a, s) => a + s.steps / (s.sigma * s.sigma), 0));
}

export function gdpDelta(m: number, eps: number): number {
  if (m === 0) return 0;
  return Phi(-eps / m + m / 2) - Math.exp(eps) * Phi(-eps / m - m / 2);
}

export function gdpEpsilon(m: number, delta: number): number {
  if (m === 0) return 0;
  let lo = 0;
  let hi = 1;
  while (gdpDelta(m, hi) > delta) hi *= 2;
  if (gdpDelta(m, 0) <= delta) return 0;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (gdpDelta(m, mid) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

export function gdpAccountant(): LedgerAccountant & { calls: number } {
  const acc = {
    name: 'test-gdp',
    calls: 0,
    epsilonFor(specs: MechanismSpec[], delta: number) {
      acc.calls++;
      return gdpEpsilon(mu(specs), delta);
    },
    calibrateSigma(target: { epsilon: number; delta: number }, shape: { steps: number }) {
      // μ needed for target ε, then σ = sqrt(steps)/μ.
      let lo = 1e-6;
      let hi = 100;
      for (let i = 0; i < 100; i++) {
        const mid = (lo + hi) / 2;
        if (gdpEpsilon(mid, target.delta) > target.epsilon) hi = mid;
        else lo = mid;
      }
      return Math.sqrt(shape.steps) / lo;
    },
  };
  return acc;
}

/**
 * The same Gaussian-DP composition as a budget filter: admitting runs while μ² = Σ steps/σ² stays within the budget's
 * μ is valid under fully adaptive composition (Smith & Thakurta 2022, "Fully adaptive composition for Gaussian
 * differential privacy"), and ignoring q only over-counts. Lets ledger tests keep exact closed-form expectations.
 */
export function gdpFilter(): LedgerAccountant & { calls: number } {
  const acc = gdpAccountant();
  return Object.assign(acc, { name: 'test-gdp-filter' });
}
