import { canonicalRecords, summarize, type Dataset, type DatasetSummary } from '../data';
import { UsageError } from '../errors';
import { buildPools } from '../runs/pools';
import type { BudgetStatus, Charge, Ledger, LedgerDataset, Partition, PlanCheck, RunPlan } from '../ledger';
import { calibrateSigma, epsilonFor } from '../privacy';
import { METRICS, type Metric } from './histogram';
import { VARIATION_KINDS, type PromptSettings, type VariationKind } from './prompts';

export const AUGPE_DEFAULTS = {
  /** T: noisy histograms (one per iteration; none for the initial population). Aug-PE's DP runs use 10. */
  iterations: 10,
  /** L − 1: variations per selected candidate (aug-pe GPT-3.5 scripts: 3, so L = 4). */
  variations: 3,
  /** k nearest candidates each private unit votes for (1 in every upstream script). */
  neighbours: 1,
  metric: 'l2' as Metric,
  /** H: count threshold (aug-pe default 0). */
  threshold: 0,
  variation: 'fill-blanks' as VariationKind,
  /** p (aug-pe Yelp and OpenReview: 0.5). */
  maskProbability: 0.5,
  temperature: 1,
  maxTokens: 128,
  /** Floor of the target length (upstream 25 for long reviews; short texts such as support messages need less). */
  minWords: 5,
  /** Target-length std = p · wordVarScale (aug-pe's code default 10, i.e. std 5 words at p = 0.5). */
  wordVarScale: 10,
} as const;

export interface AugPeSettings {
  /** The labels to write records for. Named by the user and treated as public. */
  labels: string[];
  /** N_syn: synthetic records in total, split over the labels. */
  count: number;
  /** The ε this run may spend (at `delta`). */
  epsilon: number;
  delta: number;
  /**
   * Public class fractions, one per label (any positive weights; normalised). Default: an equal split. Never the
   * private label counts: those are private and upstream's use of them is not covered by its accounting.
   */
  fractions?: number[];
  iterations?: number;
  variations?: number;
  neighbours?: number;
  metric?: Metric;
  threshold?: number;
  variation?: VariationKind;
  maskProbability?: number;
  temperature?: number;
  maxTokens?: number;
  minWords?: number;
  wordVarScale?: number;
}

export type ResolvedAugPeSettings = Required<Omit<AugPeSettings, 'fractions'>> & { fractions: number[] };

export interface AugPeLabelPlan {
  label: string;
  partition: Partition;
  /** n_c: records released for this label (public: from count and the public fractions). */
  count: number;
  /** L·n_c: candidates voted on per iteration. */
  population: number;
  /** Private: rows and units of the label. Shown locally, never released. */
  rows: number;
  units: number;
}

export interface AugPePlan {
  settings: ResolvedAugPeSettings;
  labels: AugPeLabelPlan[];
  /** Noise multiplier of every histogram (noise std, sensitivity 1). */
  sigma: number;
  /** μ = √T/σ of the run (GDP). */
  mu: number;
  /** ε of this run alone at δ (the same in every touched partition). */
  epsilonRun: number;
  accountant: 'gdp';
  /** True when privacy units span labels: one joint histogram per iteration charged to the whole dataset. */
  sequential: boolean;
  ledgerPlan: RunPlan;
  estimate: AugPeEstimate;
  warnings: string[];
}

export interface AugPeEstimate {
  /** Completions the generator writes: initial L·n_c per label, then (T−1)·(L−1)·n_c (none after the last histogram).
   * */
  completions: number;
  /** Synthetic texts embedded (each candidate once). */
  syntheticEmbeddings: number;
  /** Private rows embedded once at the start (private: local display only). */
  privateEmbeddings: number;
}

/**
 * Splits `count` over labels by public weights: floor of each share, then the remaining units to the largest
 * remainders (earlier label first on ties) — pe's allocation of fraction_per_label_id (microsoft/DPSDA,
 * pe/population/pe_population.py, floor + largest remainder).
 */
