import { UserError } from './errors';
import type { Ledger, LedgerDataset, RunPlan } from './ledger';

/**
 * "Use the largest ε that fits": after a refusal, the largest run ε (the form's knob) whose plan the ledger admits.
 *
 * The ledger's own suggestion (Ledger.check → PlanCheck.suggestion) is in mechanism terms (a larger σ, fewer steps);
 * the form asks for the run's ε, so this searches on ε with the same admission check. Admission is monotone in the
 * run's ε (a larger ε calibrates a smaller σ, and every accountant's ε grows as σ shrinks), so a geometric bisection
 * on [requested/2^k, requested] finds the boundary. The answer is rounded DOWN to two significant digits and is
 * always a value the check admitted (the conservative side); nothing is reserved or written.
 */
export interface LargestFitOptions {
  /** Whether a run at ε is admitted by the ledger (plan + Ledger.check; reads only). */
  fits: (epsilon: number) => Promise<boolean>;
  /** The refused ε. */
  requested: number;
  /** Below this the answer is not offered (the budget is in effect spent). Default requested/1000. */
  floor?: number;
  /** Bisection steps after the bracket (each one plan + check). Default 10 (ratio 2^(1/2^10) ≈ 0.07 % per step). */
  steps?: number;
}

/** Rounds x down to 2 significant digits (0.387 → 0.38; 1.26 → 1.2). */
export function roundDown2(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 0;
  const scale = 10 ** (Math.floor(Math.log10(x)) - 1);
  // The small epsilon guards against 0.38/0.01 = 37.99999… rounding a representable value down a step.
  return Math.floor(x / scale + 1e-9) * scale;
}

/** The largest ε (2 significant digits, rounded down) that the ledger admits, or undefined when none ≥ floor does. */
export async function largestFittingEpsilon(o: LargestFitOptions): Promise<number | undefined> {
  const floor = o.floor ?? o.requested / 1000;
  // Bracket: halve until a value fits (hi never fits, lo fits).
  let hi = o.requested;
  let lo = hi / 2;
  while (!(await o.fits(lo))) {
    hi = lo;
    lo /= 2;
    if (lo < floor) return undefined;
  }
  for (let i = 0; i < (o.steps ?? 10) && hi / lo > 1.002; i++) {
    const mid = Math.sqrt(lo * hi);
    if (await o.fits(mid)) lo = mid;
    else hi = mid;
  }
  // Rounded down from an admitted value: admitted too by monotonicity, checked again to be sure.
  const rounded = Number(roundDown2(lo).toPrecision(2));
  return rounded >= floor && (await o.fits(rounded)) ? rounded : undefined;
}

/**
 * The largest ε that fits for a planner of the shape both algorithms share (planFewShot, planAugPe): `plan(ε)` →
 * a plan whose `ledgerPlan` the ledger checks. An ε the planner cannot calibrate (a UserError) counts as not fitting.
 */
export function largestEpsilonFor(
  ledger: Pick<Ledger, 'check'>,
  target: LedgerDataset,
  requested: number,
  plan: (epsilon: number) => { ledgerPlan: RunPlan },
): Promise<number | undefined> {
  return largestFittingEpsilon({
    requested,
    fits: async (epsilon) => {
      let p: { ledgerPlan: RunPlan };
      try {
        p = plan(epsilon);
      } catch (e) {
        if (e instanceof UserError) return false;
        throw e;
      }
      return (await ledger.check(target, p.ledgerPlan)).fits;
    },
  });
}
