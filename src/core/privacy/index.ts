/**
 * Privacy engine: exact accountants for the Poisson-subsampled Gaussian (DP few-shot generation) and the plain
 * Gaussian (Private Evolution), noise calibration, and the noise sampler. See README.md in this folder.
 *
 * Every accountant uses the add/remove neighbouring relation and returns an upper bound:
 *   pld  privacy-loss distribution, connect-the-dots discretisation + FFT (pld/), default and tightest;
 *        plain-Gaussian-only accounts are answered exactly by the analytic Gaussian curve (the Gaussian PLD is
 *        N(μ²/2, μ²), whose δ(ε) is the Balle–Wang formula, so discretising it would only add error);
 *   rdp  Rényi DP with the improved conversion (rdp.ts), a conservative cross-check;
 *   gdp  Gaussian DP (gaussian.ts), exact, only for un-subsampled entries.
 */
import { UsageError, UserError } from '../errors';
import { inverseMonotone } from './calibrate';
import { gaussianDelta, gaussianEpsilon, gaussianMuFor, gdpMu } from './gaussian';
import { composePld, type Group, type PldAccount } from './pld';
import { rdpDelta, rdpEpsilon } from './rdp';
import {
  ACCOUNTANTS,
  DEFAULT_ACCOUNTANT,
  MECHANISM_KINDS,
  isMechanismKind,
  isPoissonGaussian,
  isUnsubsampled,
  isVacuous,
  validateDelta,
  validateEpsilon,
  validateSpecs,
  specFor,
  type AccountantName,
  type MechanismKind,
  type MechanismSpec,
  type RunShape,
} from './types';

export type { AccountantName, MechanismKind, MechanismSpec, RunShape } from './types';
export {
  ACCOUNTANTS,
  DEFAULT_ACCOUNTANT,
  DELTA_MIN,
  GAUSSIAN,
  MAX_STEPS,
  MECHANISM_KINDS,
  POISSON_GAUSSIAN,
  isMechanismKind,
  isPoissonGaussian,
  shapeOf,
  specFor,
  specOf,
  validateSpec,
  validateSpecs,
} from './types';
export { gaussianDelta, gaussianEpsilon, gaussianMuFor, gdpMu } from './gaussian';
export { DEFAULT_RDP_ORDERS, rdpOfSpecs, rdpToDelta, rdpToEpsilon, rdpPoissonGaussian } from './rdp';
export { composePld, clearPldCaches, clearPldCaches as clearPrivacyCaches, pldCacheStats, PldAccount } from './pld';
export {
  type RandomSource,
  cryptoRandom,
  gaussianNoise,
  addGaussianNoise,
  addGaussianNoiseAll,
  noiseGrid,
} from './noise';
export { inverseMonotone, CalibrationError, type MonotoneSearch, type SafeSide } from './calibrate';
export { erfc, erfcx, logErfc, normalCdf, logNormalCdf } from './special';

/** An account reduced to its distinct mechanisms: Poisson groups (q < 1) and the merged Gaussian μ². */
export interface NormalizedAccount {
  groups: Group[];
  /** Σ T/σ² over the un-subsampled entries (μ² of their exact GDP composition). */
  gaussianMu2: number;
}

/**
 * Merges entries: identical (σ, q) entries add their steps; un-subsampled entries (kind "gaussian" or q = 1) merge
 * into one Gaussian with μ² = Σ T/σ² (exact: Dong, Roth, Su 2022, Corollary 3.3). Vacuous entries are dropped.
 */
export function normalizeAccount(specs: readonly MechanismSpec[]): NormalizedAccount {
  const groups = new Map<string, Group>();
  const mu2Terms: number[] = [];
  for (const s of specs) {
    if (isVacuous(s)) continue;
    if (isUnsubsampled(s)) {
      mu2Terms.push(s.steps / (s.sigma * s.sigma));
      continue;
    }
    const q = (s as { samplingRate: number }).samplingRate;
    const key = `${s.sigma}|${q}`;
    const g = groups.get(key);
    if (g) g.steps += s.steps;
    else groups.set(key, { sigma: s.sigma, q, steps: s.steps });
  }
  // Sum in a fixed order so that equal accounts give bit-identical μ (and hit the same caches).
  mu2Terms.sort((a, b) => a - b);
  let gaussianMu2 = 0;
  for (const t of mu2Terms) gaussianMu2 += t;
  return { groups: [...groups.values()], gaussianMu2 };
}

function checkAccountant(accountant: AccountantName): void {
  if (!ACCOUNTANTS.includes(accountant)) {
    throw new UsageError(`unknown accountant ${JSON.stringify(accountant)}`, `Use one of: ${ACCOUNTANTS.join(', ')}.`);
  }
}

