/**
 * What would fit when a reservation is refused: the smallest σ scale and the largest step budget, each checked
 * against the exact composition (the caller's `fits`).
 */
import { inverseMonotone } from '../privacy/calibrate';
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
  let guess: number | undefined;
  try {
    const m = main.mechanism;
    const g = accountant.calibrateSigma({ epsilon: remaining, delta }, shapeOf(m)) / m.sigma;
    if (Number.isFinite(g) && g > 1) guess = g;
  } catch {
    guess = undefined;
  }
  const scale = inverseMonotone({
    what: 'a σ scale that fits the remaining budget',
    ok: (c) => fits(scaled(c)),
    // Safe side: above. More noise never spends more, and the answer is a scale whose charges were checked to fit.
    safe: 'above',
    start: Math.min(guess ?? 2, 1e4),
    floor: { x: 1, ok: false }, // the planned σ was refused
    min: 1,
    max: 1e4,
    mid: 'geometric',
    relTol: 0.002,
    maxBisectSteps: 14,
    stop: deadline(),
    onNoSafePoint: () => NaN, // no σ up to 10⁴ times the planned one fits: no σ suggestion
  });
  if (Number.isFinite(scale)) out.sigmas = scaled(scale).map((c) => c.mechanism.sigma);

  // Steps: scale every charge's steps by T'/T (rounding down); the largest T' < T that fits.
  const T = main.mechanism.steps;
  const withSteps = (t: number) =>
    charges.map((ch) => ({ ...ch, mechanism: { ...ch.mechanism, steps: Math.floor((ch.mechanism.steps * t) / T) } }));
  if (T < 2) return out;
  const good = inverseMonotone({
    what: 'a step budget that fits the remaining budget',
    ok: (t) => fits(withSteps(t)),
    // Safe side: below. Fewer steps never spend more; the answer is a step count checked to fit (or 0: none).
    safe: 'below',
    start: Math.floor(T / 2),
    floor: { x: 0, ok: true }, // no steps spend nothing
    min: 0,
    max: T - 1, // the planned T was refused
    mid: 'integer',
    stop: deadline(),
  });
  if (good >= 1) out.steps = withSteps(good).map((c) => c.mechanism.steps);
  return out;
}

/** A stop rule for a search's bisection: true once SUGGEST_MS have passed since its first call. */
function deadline(): () => boolean {
  let end: number | undefined;
  return () => Date.now() >= (end ??= Date.now() + SUGGEST_MS);
}

/** Rounds up to 3 significant digits (a suggested σ must never be below what fits). */
function roundUp(x: number): number {
  const e = 10 ** (Math.floor(Math.log10(x)) - 2);
  return Number((Math.ceil(x / e - 1e-9) * e).toPrecision(3));
}
