/**
 * One search for every calibration: the boundary of a monotone predicate, by bracketing then bisection.
 *
 * The same shape as dp_accounting's `mechanism_calibration.calibrate_dp_mechanism`, which searches over
 * `pld/common.inverse_monotone_function` (Google differential-privacy library, Python). A calibration question is
 * "the smallest σ whose ε is ≤ the target", "the largest μ whose δ is ≤ the target", "the largest step count that
 * fits": a predicate `ok(x)` that is true on one side of an unknown boundary and false on the other. The answer is
 * always the end of the final bracket on the **safe side**, a point where `ok` was evaluated true (or was declared
 * true by the caller), never an interpolated or unchecked point. Background: docs/BACKGROUND.md §3.5.
 *
 * Used by `calibrateSigma` and `maxSteps` (index.ts), `gaussianEpsilon` and `gaussianMuFor` (gaussian.ts), the few-shot
 * planner's joint σ (fewshot/plan.ts) and the ledger's refusal suggestions (ledger/suggest.ts).
 */
import { UserError } from '../errors';

/** Where the predicate holds. 'above': ok(x) for every x ≥ the boundary (σ meets ε; ε meets δ). 'below': ok(x) for
 * every x ≤ the boundary (μ meets δ; a step count fits). */
export type SafeSide = 'above' | 'below';

export interface MonotoneSearch {
  /** What is being searched, for error messages ("σ for ε ≤ 2 at δ = 1e-5"). */
  what: string;
  /** Monotone predicate, true on the safe side. A NaN comparison should make it false (the conservative outcome). */
  ok: (x: number) => boolean;
  safe: SafeSide;
  /** First point evaluated; the bracket grows from it. */
  start: number;
  /**
   * A point below `start` whose outcome is known without evaluating it (e.g. ε = 0 already checked to fail, μ = 0
   * trivially safe). When the bracket must extend downwards it ends there at once instead of walking.
   */
  floor?: { x: number; ok: boolean };
  /** Bracket growth factor per step (x·factor upwards, x/factor downwards). Default 2. */
  factor?: number;
  /** Domain. A walk that would leave it is clamped to the end once; default [0, Infinity). */
  min?: number;
  max?: number;
  /**
   * Bisection midpoint and stopping rule: 'arithmetic' (lo+hi)/2 until hi − lo ≤ relTol·hi; 'geometric' √(lo·hi)
   * until hi/lo − 1 ≤ relTol; 'integer' ⌊(lo+hi)/2⌋ until hi − lo ≤ 1.
   */
  mid: 'arithmetic' | 'geometric' | 'integer';
  /** Relative tolerance of the bisection (not used for 'integer'). Default 1e-12. */
  relTol?: number;
  /** Iteration cap of the bracket walk: past it the search throws. Default 200. */
  maxBracketSteps?: number;
  /** Iteration cap of the bisection: past it the safe end found so far is returned (it is valid, only less tight).
   * Default 200. */
  maxBisectSteps?: number;
  /** Checked before each bisection step: when true, the safe end found so far is returned (valid, only less tight).
   * For searches with a time budget (the ledger's refusal suggestions). */
  stop?: () => boolean;
  /**
   * What to return when no point of the domain is safe (the walk reached the end of the domain and `ok` is still
   * false there). It may throw a UserError with advice. Default: throws a CalibrationError.
   */
  onNoSafePoint?: () => number;
}

/**
 * A search that cannot be answered: no safe point in the domain, or the bracket walk hit its iteration cap. A
 * UserError, so the CLI and the editor show it as one line with advice; callers with better advice pass
 * `onNoSafePoint`.
 */
export class CalibrationError extends UserError {
  constructor(message: string) {
    super(
      message,
      'Check ε, δ and the run size: the target may be out of reach (ε or δ near 0, or far too many steps).',
    );
    this.name = 'CalibrationError';
  }
}

/**
 * The boundary of the monotone predicate `spec.ok`, returned on the safe side: for safe = 'above' the smallest x found
 * with ok(x); for 'below' the largest. When the whole domain beyond `start` on the safe side is safe (the walk reached
 * `min`/`max` with ok still true), that domain end is returned.
 */
export function inverseMonotone(spec: MonotoneSearch): number {
  const factor = spec.factor ?? 2;
  const min = spec.min ?? 0;
  const max = spec.max ?? Infinity;
  const relTol = spec.relTol ?? 1e-12;
  const maxBracket = spec.maxBracketSteps ?? 200;
  const maxBisect = spec.maxBisectSteps ?? 200;
  if (!(factor > 1)) throw new RangeError('inverseMonotone: factor must be > 1');
  if (!(spec.start >= min && spec.start <= max))
    throw new RangeError(`inverseMonotone: start outside [${min}, ${max}]`);

  // Bracket [lo, hi]: the predicate differs at the two ends (or the domain end is reached).
  let lo: number;
  let hi: number;
  let loOk: boolean;
  const startOk = spec.ok(spec.start);
  // Walk upwards when the boundary lies above start: start is safe with 'below', or unsafe with 'above'.
  const up = startOk === (spec.safe === 'below');
  if (!up && spec.floor !== undefined) {
    lo = spec.floor.x;
    loOk = spec.floor.ok;
    hi = spec.start;
    if (loOk === startOk) throw new CalibrationError(`${spec.what}: the known point ${lo} and ${hi} do not bracket`);
  } else {
    let x = spec.start;
    let steps = 0;
    for (;;) {
      const next = up ? Math.min(max, x * factor) : Math.max(min, x / factor);
      if (next === x) {
        // Reached the domain end with the predicate unchanged.
        if (startOk) return x; // the whole rest of the domain is safe: its end is the answer
        if (spec.onNoSafePoint) return spec.onNoSafePoint();
        throw new CalibrationError(`${spec.what}: no value in [${min}, ${max}] is on the safe side`);
      }
      if (++steps > maxBracket)
        throw new CalibrationError(
          `${spec.what}: no bracket after ${maxBracket} steps of ×${factor} from ${spec.start} (last tried ${next})`,
        );
      if (spec.ok(next) !== startOk) {
        if (up) [lo, hi] = [x, next];
        else [lo, hi] = [next, x];
        loOk = up ? startOk : !startOk;
        break;
      }
      x = next;
    }
  }

  // Bisection: keep ok(lo) = loOk and ok(hi) = !loOk.
  const done = (): boolean => {
    if (spec.mid === 'integer') return hi - lo <= 1;
    if (spec.mid === 'geometric') return !(hi / lo - 1 > relTol);
    return !(hi - lo > relTol * hi);
  };
  for (let i = 0; i < maxBisect && !done() && !spec.stop?.(); i++) {
    const m =
      spec.mid === 'integer'
        ? Math.floor((lo + hi) / 2)
        : spec.mid === 'geometric'
          ? Math.sqrt(lo * hi)
          : 0.5 * (lo + hi);
    if (spec.ok(m) === loOk) lo = m;
    else hi = m;
  }
  return loOk ? lo : hi;
}
