/**
 * What would fit when a reservation is refused: the smallest σ scale and the largest step budget, each checked
 * against the exact composition (the caller's `fits`).
 */
import { shapeOf } from '../privacy/types';
import type { LedgerAccountant } from './accountant';
import type { Charge, Suggestion } from './types';

/** Time each refusal search (σ, steps) may spend refining its answer. */
const SUGGEST_MS = 4000;

/**
 * Searches for the smallest σ scale and the largest step budget that fit. Used only when refusing. Every answer is
 * checked against the exact composition; each search stops refining after SUGGEST_MS (a plan on `*` recomposes
 * every label pool per try), so a suggestion always fits but may be a little conservative on a very large ledger.
 */
export function suggest(
  charges: Charge[],
  fits: (cs: Charge[]) => boolean,
  remaining: number,
  delta: number,
  accountant: Pick<LedgerAccountant, 'calibrateSigma'>,
): Suggestion {
  const out: Suggestion = {};
  const active = charges.filter((c) => c.mechanism.steps > 0);
  const main = [...active].sort((a, b) => b.mechanism.steps - a.mechanism.steps)[0];
  if (!main) return out;

  // σ: scale every charge's σ by c ≥ 1. Start from calibrateSigma on the remaining budget for the largest charge
  // (a guess only: composition is not additive in ε), then bracket and bisect on the exact composition.
  const scaled = (c: number) =>
    charges.map((ch) => ({ ...ch, mechanism: { ...ch.mechanism, sigma: roundUp(ch.mechanism.sigma * c) } }));
  let lo = 1;
  let hi: number | undefined;
  try {
    const m = main.mechanism;
    const guess = accountant.calibrateSigma({ epsilon: remaining, delta }, shapeOf(m)) / m.sigma;
    if (Number.isFinite(guess) && guess > 1) hi = guess;
  } catch {
    hi = undefined;
  }
  if (hi === undefined || !fits(scaled(hi))) {
    if (hi !== undefined) lo = hi;
    hi = Math.max(2, lo * 2);
    while (!fits(scaled(hi)) && hi < 1e4) {
      lo = hi;
      hi *= 2;
    }
  }
  if (fits(scaled(hi))) {
    const deadline = Date.now() + SUGGEST_MS;
    for (let i = 0; i < 14 && hi / lo > 1.002 && Date.now() < deadline; i++) {
      const mid = Math.sqrt(lo * hi);
      if (fits(scaled(mid))) hi = mid;
      else lo = mid;
    }
    out.sigmas = scaled(hi).map((c) => c.mechanism.sigma);
  }

  // Steps: scale every charge's steps by T'/T (rounding down); binary search the largest T' that fits.
  const T = main.mechanism.steps;
  const withSteps = (t: number) =>
    charges.map((ch) => ({ ...ch, mechanism: { ...ch.mechanism, steps: Math.floor((ch.mechanism.steps * t) / T) } }));
  let good = 0;
  let bad = T;
  const deadline = Date.now() + SUGGEST_MS;
  while (bad - good > 1 && Date.now() < deadline) {
    const mid = Math.floor((good + bad) / 2);
    if (fits(withSteps(mid))) good = mid;
    else bad = mid;
  }
  if (good >= 1) out.steps = withSteps(good).map((c) => c.mechanism.steps);
  return out;
}

/** Rounds up to 3 significant digits (a suggested σ must never be below what fits). */
function roundUp(x: number): number {
  const e = 10 ** (Math.floor(Math.log10(x)) - 2);
  return Number((Math.ceil(x / e - 1e-9) * e).toPrecision(3));
}
