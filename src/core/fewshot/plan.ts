import type { Dataset } from '../data';
import { UsageError, UserError } from '../errors';
import type { Charge, Partition, RunPlan } from '../ledger';
import { calibrateSigma, epsilonFor, type MechanismSpec } from '../privacy';
import type { PoolUnit } from './sample';

export const FEWSHOT_DEFAULTS = {
  prompts: 10,
  examplesPerPrompt: 2,
  maxTokens: 64,
  /** Lookahead for the offline model (free requests, with prefetch); network models default to 1. */
  lookahead: 4,
} as const;

export interface FewShotSettings {
  /** The labels to write demonstrations for. Named by the user and treated as public. */
  labels: string[];
  /** Demonstrations per label. */
  shots: number;
  /** The ε this run may spend (at the ledger's δ unless `delta` is given). */
  epsilon: number;
  delta: number;
  /** M: prompts per token (default 10). */
  prompts?: number;
  /** Expected private examples per prompt (default 2); sets q = M·N/|pool|. */
  examplesPerPrompt?: number;
  /** T_max: token budget per demonstration (default 64). */
  maxTokens?: number;
}

/** One label's share of the run. Pool sizes and q are private: shown locally, never written into a release. */
export interface LabelPlan {
  label: string;
  partition: Partition;
  /** Privacy units in the label's pool (private). */
  poolUnits: number;
  /** q = min(1, M·N/|pool|). */
  samplingRate: number;
  sigma: number;
  /** Token steps charged: shots × T_max. */
  steps: number;
  /** Noise std on the averaged distribution: σ·√2/M. */
  noiseStd: number;
}

export interface FewShotPlan {
  settings: Required<FewShotSettings>;
  labels: LabelPlan[];
  /** ε of this run alone (max over parallel pools, or the composition when pools overlap). */
  epsilonRun: number;
  accountant: 'pld';
  /** True when privacy units span several labels, so the pools are not disjoint and everything composes in sequence. */
  sequential: boolean;
  ledgerPlan: RunPlan;
  warnings: string[];
}

/** Private pools of the requested labels, as privacy units (all rows of a unit together). */
export function buildPools(
  ds: Dataset,
  labels: string[],
): { pools: Map<string, PoolUnit[]>; unitsSpanLabels: boolean } {
  const wanted = new Set(labels);
  const byLabel = new Map<string, Map<string, PoolUnit>>(labels.map((l) => [l, new Map()]));
  const unitLabels = new Map<string, Set<string>>();
  for (const e of ds.examples) {
    const seen = unitLabels.get(e.unit) ?? new Set<string>();
    seen.add(e.label);
    unitLabels.set(e.unit, seen);
    if (!wanted.has(e.label)) continue;
    const pool = byLabel.get(e.label)!;
    const unit = pool.get(e.unit) ?? { id: e.unit, texts: [] };
    unit.texts.push(e.text);
    pool.set(e.unit, unit);
  }
  const unitsSpanLabels = ds.columns.unit !== undefined && [...unitLabels.values()].some((s) => s.size > 1);
  return { pools: new Map([...byLabel].map(([l, m]) => [l, [...m.values()]])), unitsSpanLabels };
}

/**
 * Plans a DP few-shot run: per-label sampling rates, σ calibrated with the PLD accountant so that the run alone
 * meets (ε, δ), and the ledger charges. Demonstrations of one label share its pool and compose in sequence
 * (shots × T_max steps, accounted at the token budget, not the realised length); different labels' pools are
 * disjoint and compose in parallel — unless privacy units span labels, then every charge goes on the whole dataset.
 */
