import { summarize, type Dataset } from '../data';
import { UsageError } from '../errors';
import { checkCounts, checkLabels } from '../plan-checks';
import { buildPools } from '../runs/pools';
import { prepareRun, type Charge, type Ledger, type Partition, type PreparedRun, type RunPlan } from '../ledger';
import {
  addGaussianNoise,
  calibrateSigma,
  epsilonFor,
  gaussianMuFor,
  type MechanismSpec,
  type RandomSource,
} from '../privacy';
import { DEFAULT_DOMAIN, domainDeclaration, type Domain } from './domain';
import { METRICS, type Metric } from './histogram';
import { VARIATION_KINDS, type PromptSettings, type VariationKind } from './prompts';
import { SELECTIONS, type Selection } from './select';

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
  /** K: lookahead variations per candidate, whose mean embedding stands for it (0: its own; aug-pe's default). */
  lookahead: 0,
  selection: 'rank' as Selection,
  /** Share of the run's μ² given to the DP label-count release when DP class fractions are asked for. */
  dpFractionsShare: 0.1,
} as const;

/** The largest lookahead K accepted (each one multiplies the generation and embedding work per iteration). */
export const LOOKAHEAD_MAX = 16;

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
  /**
   * DP class fractions (instead of `fractions`): the per-label counts are released once with Gaussian noise σ_c at
   * the start of the run, and the class sizes follow the noisy counts. The value is the share ρ ∈ (0, 1) of the run's
   * μ² spent on that release: 1/σ_c² = ρ·μ², T/σ² = (1 − ρ)·μ² (GDP composition, Dong, Roth & Su 2022, Cor. 3.3).
   */
  dpFractions?: number;
  /** K lookahead variations per candidate (Lin et al. 2024, PE, Alg. 1, lookahead degree; 0: none). */
  lookahead?: number;
  /** rank (default) or prob (select.ts). */
  selection?: Selection;
  /** The user's domain (public by declaration). Default: the built-in lists. */
  domain?: Domain;
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

export type ResolvedAugPeSettings = Required<Omit<AugPeSettings, 'fractions' | 'dpFractions'>> & {
  fractions: number[];
  dpFractions?: number;
};

export interface AugPeLabelPlan {
  label: string;
  partition: Partition;
  /**
   * n_c: records released for this label (public: from count and the public fractions). With DP class fractions, the
   * equal split shown before the run; the run's counts come from the DP release (releaseClassCounts).
   */
  count: number;
  /** L·n_c: candidates voted on per iteration. */
  population: number;
  /** Private: rows and units of the label. Shown locally, never released. */
  rows: number;
  units: number;
}

/**
 * A label's row as a plan is shown before the run (the CLI's dry run, the Synthesize panel): its count and population
 * (public), and its private rows and units (local display only, never released).
 */
export function labelPlanRow(l: AugPeLabelPlan): Omit<AugPeLabelPlan, 'partition'> {
  return { label: l.label, count: l.count, population: l.population, rows: l.rows, units: l.units };
}