function pldGroups(n: NormalizedAccount): Group[] {
  const groups = [...n.groups];
  // The merged Gaussian enters the PLD as one step of q = 1 with σ = 1/μ.
  if (n.gaussianMu2 > 0) groups.push({ sigma: 1 / Math.sqrt(n.gaussianMu2), q: 1, steps: 1 });
  return groups;
}

/**
 * Upper bound on ε at δ for the composition of all specs. Default accountant 'pld'; 'gdp' only when every spec is
 * un-subsampled. Returns 0 for an empty account and Infinity when no finite ε is certified.
 */
export function epsilonFor(
  specs: MechanismSpec[],
  delta: number,
  accountant: AccountantName = DEFAULT_ACCOUNTANT,
): number {
  validateSpecs(specs);
  validateDelta(delta);
  return query(specs, accountant, {
    gaussian: (mu) => gaussianEpsilon(delta, mu),
    rdp: (s) => rdpEpsilon(s, delta),
    pld: (account) => account.epsilon(delta),
  });
}

/** Upper bound on δ at ε for the composition of all specs. */
export function deltaFor(
  specs: MechanismSpec[],
  epsilon: number,
  accountant: AccountantName = DEFAULT_ACCOUNTANT,
): number {
  validateSpecs(specs);
  validateEpsilon(epsilon);
  return query(specs, accountant, {
    gaussian: (mu) => gaussianDelta(epsilon, mu),
    rdp: (s) => rdpDelta(s, epsilon),
    pld: (account) => account.delta(epsilon),
  });
}

/**
 * One question (ε at δ, or δ at ε) of the composition of `specs`, asked of the chosen accountant: gdp and plain-
 * Gaussian-only pld accounts through the analytic μ-GDP curve, rdp through its curve, the rest through the PLD.
 */
function query(
  specs: MechanismSpec[],
  accountant: AccountantName,
  ask: { gaussian: (mu: number) => number; rdp: (specs: MechanismSpec[]) => number; pld: (a: PldAccount) => number },
): number {
  checkAccountant(accountant);
  if (accountant === 'gdp') return ask.gaussian(gdpMu(specs));
  if (accountant === 'rdp') return ask.rdp(specs);
  const n = normalizeAccount(specs);
  if (n.groups.length === 0) return ask.gaussian(Math.sqrt(n.gaussianMu2));
  return ask.pld(composePld(pldGroups(n))!);
}

export interface CalibrateOptions {
  /** Entries already spent on the same data (the run must fit on top of them). Default none. */
  existing?: MechanismSpec[];
  /**
   * Relative tolerance on σ: the answer σ meets the target and σ / (1 + relTol) does not (as computed by the
   * accountant). Default 1e-3 for pld and rdp; the analytic Gaussian cases are solved to ~1e-12 (relTol is not used
   * there).
   */
  relTol?: number;
}

/** Search domain of calibrateSigma for the numerical accountants. */
const SIGMA_MIN = 1e-6;
const SIGMA_MAX = 1e7;

/** Default relative tolerance of calibrateSigma for the numerical accountants. */
export const CALIBRATION_REL_TOL = 1e-3;

function validateShape(shape: RunShape): void {
  if (!shape || !isMechanismKind(shape.kind))
    throw new UsageError(`run shape: kind must be one of ${MECHANISM_KINDS.map((k) => JSON.stringify(k)).join(', ')}`);
  validateSpecs([specFor(shape, 1)]);
}

/**
 * The smallest σ (within `relTol`, always on the safe side: the returned σ meets the target as computed by the same
 * accountant) such that the run, composed with `existing`, has ε ≤ target.epsilon at target.delta.
 * Throws a UserError when no σ can meet the target because the existing entries alone already exceed it.
 */
