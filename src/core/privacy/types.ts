import { UsageError } from '../errors';

/**
 * One entry of an account. σ is the noise multiplier (noise standard deviation / L2 sensitivity).
 *
 * Neighbouring relation: add/remove one record (or one privacy unit), everywhere in this module. For the
 * Poisson-subsampled Gaussian each step includes every record independently with probability `samplingRate`.
 */
export type MechanismSpec =
  /** Poisson-subsampled Gaussian, `steps` adaptive compositions (DP few-shot generation: one step per token). */
  | { kind: 'poisson-gaussian'; sigma: number; samplingRate: number; steps: number }
  /** Plain Gaussian, `steps` adaptive compositions (Private Evolution: one step per histogram release). */
  | { kind: 'gaussian'; sigma: number; steps: number };

/** `pld`: privacy-loss distribution (default, tightest); `rdp`: Rényi DP (conservative cross-check); `gdp`: Gaussian
 * DP (un-subsampled only). */
export type AccountantName = 'pld' | 'rdp' | 'gdp';

export const ACCOUNTANTS: readonly AccountantName[] = ['pld', 'rdp', 'gdp'];

/** The largest step count accepted for one entry (far beyond any real run; keeps the arithmetic exact). */
export const MAX_STEPS = 1e9;

function where(i: number | undefined): string {
  return i === undefined ? 'mechanism' : `mechanism #${i + 1}`;
}

/** Throws a UsageError naming the first bad field of a spec. */
export function validateSpec(spec: MechanismSpec, index?: number): void {
  const at = where(index);
  if (spec === null || typeof spec !== 'object')
    throw new UsageError(`${at}: expected an object with kind, sigma and steps`);
  if (spec.kind !== 'poisson-gaussian' && spec.kind !== 'gaussian') {
    throw new UsageError(
      `${at}: unknown kind ${JSON.stringify((spec as { kind?: unknown }).kind)}`,
      'Use "poisson-gaussian" or "gaussian".',
    );
  }
  if (typeof spec.sigma !== 'number' || !(spec.sigma > 0) || !Number.isFinite(spec.sigma)) {
    throw new UsageError(
      `${at}: sigma must be a positive finite number; got ${String(spec.sigma)}`,
      'σ is the noise standard deviation divided by the L2 sensitivity.',
    );
  }
  if (typeof spec.steps !== 'number' || !Number.isInteger(spec.steps) || spec.steps < 0 || spec.steps > MAX_STEPS) {
    throw new UsageError(`${at}: steps must be a whole number in [0, ${MAX_STEPS}]; got ${String(spec.steps)}`);
  }
  if (spec.kind === 'poisson-gaussian') {
    const q = spec.samplingRate;
    if (typeof q !== 'number' || !(q >= 0 && q <= 1)) {
      throw new UsageError(
        `${at}: samplingRate must be a number in [0, 1]; got ${String(q)}`,
        'The sampling rate is the probability that a record is included at each step.',
      );
    }
  }
}

export function validateSpecs(specs: readonly MechanismSpec[]): void {
  if (!Array.isArray(specs)) throw new UsageError('mechanisms must be a list');
  specs.forEach((s, i) => validateSpec(s, i));
}

/**
 * The smallest δ accepted anywhere. Below it the PLD's double-precision tails no longer resolve δ: measured with
 * calibrateSigma (ε 3, q 0.01–0.1, 12 steps), σ grows smoothly down to δ 1e-13, jumps at 1e-15 (a numerical floor,
 * not privacy) and the search never ends at 1e-22. 1e-12 keeps a margin; it is far below 1/n for any dataset under
 * the size limit (the default 1/(n·ln n) reaches 1e-12 only near n = 4·10¹⁰).
 */
export const DELTA_MIN = 1e-12;

export function validateDelta(delta: number): void {
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) {
    throw new UsageError(
      `delta must be a number strictly between 0 and 1; got ${String(delta)}`,
      'A common choice is 1/(n·ln n) for n records, which is below 1/n.',
    );
  }
  if (delta < DELTA_MIN) {
    throw new UsageError(
      `δ = ${delta} is below ${DELTA_MIN}, the smallest δ the privacy accountants compute reliably`,
      `Use δ ≥ ${DELTA_MIN} (the default is 1/(n·ln n) for n records). If a dataset's δ was set this low, set it again: private-fewshot budget <dataset> --delta D.`,
    );
  }
}

export function validateEpsilon(epsilon: number): void {
  if (typeof epsilon !== 'number' || !(epsilon >= 0) || !Number.isFinite(epsilon)) {
    throw new UsageError(`epsilon must be a finite number ≥ 0; got ${String(epsilon)}`);
  }
}

/** True when the spec is a plain Gaussian in disguise (no subsampling). */
export function isUnsubsampled(spec: MechanismSpec): boolean {
  return spec.kind === 'gaussian' || spec.samplingRate === 1;
}

/** True when the spec cannot leak anything (no steps, or nobody is ever sampled). */
export function isVacuous(spec: MechanismSpec): boolean {
  return spec.steps === 0 || (spec.kind === 'poisson-gaussian' && spec.samplingRate === 0);
}