export function planFewShot(ds: Dataset, s: FewShotSettings): FewShotPlan {
  const settings: Required<FewShotSettings> = {
    ...s,
    prompts: s.prompts ?? FEWSHOT_DEFAULTS.prompts,
    examplesPerPrompt: s.examplesPerPrompt ?? FEWSHOT_DEFAULTS.examplesPerPrompt,
    maxTokens: s.maxTokens ?? FEWSHOT_DEFAULTS.maxTokens,
  };
  const { prompts: m, examplesPerPrompt: n, maxTokens: tMax, shots, epsilon, delta } = settings;
  if (settings.labels.length === 0)
    throw new UsageError(
      'no labels to generate',
      'Name them with --labels a,b,c, or pass --all-labels to take them from the data.',
    );
  if (new Set(settings.labels).size !== settings.labels.length) throw new UsageError('a label is named twice');
  for (const [name, v, min] of [
    ['shots', shots, 1],
    ['prompts (M)', m, 1],
    ['max tokens', tMax, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new UsageError(`${name} must be a whole number ≥ ${min}; got ${v}`);
  }
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`examples per prompt must be a positive number; got ${n}`);
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new UsageError(`ε must be a positive number; got ${epsilon}`);

  const { pools, unitsSpanLabels } = buildPools(ds, settings.labels);
  const warnings: string[] = [];
  const empty = settings.labels.filter((l) => pools.get(l)!.length === 0);
  if (empty.length) {
    throw new UserError(
      `no rows have the label(s) ${empty.map((l) => JSON.stringify(l)).join(', ')} in ${ds.file}`,
      `Check the spelling; the label column is "${ds.columns.label}".`,
    );
  }
  const steps = shots * tMax;
  const shapes = settings.labels.map((label) => {
    const units = pools.get(label)!.length;
    const q = Math.min(1, (m * n) / units);
    if (q >= 1)
      warnings.push(
        `The pool of "${label}" is smaller than M·N = ${m * n}: every record joins every token's prompts (q = 1), so there is no amplification by subsampling and the noise must be larger. Lower --prompts or --examples-per-prompt, or use a larger dataset.`,
      );
    return { label, units, q };
  });

  let sigmas: number[];
  if (!unitsSpanLabels) {
    sigmas = shapes.map((x) =>
      calibrateSigma({ epsilon, delta }, { kind: 'poisson-gaussian', samplingRate: x.q, steps }, 'pld'),
    );
  } else {
    warnings.push(
      'Privacy units span several labels, so the label pools are not disjoint: all labels are charged to the whole dataset and compose in sequence.',
    );
    const specsAt = (sigma: number): MechanismSpec[] =>
      shapes.map((x) => ({ kind: 'poisson-gaussian', sigma, samplingRate: x.q, steps }));
    const sigma = calibrateJoint((sg) => epsilonFor(specsAt(sg), delta, 'pld'), epsilon);
    sigmas = shapes.map(() => sigma);
  }
  const labels: LabelPlan[] = shapes.map((x, i) => ({
    label: x.label,
    partition: unitsSpanLabels ? '*' : (`label:${x.label}` as Partition),
    poolUnits: x.units,
    samplingRate: x.q,
    sigma: sigmas[i]!,
    steps,
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
  const charges: Charge[] = labels.map((l) => ({
    partition: l.partition,
    mechanism: { kind: 'poisson-gaussian', sigma: l.sigma, samplingRate: l.samplingRate, steps: l.steps },
  }));
  const epsilonRun = runEpsilon(charges, delta, unitsSpanLabels);
  return {
    settings,
    labels,
    epsilonRun,
    accountant: 'pld',
    sequential: unitsSpanLabels,
    ledgerPlan: {
      algorithm: 'dp-few-shot',
      charges,
      note: `${settings.labels.length} label(s) × ${shots} shot(s), T_max ${tMax}, M ${m}`,
    },
    warnings,
  };
}

/** Smallest σ (geometric bisection to 1e-3, on the safe side) with eps(σ) ≤ target; eps decreases in σ. */
function calibrateJoint(eps: (sigma: number) => number, target: number): number {
  let lo = 0.05;
  let hi = 1;
  while (eps(hi) > target) {
    lo = hi;
    hi *= 2;
    if (hi > 1e6) throw new UserError(`no noise level meets ε = ${target}`, 'Allow more ε or fewer shots or tokens.');
  }
  if (eps(lo) <= target) return lo;
  while (hi / lo - 1 > 1e-3) {
    const mid = Math.sqrt(lo * hi);
    if (eps(mid) <= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The ε of one run's charges alone: label pools are disjoint, so they compose in parallel (the largest pool's ε;
 * McSherry 2009, parallel composition); when privacy units span labels everything composes in sequence (PLD).
 */
export function runEpsilon(charges: readonly Charge[], delta: number, sequential: boolean): number {
  const used = charges.filter((c) => c.mechanism.steps > 0);
  if (used.length === 0) return 0;
  return sequential
    ? epsilonFor(
        used.map((c) => c.mechanism),
        delta,
        'pld',
      )
    : Math.max(...used.map((c) => epsilonFor([c.mechanism], delta, 'pld')));
}
