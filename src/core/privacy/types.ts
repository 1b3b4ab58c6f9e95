import { UsageError } from '../errors';

/**
 * Mechanism kinds, as stored in ledgers, run journals and exports: the one place these strings are written.
 *
 * THE RULE FOR STORED KINDS (adopted from dp_accounting's `dp_event.py`, Google differential-privacy library: "the
 * meaning of a stored event never changes"): a kind names one mechanism, one neighbouring relation and one meaning of
 * each parameter, for ever. A ledger line written years ago must be valued the same way by every later version. A new
 * meaning (another sampling scheme, another neighbouring relation, another parameterisation, a parameter that is
 * added or reinterpreted) gets a NEW kind appended to MECHANISM_KINDS; an existing kind is never renamed, removed or
 * redefined. test/core/privacy/kinds.test.ts freezes the list and round-trips every kind through a ledger line.
 * docs/LEDGER.md states the rule for people.
 */
export const POISSON_GAUSSIAN = 'poisson-gaussian';
export const GAUSSIAN = 'gaussian';
/** Every stored kind, oldest first. Append only (see the rule above). */
export const MECHANISM_KINDS = Object.freeze([POISSON_GAUSSIAN, GAUSSIAN] as const);
export type MechanismKind = (typeof MECHANISM_KINDS)[number];

export function isMechanismKind(x: unknown): x is MechanismKind {
  return (MECHANISM_KINDS as readonly unknown[]).includes(x);
}

/**
 * One entry of an account. σ is the noise multiplier (noise standard deviation / L2 sensitivity).
 *
 * Neighbouring relation: add/remove one record (or one privacy unit), everywhere in this module. For the
 * Poisson-subsampled Gaussian each step includes every record independently with probability `samplingRate`.
 */
/** Poisson-subsampled Gaussian, `steps` adaptive compositions (DP few-shot generation: one step per token). */
export type PoissonGaussianSpec = { kind: typeof POISSON_GAUSSIAN; sigma: number; samplingRate: number; steps: number };
/** Plain Gaussian, `steps` adaptive compositions (Private Evolution: one step per histogram release). */
export type GaussianSpec = { kind: typeof GAUSSIAN; sigma: number; steps: number };
export type MechanismSpec = PoissonGaussianSpec | GaussianSpec;

/** True for the Poisson-subsampled kind (works on specs, stored charges and shapes alike). */
export function isPoissonGaussian<T extends { kind: string }>(m: T): m is T & { kind: typeof POISSON_GAUSSIAN } {
  return m.kind === POISSON_GAUSSIAN;
}

/** The shape of a run whose σ is to be chosen. */
export interface RunShape {
  kind: MechanismKind;
  /** Required for the Poisson-subsampled Gaussian. */
  samplingRate?: number;
  steps: number;
}

/** The spec of a shape at noise multiplier σ. */
export function specFor(shape: RunShape, sigma: number): MechanismSpec {
  return shape.kind === GAUSSIAN
    ? { kind: GAUSSIAN, sigma, steps: shape.steps }
    : { kind: POISSON_GAUSSIAN, sigma, samplingRate: shape.samplingRate!, steps: shape.steps };
}

/** The shape of a spec (its σ left out). */
export function shapeOf(spec: MechanismSpec): RunShape {
  return isPoissonGaussian(spec)
    ? { kind: spec.kind, samplingRate: spec.samplingRate, steps: spec.steps }
    : { kind: spec.kind, steps: spec.steps };
}

/** A mechanism spec rebuilt from a record with extra members (a stored charge): only the spec's own fields. */
export function specOf(m: MechanismSpec): MechanismSpec {
  return isPoissonGaussian(m)
    ? { kind: m.kind, sigma: m.sigma, samplingRate: m.samplingRate, steps: m.steps }
    : { kind: m.kind, sigma: m.sigma, steps: m.steps };
}

/** `pld`: privacy-loss distribution (default, tightest); `rdp`: Rényi DP (conservative cross-check); `gdp`: Gaussian
 * DP (un-subsampled only). */
export type AccountantName = 'pld' | 'rdp' | 'gdp';

export const ACCOUNTANTS: readonly AccountantName[] = ['pld', 'rdp', 'gdp'];

/** The accountant used wherever none is named: the ledger (ledger/open.ts), the planners and the privacy queries. */
export const DEFAULT_ACCOUNTANT = 'pld' satisfies AccountantName;

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
  if (!isMechanismKind(spec.kind)) {
    throw new UsageError(
      `${at}: unknown kind ${JSON.stringify((spec as { kind?: unknown }).kind)}`,
      `Use ${MECHANISM_KINDS.map((k) => JSON.stringify(k)).join(' or ')}.`,
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
  if (isPoissonGaussian(spec)) {
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
  return !isPoissonGaussian(spec) || spec.samplingRate === 1;
}

/** True when the spec cannot leak anything (no steps, or nobody is ever sampled). */
export function isVacuous(spec: MechanismSpec): boolean {
  return spec.steps === 0 || (isPoissonGaussian(spec) && spec.samplingRate === 0);
}