export interface AugPePlan {
  settings: ResolvedAugPeSettings;
  labels: AugPeLabelPlan[];
  /** Noise multiplier of every histogram (noise std, sensitivity 1). */
  sigma: number;
  /** σ_c of the DP label-count release (only with DP class fractions). */
  sigmaClass?: number;
  /** Where the class sizes come from: the equal split, the user's public fractions, or the DP count release. */
  classCounts: 'equal' | 'public' | 'dp';
  /** μ of the run (GDP): √(T/σ² + 1/σ_c²), the σ_c term only with DP class fractions. */
  mu: number;
  /** ε of this run alone at δ (the same in every touched partition). */
  epsilonRun: number;
  accountant: 'gdp';
  /** True when privacy units span labels: one joint histogram per iteration charged to the whole dataset. */
  sequential: boolean;
  ledgerPlan: RunPlan;
  estimate: AugPeEstimate;
  warnings: string[];
  /** What the user declared public and the run sends out (the domain file): the plan shows it. */
  declarations: string[];
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
    ...(s.dpFractions !== undefined ? { dpFractions: s.dpFractions } : {}),
    lookahead: s.lookahead ?? d.lookahead,
    selection: s.selection ?? d.selection,
    domain: s.domain ?? DEFAULT_DOMAIN,
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
    domain: s.domain,
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
  checkLabels(s.labels);
  checkCounts([
    ['count', s.count],
    ['iterations (T)', s.iterations],
    ['variations (L−1)', s.variations],
    ['neighbours (k)', s.neighbours],
    ['max tokens', s.maxTokens],
    ['min words', s.minWords],
  ]);
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
  if (!Number.isInteger(s.lookahead) || s.lookahead < 0 || s.lookahead > LOOKAHEAD_MAX)
    throw new UsageError(`lookahead K must be a whole number in [0, ${LOOKAHEAD_MAX}]; got ${s.lookahead}`);
  if (!SELECTIONS.includes(s.selection))
    throw new UsageError(`selection must be one of ${SELECTIONS.join(', ')}; got "${s.selection}"`);
  if (s.dpFractions !== undefined) {
    if (input.fractions !== undefined)
      throw new UsageError(
        'give either public class fractions or DP class fractions, not both',
        'Public fractions cost nothing; DP fractions spend part of ε on a noisy release of the label counts.',
      );
    if (!(s.dpFractions > 0 && s.dpFractions < 1))
      throw new UsageError(`the DP class-fraction share must be in (0, 1); got ${s.dpFractions}`);
  }
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
  // DP class fractions: one Gaussian release of the label counts (sensitivity 1, releaseClassCounts) with
  // 1/σ_c² = ρ·μ_max², composed with the T histograms as μ² = T/σ² + 1/σ_c² (Dong, Roth & Su 2022, Cor. 3.3).
  const sigmaClass =
    s.dpFractions === undefined ? undefined : 1 / (Math.sqrt(s.dpFractions) * gaussianMuFor(s.epsilon, s.delta));
  const classSpec: MechanismSpec[] =
    sigmaClass === undefined ? [] : [{ kind: 'gaussian', sigma: sigmaClass, steps: 1 }];
  // Exact for the plain Gaussian: σ = √(T / (μ_max² − 1/σ_c²)) (calibrateSigma's analytic branch, which composes the
  // existing entries by the same GDP rule).
  const sigma = calibrateSigma({ epsilon: s.epsilon, delta: s.delta }, { kind: 'gaussian', steps: T }, 'gdp', {
    existing: classSpec,
  });
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
  // The label-count release reads every label: it is charged to the whole dataset.
  const charges: Charge[] = [
    ...classSpec.map((m) => ({ partition: '*' as Partition, mechanism: m })),
    ...(jointUnits
      ? [{ partition: '*' as Partition, mechanism }]
      : labels.map((l) => ({ partition: l.partition, mechanism }))),
  ];
  const epsilonRun = epsilonFor([...classSpec, mechanism], s.delta, 'gdp');
  if (sigmaClass !== undefined)
    warnings.push(
      `DP class fractions: the label counts are released once with noise std σ_c = ${sigmaClass.toFixed(2)} at the start of the run (${(100 * s.dpFractions!).toFixed(0)}% of the run's μ²); each label gets one record, the rest follow the noisy counts. The per-label counts shown are the equal split before that release.`,
    );
  // Candidates written: the initial L·n_c, then (T − 1)·(L − 1)·n_c variations; with lookahead K, K more variations of
  // every candidate per iteration, embedded in its place (these sums depend only on the public total count).
  const population = labels.reduce((a, l) => a + l.population, 0);
  const candidates = population + (T - 1) * s.variations * s.count;
  const K = s.lookahead;
  return {
    settings: s,
    labels,
    sigma,
    ...(sigmaClass !== undefined ? { sigmaClass } : {}),
    classCounts: sigmaClass !== undefined ? 'dp' : input.fractions !== undefined ? 'public' : 'equal',
    mu:
      sigmaClass === undefined ? Math.sqrt(T) / sigma : Math.sqrt(T / (sigma * sigma) + 1 / (sigmaClass * sigmaClass)),
    epsilonRun,
    accountant: 'gdp',
    sequential: jointUnits,
    ledgerPlan: {
      algorithm: 'aug-pe',
      charges,
      note: `${s.labels.length} label(s), ${s.count} record(s), T ${T}, L ${L}, k ${s.neighbours}${K ? `, K ${K}` : ''}${s.selection === 'prob' ? ', prob selection' : ''}${sigmaClass !== undefined ? ', DP class fractions' : ''}`,
    },
    estimate: {
      completions: candidates + T * K * population,
      syntheticEmbeddings: K > 0 ? T * K * population : candidates,
      privateEmbeddings: labels.reduce((a, l) => a + l.rows, 0),
    },
    warnings,
    declarations: [domainDeclaration(s.domain)],
  };
}