export function calibrateSigma(
  target: { epsilon: number; delta: number },
  shape: RunShape,
  accountant: AccountantName = DEFAULT_ACCOUNTANT,
  options: CalibrateOptions = {},
): number {
  validateShape(shape);
  validateDelta(target.delta);
  validateEpsilon(target.epsilon);
  checkAccountant(accountant);
  const existing = options.existing ?? [];
  validateSpecs(existing);
  const { epsilon, delta } = target;
  if (shape.steps === 0 || (isPoissonGaussian(shape) && shape.samplingRate === 0)) {
    if (existing.length && epsilonFor(existing, delta, accountant) > epsilon)
      throw overspent(existing, epsilon, delta, accountant);
    return 0;
  }
  if (!(epsilon > 0))
    throw new UsageError('target epsilon must be > 0: no finite noise gives ε = 0', 'Choose a positive ε.');
  const unsub = !isPoissonGaussian(shape) || shape.samplingRate === 1;
  const allUnsub = unsub && existing.every((s) => isVacuous(s) || isUnsubsampled(s));
  if (accountant === 'gdp' && !allUnsub) gdpMu([specFor(shape, 1), ...existing]); // throws the gdp usage error
  if (allUnsub && accountant !== 'rdp') {
    // Exact: μ_total² = μ_existing² + T/σ², and the largest admissible μ_total is gaussianMuFor(ε, δ).
    const muMax = gaussianMuFor(epsilon, delta);
    const mu2Existing = existing.reduce((a, s) => a + (isVacuous(s) ? 0 : s.steps / (s.sigma * s.sigma)), 0);
    const room = muMax * muMax - mu2Existing;
    if (!(room > 0)) throw overspent(existing, epsilon, delta, accountant);
    let sigma = Math.sqrt(shape.steps / room) * (1 + 1e-12);
    const eps = (s: number) => epsilonFor([...existing, specFor(shape, s)], delta, accountant);
    for (let i = 0; i < 60 && eps(sigma) > epsilon; i++) sigma *= 1 + 1e-12 * 2 ** i;
    return sigma;
  }
  const relTol = options.relTol ?? CALIBRATION_REL_TOL;
  const f = (s: number) => epsilonFor([...existing, specFor(shape, s)], delta, accountant);
  if (existing.length) {
    const base = epsilonFor(existing, delta, accountant);
    if (base >= epsilon) throw overspent(existing, epsilon, delta, accountant);
  }
  // Initial guess from the central-limit GDP approximation of the subsampled Gaussian (Bu, Dong, Long, Su 2020,
  // Thm 5): μ ≈ q·sqrt(T·(e^{1/σ²} − 1)). Only a starting point: the bracket below is checked with the accountant.
  const q = isPoissonGaussian(shape) ? shape.samplingRate! : 1;
  const mu = gaussianMuFor(epsilon, delta);
  let guess = Math.sqrt(shape.steps) / Math.max(mu, 1e-12);
  if (q < 1) {
    const r = (mu * mu) / (q * q * shape.steps);
    guess = 1 / Math.sqrt(Math.log1p(r));
  }
  if (!Number.isFinite(guess) || guess <= 0) guess = 1;
  // ε(σ) decreases in σ: walk from the guess by factors of 1.25 to a bracket, then bisect geometrically; the answer
  // is the bracket's upper end, a σ whose ε was computed ≤ the target.
  return inverseMonotone({
    what: `σ for ε = ${epsilon} at δ = ${delta}`,
    ok: (s) => f(s) <= epsilon,
    safe: 'above',
    start: Math.min(SIGMA_MAX, Math.max(SIGMA_MIN, guess)),
    factor: 1.25,
    min: SIGMA_MIN,
    max: SIGMA_MAX,
    mid: 'geometric',
    relTol,
    // The guess is within a few factors of the answer; 80 steps of 1.25 span 5e7. Fail fast on unreachable targets.
    maxBracketSteps: 80,
    onNoSafePoint: () => {
      throw new UserError(
        `no σ up to ${SIGMA_MAX} meets ε = ${epsilon} at δ = ${delta}`,
        'Allow more ε, fewer steps or a lower sampling rate.',
      );
    },
  });
}

function overspent(existing: MechanismSpec[], epsilon: number, delta: number, accountant: AccountantName): UserError {
  const spent = epsilonFor(existing, delta, accountant);
  return new UserError(
    `the existing entries already spend ε = ${spent.toPrecision(4)} at δ = ${delta.toPrecision(3)}, which leaves no room under ε = ${epsilon}`,
    'Raise the total budget or use another dataset; no amount of noise can make a new run fit.',
  );
}

/**
 * The largest step count T ≥ 0 such that the mechanism (σ, q) run for T steps, composed with `existing`, has
 * ε ≤ target.epsilon at target.delta (what token or iteration budget still fits). Returns 0 when none fits.
 */
export function maxSteps(
  target: { epsilon: number; delta: number },
  mechanism: { kind: MechanismKind; sigma: number; samplingRate?: number },
  accountant: AccountantName = DEFAULT_ACCOUNTANT,
  options: { existing?: MechanismSpec[]; limit?: number } = {},
): number {
  validateDelta(target.delta);
  validateEpsilon(target.epsilon);
  checkAccountant(accountant);
  const existing = options.existing ?? [];
  const limit = options.limit ?? 1e7;
  const spec = (steps: number): MechanismSpec =>
    specFor({ kind: mechanism.kind, samplingRate: mechanism.samplingRate, steps }, mechanism.sigma);
  validateSpecs([spec(1), ...existing]);
  const fits = (t: number) => epsilonFor([...existing, spec(t)], target.delta, accountant) <= target.epsilon;
  if (!fits(0) || !fits(1)) return 0;
  if (limit < 2) return limit >= 1 ? 1 : 0;
  // fits(T) holds for every T up to the answer: double from 2 (1 is known to fit), then bisect on integers.
  return inverseMonotone({
    what: `steps for ε = ${target.epsilon} at δ = ${target.delta}`,
    ok: fits,
    safe: 'below',
    start: 2,
    floor: { x: 1, ok: true },
    max: limit,
    mid: 'integer',
  });
}
