import type { Dataset } from '../data';
import { UsageError, UserError } from '../errors';
import type { Charge, Partition, RunPlan } from '../ledger';
import { checkCounts, checkLabels } from '../plan-checks';
import {
  calibrateSigma,
  DEFAULT_ACCOUNTANT,
  epsilonFor,
  GAUSSIAN,
  inverseMonotone,
  POISSON_GAUSSIAN,
  type MechanismSpec,
} from '../privacy';

export const FEWSHOT_DEFAULTS = {
  prompts: 10,
  examplesPerPrompt: 2,
  maxTokens: 64,
  /** Lookahead for the offline model (free requests, with prefetch); network models default to 1. */
  lookahead: 4,
  /** Share of ε that the noisy pool-count release alone spends (ε_c = share·ε at δ). */
  countShare: 0.1,
} as const;

export interface FewShotSettings {
  /** The labels to write demonstrations for. Named by the user and treated as public. */
  labels: string[];
  /** Demonstrations per label. */
  shots: number;
  /** The ε this run may spend (at the ledger's δ unless `delta` is given): count release and token steps composed. */
  epsilon: number;
  delta: number;
  /** M: prompts per token (default 10). */
  prompts?: number;
  /** Expected private examples per prompt (default 2); sets q = M·N/ñ with ñ the noisy pool count. */
  examplesPerPrompt?: number;
  /** T_max: token budget per demonstration (default 64). */
  maxTokens?: number;
  /** Share of ε that the noisy pool-count release spends on its own (default 0.1), in (0, 1). */
  countShare?: number;
}

/**
 * The DP release of the label pool sizes, which sets the sampling rates: Gaussian noise (L2 sensitivity 1) on the
 * counts, drawn once, after the run is reserved in the ledger and before anything else reads the pools.
 */
export interface CountRelease {
  /** σ_c: noise std on each count (the noise multiplier, as the sensitivity is 1). */
  sigma: number;
  /** The count release alone meets (epsilon, delta) = countShare·(ε, δ); the token steps get the rest. */
  epsilon: number;
  delta: number;
  /** One Gaussian step per label pool, or one on the whole dataset when privacy units may span labels. */
  charges: Charge[];
}

/** One label's share of the run as planned from public parameters alone. */
export interface PlannedLabel {
  label: string;
  partition: Partition;
  /** Token steps charged: shots × T_max. */
  steps: number;
}

export interface FewShotPlan {
  settings: Required<FewShotSettings>;
  labels: PlannedLabel[];
  counts: CountRelease;
  /**
   * ε at δ of the planned charges composed by PLD (count release ∘ stand-in steps); ≤ settings.epsilon. The run's
   * guarantee is (ε, δ) by basic composition of the two parts, which also holds for the adaptively chosen steps.
   */
  epsilonRun: number;
  accountant: 'pld';
  /**
   * True when the dataset has a privacy-unit column: a unit may then hold rows of several labels, so the pools are
   * not known to be disjoint and everything composes in sequence on the whole dataset. Decided from the column
   * mapping (public), never from whether units actually span labels (private).
   */
  sequential: boolean;
  /**
   * What is reserved before any private data is read: the count release plus a stand-in for the token steps (plain
   * Gaussian steps, i.e. q = 1, calibrated so the run composes to ε). The real step σ and q depend on the noisy
   * counts; they are reserved once those are drawn (see calibrateFromCounts and runFewShot).
   */
  ledgerPlan: RunPlan;
  warnings: string[];
}

/** One label's mechanism, calibrated from its noisy pool count (a DP output, which may be shown as such). */
export interface LabelPlan {
  label: string;
  partition: Partition;
  /** ñ: the label's pool size plus Gaussian noise (DP output). */
  noisyPool: number;
  /** q̃ = min(1, M·N / max(ñ, 1)). */
  samplingRate: number;
  sigma: number;
  /** Token steps charged: shots × T_max. */
  steps: number;
  /** Noise std on the averaged distribution: σ·√2/M. */
  noiseStd: number;
}

/** The token-step mechanisms of a run, a function of public settings and the noisy counts only. */
export interface FewShotMechanism {
  labels: LabelPlan[];
  /** The token-step charges, reserved after the count release. */
  ledgerPlan: RunPlan;
  /** ε at δ of the count release composed with these steps by PLD (≤ the planned ε). */
  epsilonRun: number;
  warnings: string[];
}

/**
 * Plans a DP few-shot run from public parameters only (settings, labels, the column mapping); it reads no row.
 * The run is two releases: (1) the label pool sizes with Gaussian noise σ_c, meeting s·(ε, δ) alone (s = countShare);
 * (2) per label, shots × T_max Poisson-subsampled Gaussian token steps (Tang et al. 2024) at q̃ = min(1, M·N/ñ),
 * whose σ is calibrated after the counts are drawn so that (2) alone meets (1 − s)·(ε, δ). The steps are chosen from
 * the output of (1), so the budget is split in advance and the two parts add up by basic composition, which holds
 * for adaptively chosen mechanisms (Dwork & Roth 2014, Thm 3.16): (ε, δ) in total. q̃ and σ are post-processing of
 * the count release (Dwork & Roth 2014, Prop 2.1): neighbouring datasets run mechanisms that differ only through a
 * charged DP output. A label's shots compose in sequence; different labels' pools are disjoint and compose in
 * parallel, unless a privacy-unit column is set, then every charge goes on the whole dataset.
 */