/**
 * The Gaussian mechanisms a run of `plan` has run after `histograms` histograms (and the class-count release, when
 * the plan has one and it happened): what the run is charged (GDP: μ² = Σ steps/σ²).
 */
export function runSpecs(plan: AugPePlan, histograms: number, classReleased = true): MechanismSpec[] {
  const out: MechanismSpec[] = [];
  if (plan.sigmaClass !== undefined && classReleased) out.push({ kind: 'gaussian', sigma: plan.sigmaClass, steps: 1 });
  if (histograms > 0) out.push({ kind: 'gaussian', sigma: plan.sigma, steps: histograms });
  return out;
}

/**
 * DP class fractions: releases the per-label counts once, h_c + N(0, σ_c²), and turns them into class sizes. Each
 * privacy unit adds its rows' label vector scaled to L2 norm 1 (one row, no unit column: 1 to its label), so the
 * count vector has L2 sensitivity 1 under add/remove of a unit and the release is one Gaussian mechanism, μ = 1/σ_c
 * (Dong, Roth & Su 2022, Thm 2.7). Class sizes: one record per label, then the remaining count − |labels| split by
 * floor + largest remainder over max(h̃_c, 0) (an equal split when every noisy count is ≤ 0) — post-processing only,
 * so no failure or size depends on the private counts except through the noisy release.
 */
export function releaseClassCounts(
  ds: Dataset,
  plan: AugPePlan,
  rng: RandomSource,
): { noisy: number[]; counts: number[] } {
  const s = plan.settings;
  if (plan.sigmaClass === undefined) throw new Error('releaseClassCounts: the plan has no DP class fractions');
  const { pools } = buildPools(ds, s.labels);
  const perUnit = new Map<string, Map<number, number>>();
  s.labels.forEach((label, i) => {
    for (const u of pools.get(label)!) {
      let v = perUnit.get(u.id);
      if (!v) perUnit.set(u.id, (v = new Map()));
      v.set(i, (v.get(i) ?? 0) + u.texts.length);
    }
  });
  const clean = new Float64Array(s.labels.length);
  for (const v of perUnit.values()) {
    let sq = 0;
    for (const x of v.values()) sq += x * x;
    if (sq === 0) continue;
    const inv = 1 / Math.sqrt(sq);
    for (const [i, x] of v) clean[i]! += x * inv;
  }
  const noisy = Array.from(clean, (c) => addGaussianNoise(rng, c, plan.sigmaClass!));
  const rest = s.count - s.labels.length;
  const weights = noisy.map((x) => Math.max(x, 0));
  const extra = allocateCounts(rest, weights.some((w) => w > 0) ? weights : weights.map(() => 1));
  return { noisy, counts: extra.map((x) => x + 1) };
}

export type PreparedAugPe = PreparedRun<AugPePlan>;

/** Ledger status (for δ), the plan and the budget check; reads the ledger, writes nothing (like prepareFewShot). */
export function prepareAugPe(
  ds: Dataset,
  ledger: Ledger,
  settings: Omit<AugPeSettings, 'delta'> & { delta?: number },
  summary = summarize(ds),
): Promise<PreparedAugPe> {
  return prepareRun(ds, ledger, summary, (ledgerDelta) =>
    planAugPe(ds, { ...settings, delta: settings.delta ?? ledgerDelta }),
  );
}