export function allocateCounts(count: number, weights: readonly number[]): number[] {
  const total = weights.reduce((a, w) => a + w, 0);
  const shares = weights.map((w) => (count * w) / total);
  const out = shares.map(Math.floor);
  let left = count - out.reduce((a, x) => a + x, 0);
  const order = shares.map((s, i) => ({ i, r: s - Math.floor(s) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i]!++;
    left--;
  }
  return out;
}

function resolve(s: AugPeSettings): ResolvedAugPeSettings {
  const d = AUGPE_DEFAULTS;
  return {
    labels: s.labels,
    count: s.count,
    epsilon: s.epsilon,
    delta: s.delta,
    fractions: s.fractions ?? s.labels.map(() => 1 / s.labels.length),
    iterations: s.iterations ?? d.iterations,
    variations: s.variations ?? d.variations,
    neighbours: s.neighbours ?? d.neighbours,
    metric: s.metric ?? d.metric,
    threshold: s.threshold ?? d.threshold,
    variation: s.variation ?? d.variation,
    maskProbability: s.maskProbability ?? d.maskProbability,
    temperature: s.temperature ?? d.temperature,
    maxTokens: s.maxTokens ?? d.maxTokens,
    minWords: s.minWords ?? d.minWords,
    wordVarScale: s.wordVarScale ?? d.wordVarScale,
  };
}

export function promptSettings(s: ResolvedAugPeSettings): PromptSettings {
  return {
    temperature: s.temperature,
    maxTokens: s.maxTokens,
    variation: s.variation,
    maskProbability: s.maskProbability,
    minWords: s.minWords,
    wordVarScale: s.wordVarScale,
  };
}

/**
 * Plans an Aug-PE run: class sizes from the public count and fractions, σ calibrated so that T Gaussian histograms
 * meet (ε, δ) — μ = √T/σ GDP (Dong, Roth, Su 2022, Cor. 3.3) converted with the analytic Gaussian formula (Balle &
 * Wang 2018, Thm 8) — and the ledger charges: one `gaussian` charge of T steps per label pool (disjoint, parallel),
 * or a single one on the whole dataset when privacy units span labels.
 */
export function planAugPe(ds: Dataset, input: AugPeSettings): AugPePlan {
  const s = resolve(input);
  if (s.labels.length === 0)
    throw new UsageError(
      'no labels to generate',
      'Name them with --labels a,b,c, or pass --all-labels to take them from the data.',
    );
  if (new Set(s.labels).size !== s.labels.length) throw new UsageError('a label is named twice');
  for (const [name, v, min] of [
    ['count', s.count, 1],
    ['iterations (T)', s.iterations, 1],
    ['variations (L−1)', s.variations, 1],
    ['neighbours (k)', s.neighbours, 1],
    ['max tokens', s.maxTokens, 1],
    ['min words', s.minWords, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new UsageError(`${name} must be a whole number ≥ ${min}; got ${v}`);
  }
  if (!(s.epsilon > 0) || !Number.isFinite(s.epsilon))
    throw new UsageError(`ε must be a positive number; got ${s.epsilon}`);
  if (!METRICS.includes(s.metric))
    throw new UsageError(`metric must be one of ${METRICS.join(', ')}; got "${s.metric}"`);
  if (!VARIATION_KINDS.includes(s.variation))
    throw new UsageError(`variation must be one of ${VARIATION_KINDS.join(', ')}; got "${s.variation}"`);
  if (!(s.threshold >= 0) || !Number.isFinite(s.threshold))
    throw new UsageError(`threshold must be a number ≥ 0; got ${s.threshold}`);
  if (!(s.maskProbability > 0 && s.maskProbability <= 1))
    throw new UsageError(`mask probability must be in (0, 1]; got ${s.maskProbability}`);
  if (!(s.temperature >= 0) || !Number.isFinite(s.temperature))
    throw new UsageError(`temperature must be a number ≥ 0; got ${s.temperature}`);
  if (!(s.wordVarScale >= 0) || !Number.isFinite(s.wordVarScale))
    throw new UsageError(`word-length scale must be a number ≥ 0; got ${s.wordVarScale}`);
  if (s.fractions.length !== s.labels.length)
    throw new UsageError(
      `${s.fractions.length} fraction(s) for ${s.labels.length} label(s)`,
      'Give one public fraction per label, e.g. --fractions card_arrival=0.3,exchange_rate=0.7.',
    );
  if (!s.fractions.every((f) => f > 0 && Number.isFinite(f)))
    throw new UsageError('every class fraction must be a positive number');
  if (s.count < s.labels.length)
    throw new UsageError(
      `--count ${s.count} is smaller than the number of labels (${s.labels.length})`,
      'Every label needs at least one record.',
    );
  const counts = allocateCounts(s.count, s.fractions);
  const zero = s.labels.filter((_, i) => counts[i] === 0);
  if (zero.length)
    throw new UsageError(
      `the fractions give no record to ${zero.map((l) => JSON.stringify(l)).join(', ')} at --count ${s.count}`,
      "Raise --count or that label's fraction.",
    );

  const { pools } = buildPools(ds, s.labels);
  // Whether units actually span labels is a fact about the private data, so it may not choose the composition: a
  // unit column (public: the column mapping) always means one joint charge on the whole dataset, and each unit's
  // votes are normalised across all its labels (the same normalisation when a unit has one label).
  const jointUnits = ds.columns.unit !== undefined;
  const T = s.iterations;
  const L = s.variations + 1;
  // Exact for the plain Gaussian: σ = √T / μ_max(ε, δ) (calibrateSigma's analytic branch).
  const sigma = calibrateSigma({ epsilon: s.epsilon, delta: s.delta }, { kind: 'gaussian', steps: T }, 'gdp');
  const warnings: string[] = [];
  // Whether a label has rows is private: refusing would make what is released depend on it, so the run goes on (its
  // selection is then noise alone) and only a local warning says so.
  const empty = s.labels.filter((l) => pools.get(l)!.length === 0);
  if (empty.length)
    warnings.push(
      `local only, not private: no rows have the label(s) ${empty.map((l) => JSON.stringify(l)).join(', ')} in ${ds.file}, so their records are selected by noise alone. Check the spelling; the label column is "${ds.columns.label}".`,
    );
  if (jointUnits)
    warnings.push(
      "With a privacy-unit column, each unit's votes are normalised across all its labels and the run is charged to the whole dataset.",
    );
  const labels: AugPeLabelPlan[] = s.labels.map((label, i) => {
    const pool = pools.get(label)!;
    const rows = pool.reduce((a, u) => a + u.texts.length, 0);
    const lp: AugPeLabelPlan = {
      label,
      partition: jointUnits ? '*' : (`label:${label}` as Partition),
      count: counts[i]!,
      population: L * counts[i]!,
      rows,
      units: pool.length,
    };
    // Each unit casts total vote mass ≤ √k spread over L·n_c candidates; a candidate's share next to σ says how
    // much of the selection is signal (local warning: it uses private counts).
    const perCandidate = (pool.length * Math.sqrt(Math.min(s.neighbours, lp.population))) / lp.population;
    if (perCandidate < sigma) {
      warnings.push(
        `For "${label}" the noise std σ = ${sigma.toFixed(2)} exceeds the average vote mass per candidate (≈${perCandidate.toFixed(2)}): the selection will be mostly noise. More ε, fewer iterations, or a smaller --count help.`,
      );
    }
    return lp;
  });
  const mechanism = { kind: 'gaussian' as const, sigma, steps: T };
  const charges: Charge[] = jointUnits
    ? [{ partition: '*', mechanism }]
    : labels.map((l) => ({ partition: l.partition, mechanism }));
  const epsilonRun = epsilonFor([mechanism], s.delta, 'gdp');
  const synthetic = labels.reduce((a, l) => a + l.population + (T - 1) * s.variations * l.count, 0);
  return {
    settings: s,
    labels,
    sigma,
    mu: Math.sqrt(T) / sigma,
    epsilonRun,
    accountant: 'gdp',
    sequential: jointUnits,
    ledgerPlan: {
      algorithm: 'aug-pe',
      charges,
      note: `${s.labels.length} label(s), ${s.count} record(s), T ${T}, L ${L}, k ${s.neighbours}`,
    },
    estimate: {
      completions: synthetic,
      syntheticEmbeddings: synthetic,
      privateEmbeddings: labels.reduce((a, l) => a + l.rows, 0),
    },
    warnings,
  };
}

export interface PreparedAugPe {
  summary: DatasetSummary;
  target: LedgerDataset;
  status: BudgetStatus;
  plan: AugPePlan;
  check: PlanCheck;
}

/** Ledger status (for δ), the plan and the budget check; reads the ledger, writes nothing (like prepareFewShot). */
export async function prepareAugPe(
  ds: Dataset,
  ledger: Ledger,
  settings: Omit<AugPeSettings, 'delta'> & { delta?: number },
  summary = summarize(ds),
): Promise<PreparedAugPe> {
  const target: LedgerDataset = {
    identity: ds.identity,
    units: summary.units,
    unitColumn: ds.columns.unit,
    records: canonicalRecords(ds),
  };
  const status = await ledger.status(target);
  const plan = planAugPe(ds, { ...settings, delta: settings.delta ?? status.total.delta });
  const check = await ledger.check(target, plan.ledgerPlan);
  return { summary, target, status, plan, check };
}