export function planFewShot(ds: Pick<Dataset, 'columns'>, s: FewShotSettings): FewShotPlan {
  const settings: Required<FewShotSettings> = {
    ...s,
    prompts: s.prompts ?? FEWSHOT_DEFAULTS.prompts,
    examplesPerPrompt: s.examplesPerPrompt ?? FEWSHOT_DEFAULTS.examplesPerPrompt,
    maxTokens: s.maxTokens ?? FEWSHOT_DEFAULTS.maxTokens,
    countShare: s.countShare ?? FEWSHOT_DEFAULTS.countShare,
  };
  const { prompts: m, examplesPerPrompt: n, maxTokens: tMax, shots, epsilon, delta, countShare } = settings;
  checkLabels(settings.labels);
  checkCounts([
    ['shots', shots],
    ['prompts (M)', m],
    ['max tokens', tMax],
  ]);
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`examples per prompt must be a positive number; got ${n}`);
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new UsageError(`ε must be a positive number; got ${epsilon}`);
  if (!(countShare > 0 && countShare < 1))
    throw new UsageError(`the count share must be a number in (0, 1); got ${countShare}`);

  const sequential = ds.columns.unit !== undefined;
  const warnings: string[] = [];
  if (sequential)
    warnings.push(
      'A privacy-unit column is set, so a unit may hold rows of several labels: all labels are charged to the whole dataset and compose in sequence.',
    );
  const steps = shots * tMax;
  const labels: PlannedLabel[] = settings.labels.map((label) => ({
    label,
    partition: sequential ? '*' : (`label:${label}` as Partition),
    steps,
  }));
  // The count release: a Gaussian with L2 sensitivity 1 (Dwork & Roth 2014, Thm A.1; exact curve of Balle & Wang
  // 2018, Thm 8, through the PLD accountant) meeting countShare·(ε, δ) on its own.
  const countTarget = { epsilon: countShare * epsilon, delta: countShare * delta };
  const countSigma = calibrateSigma(countTarget, { kind: GAUSSIAN, steps: 1 }, DEFAULT_ACCOUNTANT);
  const countSpec: MechanismSpec = { kind: GAUSSIAN, sigma: countSigma, steps: 1 };
  const counts: CountRelease = {
    sigma: countSigma,
    ...countTarget,
    charges: sequential
      ? [{ partition: '*', mechanism: countSpec }]
      : labels.map((l) => ({ partition: l.partition, mechanism: countSpec })),
  };
  // Stand-in for the token steps until the counts are known: plain Gaussian steps (q = 1) meeting the steps' share.
  const standInSteps = sequential ? steps * labels.length : steps;
  const standInSigma = calibrateSigma(
    stepTarget(settings),
    { kind: GAUSSIAN, steps: standInSteps },
    DEFAULT_ACCOUNTANT,
  );
  const standIn: Charge[] = (sequential ? [labels[0]!] : labels).map((l) => ({
    partition: l.partition,
    mechanism: { kind: GAUSSIAN, sigma: standInSigma, steps: standInSteps },
  }));
  const charges = [...counts.charges, ...standIn];
  return {
    settings,
    labels,
    counts,
    epsilonRun: runEpsilon(charges, delta),
    accountant: DEFAULT_ACCOUNTANT,
    sequential,
    ledgerPlan: {
      // Its own name in the ledger: settled with the count release alone once the counts are drawn.
      algorithm: 'dp-few-shot:pool-counts',
      charges,
      note: `${settings.labels.length} label(s) × ${shots} shot(s), T_max ${tMax}, M ${m}: noisy pool counts (σ_c ${countSigma.toPrecision(4)}); token steps to follow`,
    },
    warnings,
  };
}

/**
 * The token-step mechanisms from the noisy pool counts (one per label, in plan order). A function of the plan's public
 * settings and of ñ only: it cannot see the dataset, so q̃ and σ are post-processing of the count release.
 * q̃ = min(1, M·N / max(ñ, 1)) (Tang et al. 2024, §3, with the pool size replaced by its DP estimate); σ is the
 * smallest value such that the steps alone meet (1 − countShare)·(ε, δ) (PLD accountant), fixed before ñ is drawn.
 */
export function calibrateFromCounts(plan: FewShotPlan, noisyCounts: readonly number[]): FewShotMechanism {
  const { prompts: m, examplesPerPrompt: n, delta, shots, maxTokens } = plan.settings;
  const target = stepTarget(plan.settings);
  if (noisyCounts.length !== plan.labels.length || !noisyCounts.every(Number.isFinite))
    throw new Error(`calibrateFromCounts needs ${plan.labels.length} finite noisy counts`);
  const warnings: string[] = [];
  const shapes = plan.labels.map((l, i) => {
    const noisy = noisyCounts[i]!;
    const q = Math.min(1, (m * n) / Math.max(noisy, 1));
    if (noisy < 1)
      warnings.push(
        `The noisy pool count of "${l.label}" is ${noisy.toFixed(1)} (DP estimate, noise std ${plan.counts.sigma.toPrecision(3)}): the label may be misspelled or very rare, and its demonstrations will carry little signal.`,
      );
    if (q >= 1)
      warnings.push(
        `The noisy pool count of "${l.label}" (${noisy.toFixed(1)}) is below M·N = ${m * n}: every record joins every token's prompts (q = 1), so there is no amplification by subsampling and the noise must be larger. Lower --prompts or --examples-per-prompt, or use a larger dataset.`,
      );
    return { ...l, noisy, q };
  });
  let sigmas: number[];
  if (!plan.sequential) {
    sigmas = shapes.map((x) =>
      calibrateSigma(target, { kind: POISSON_GAUSSIAN, samplingRate: x.q, steps: x.steps }, DEFAULT_ACCOUNTANT),
    );
  } else {
    const specsAt = (sigma: number): MechanismSpec[] =>
      shapes.map((x): MechanismSpec => ({ kind: POISSON_GAUSSIAN, sigma, samplingRate: x.q, steps: x.steps }));
    const sigma = calibrateJoint((sg) => epsilonFor(specsAt(sg), target.delta, DEFAULT_ACCOUNTANT), target.epsilon);
    sigmas = shapes.map(() => sigma);
  }
  const labels: LabelPlan[] = shapes.map((x, i) => ({
    label: x.label,
    partition: x.partition,
    noisyPool: x.noisy,
    samplingRate: x.q,
    sigma: sigmas[i]!,
    steps: x.steps,
    noiseStd: (sigmas[i]! * Math.SQRT2) / m,
  }));
  for (const l of labels) {
    // A top-two gap of the averaged next-token distribution is typically 0.05–0.3; noise far above it makes the
    // vote mostly random (the demonstration drifts toward noise-chosen tokens among the public candidates).
    if (l.noiseStd > 0.15) {
      warnings.push(
        `For "${l.label}" the noise std σ·√2/M = ${l.noiseStd.toFixed(3)} is large next to typical top-two probability gaps (≈0.05–0.3): expect weak signal. More ε, more prompts M (needs a larger pool), or fewer shots or tokens help.`,
      );
    }
  }
  const charges = stepCharges(labels, (l) => l.steps);
  return {
    labels,
    ledgerPlan: {
      algorithm: 'dp-few-shot',
      charges,
      note: `${labels.length} label(s) × ${shots} shot(s), T_max ${maxTokens}, M ${m}: token steps at the noisy pool counts`,
    },
    epsilonRun: runEpsilon([...plan.counts.charges, ...charges], delta),
    warnings,
  };
}

/** The (ε, δ) the token steps must meet on their own: what the count release leaves, split before it is drawn. */
export function stepTarget(s: Required<FewShotSettings>): { epsilon: number; delta: number } {
  return { epsilon: (1 - s.countShare) * s.epsilon, delta: (1 - s.countShare) * s.delta };
}

/** The token-step charges of the labels, with `steps(l)` steps each. */
export function stepCharges(labels: readonly LabelPlan[], steps: (l: LabelPlan) => number): Charge[] {
  return labels.map((l) => ({
    partition: l.partition,
    mechanism: { kind: POISSON_GAUSSIAN, sigma: l.sigma, samplingRate: l.samplingRate, steps: steps(l) },
  }));
}

/**
 * Smallest σ with eps(σ) ≤ target (within 1e-3, geometric bisection); eps decreases in σ. Safe side: above, the
 * answer is a σ whose ε was computed ≤ the target (privacy/calibrate.ts).
 */
export function calibrateJoint(eps: (sigma: number) => number, target: number): number {
  return inverseMonotone({
    what: `σ for ε = ${target}`,
    ok: (sigma) => eps(sigma) <= target,
    safe: 'above',
    start: 1,
    min: 0.05,
    max: 1e6,
    mid: 'geometric',
    relTol: 1e-3,
    onNoSafePoint: () => {
      throw new UserError(`no noise level meets ε = ${target}`, 'Allow more ε or fewer shots or tokens.');
    },
  });
}

/**
 * The ε of one run's charges alone. Each label pool composes its own charges with those on the whole dataset (`*`)
 * in sequence (PLD); label pools are disjoint, so they compose in parallel: the largest pool's ε (McSherry 2009,
 * parallel composition). With only `*` charges, their composition.
 */
export function runEpsilon(charges: readonly Charge[], delta: number): number {
  const used = charges.filter((c) => c.mechanism.steps > 0);
  if (used.length === 0) return 0;
  const whole = used.filter((c) => c.partition === '*').map((c) => c.mechanism);
  const pools = [...new Set(used.map((c) => c.partition).filter((p) => p !== '*'))];
  const groups = pools.length
    ? pools.map((p) => [...whole, ...used.filter((c) => c.partition === p).map((c) => c.mechanism)])
    : [whole];
  return Math.max(...groups.map((g) => epsilonFor(g, delta, DEFAULT_ACCOUNTANT)));
}
