import path from 'node:path';
import { UsageError } from '../../core/errors';
import {
  AUGPE_DEFAULTS,
  DOMAIN_FILE,
  LOOKAHEAD_MAX,
  METRICS,
  loadAugPeResume,
  resumePlan,
  SELECTIONS,
  VARIATION_KINDS,
  domainDeclaration,
  labelPlanRow,
  loadDomain,
  prepareAugPe,
  runAugPe,
  type AugPePlan,
  type Metric,
  type Selection,
  type VariationKind,
} from '../../core/augpe';
import { printableOneLine } from '../../core/text-safety';
import { dryRunBudget } from '../ledger';
import { createProvider } from '../../core/providers';
import { augPeDataFlow, flowParty, type DataFlow } from '../../core/providers/endpoint';
import { augPeDiagnostics, augPeRelease } from '../../core/release';
import { numberFlag, stringFlag, valueFlags } from '../args';
import { choiceFlag, limitFlag } from '../run-flags';
import { runAndReport, runOptions, runUsage, runWarnings, startRun, type RunCommand } from '../run-report';
import { LIMITS } from '../../shared/limits';
import { runsDir } from '../../core/runs/checkpoint';
import { providerUsage } from '../provider-flags';
import { formatEpsilon } from '../../shared/format';

const FORMATS = ['json', 'jsonl', 'text'] as const;
const EMBEDDERS = ['same', 'builtin'] as const;

export const synth: RunCommand<(typeof FORMATS)[number]> = {
  name: 'synth',
  summary:
    'Write synthetic labelled records with Aug-PE (Xie et al. 2024): the model never sees private rows; DP on the vote histograms.',
  usage: `${runUsage.head('synth', '--count N', 'records')}
  --count N                 synthetic records in total, split equally over the labels (or by --fractions)
  --fractions a=0.3,b=0.7   public class fractions (weights, normalised); never taken from the private counts
  --fractions dp[:R]        DP class fractions: the label counts are released once with Gaussian noise, spending
                            the share R of the run's μ² (default ${AUGPE_DEFAULTS.dpFractionsShare}); class sizes follow the noisy counts
  --domain FILE             the domain file (domain sentence, per-label keywords, styles, personas; declared public:
                            it is sent in prompts). Default: ${DOMAIN_FILE} in the workspace if it exists
  --lookahead K             embed each candidate as the mean of K variations of it (default ${AUGPE_DEFAULTS.lookahead}; ≤ ${LOOKAHEAD_MAX})
  --selection S             rank (keep the most-voted) | prob (draw ∝ the noisy votes) (default ${AUGPE_DEFAULTS.selection})
${runUsage.budget}
  --iterations T            noisy histograms (default ${AUGPE_DEFAULTS.iterations}); σ grows like √T at fixed ε
  --variations V            variations per selected record, L − 1 (default ${AUGPE_DEFAULTS.variations})
  --neighbours K            nearest candidates each private record votes for (default ${AUGPE_DEFAULTS.neighbours})
  --metric M                l2 | cosine (default ${AUGPE_DEFAULTS.metric})
  --threshold H             vote threshold (default ${AUGPE_DEFAULTS.threshold})
  --variation V             fill-blanks | paraphrase (default ${AUGPE_DEFAULTS.variation})
  --mask-probability P      fill-blanks: probability that a word is masked (default ${AUGPE_DEFAULTS.maskProbability})
  --temperature X           generation temperature (default ${AUGPE_DEFAULTS.temperature})
  --max-tokens N            token cap of a generated record (default ${AUGPE_DEFAULTS.maxTokens})
  --embedder E              same (the --provider's embeddings, default) | builtin (the built-in embedder: private
                            rows never leave this machine)
${providerUsage}
  --format F                json | jsonl | text (default text)
${runUsage.template}
  --out FILE                write the records there (default: stdout)
  --resume RUN              continue the stopped run RUN (the id in its "cancelled"/"failed" line, or a crashed
                            run's <id>.jsonl under .private-fewshot/runs) from its last histogram, with the same
                            dataset, flags and models; charges only the histograms left
  --dry-run                 print the plan (σ, T, calls, embeddings, budget after) and touch nothing
  --json                    print one JSON object: "release" (what --out writes with --format json: the
                            records and public parameters) and "localOnlyNotPrivate" (usage, private row counts,
                            budget, journal: computed from the private data, never to be shared)
${runUsage.workspace}`,
  options: {
    ...valueFlags('count fractions domain lookahead selection iterations variations neighbours metric threshold'),
    ...valueFlags('variation mask-probability temperature max-tokens embedder resume'),
    ...runOptions,
  },
  example: 'examples/banking77-sample.csv --labels card_arrival,exchange_rate --count 20 --epsilon 2',
  amount: ['count', LIMITS.count],
  formats: FORMATS,
  async run(values, positionals, io) {
    const start = await startRun(synth, values, positionals, io, () => ({
      metric: choiceFlag<Metric>(values, 'metric', METRICS, AUGPE_DEFAULTS.metric),
      variation: choiceFlag<VariationKind>(values, 'variation', VARIATION_KINDS, AUGPE_DEFAULTS.variation),
      embedder: choiceFlag(values, 'embedder', EMBEDDERS, 'same'),
      selection: choiceFlag<Selection>(values, 'selection', SELECTIONS, AUGPE_DEFAULTS.selection),
    }));
    const { root, ds, summary, labels, ledger } = start;
    const fractionsFlag = stringFlag(values, 'fractions');
    const dpFractions = parseDpFractions(fractionsFlag);
    const fractions = dpFractions === undefined ? parseFractions(fractionsFlag, labels) : undefined;
    // The domain file: named with --domain (it must exist), else the workspace's, if any (public by declaration).
    const domainFlag = stringFlag(values, 'domain');
    const domainPath = domainFlag !== undefined ? path.resolve(io.cwd, domainFlag) : path.join(root, DOMAIN_FILE);
    const domain = loadDomain(domainPath, domainFlag !== undefined);
    const prepared = await prepareAugPe(
      ds,
      ledger,
      {
        labels,
        count: start.amount,
        epsilon: start.epsilon,
        ...(fractions ? { fractions } : {}),
        ...(dpFractions !== undefined ? { dpFractions } : {}),
        domain,
        lookahead: numberFlag(values, 'lookahead', { min: 0, max: LOOKAHEAD_MAX, integer: true }),
        selection: start.flags.selection,
        delta: start.delta,
        iterations: limitFlag(values, 'iterations', LIMITS.iterations),
        variations: limitFlag(values, 'variations', LIMITS.variations),
        neighbours: limitFlag(values, 'neighbours', LIMITS.neighbours),
        metric: start.flags.metric,
        threshold: limitFlag(values, 'threshold', LIMITS.threshold),
        variation: start.flags.variation,
        maskProbability: limitFlag(values, 'mask-probability', LIMITS.maskProbability),
        temperature: limitFlag(values, 'temperature', LIMITS.temperature),
        maxTokens: limitFlag(values, 'max-tokens', LIMITS.recordMaxTokens),
      },
      summary,
    );
    const { target, plan, status: before } = prepared;
    const warnings = runWarnings(plan.warnings, prepared.check, target, start.file);
    const provider = createProvider(start.providerConfig);
    const embedder =
      start.flags.embedder === 'builtin'
        ? provider.kind === 'builtin'
          ? provider
          : createProvider({ kind: 'builtin' })
        : provider;
    const resumeFlag = stringFlag(values, 'resume');
    const resume =
      resumeFlag === undefined
        ? undefined
        : loadAugPeResume(runsDir(root), runIdOf(resumeFlag), { dataset: ds, plan, provider, embedder });
    // A continuation is checked (and reserved) for the histograms left only.
    const check = resume ? await ledger.check(target, resumePlan(plan, resume)) : prepared.check;
    const rel = domain.file === undefined ? undefined : path.relative(io.cwd, domain.file);
    const shownDomain = rel === undefined || rel.startsWith('..') || path.isAbsolute(rel) ? domain.file : rel;
    const out0 = {
      plan: { ...planView(plan), declarations: [domainDeclaration(domain, shownDomain)] },
      budget: dryRunBudget(check),
      provider: { kind: provider.kind, model: provider.model, offline: provider.offline },
      embedder: { kind: embedder.kind, model: embedder.model, offline: embedder.offline },
      // Where private data goes, the same sentence as the Synthesize panel's plan (core/providers/endpoint.ts).
      dataFlow: augPeDataFlow(flowParty(provider), flowParty(embedder)),
      warnings,
      ...(resume ? { resumes: { run: resume.state.id, histogramsBefore: resume.state.started } } : {}),
    };
    return runAndReport(io, values, start, target, {
      before,
      view: out0,
      fits: check.fits,
      format: formatPlan,
      plan,
      provider,
      notes: [
        embedder.offline
          ? 'note: private rows are embedded on this machine (built-in embedder); the generator sees only labels and synthetic text.'
          : `note: private rows are sent to ${embedder.kind}/${embedder.model} for embedding; the generator sees only labels and synthetic text. Use --embedder builtin to keep them on this machine.`,
        ...out0.plan.declarations.map((d) => `note: ${d}`),
      ],
      warnings,
      run: (inputs, progress) =>
        runAugPe({
          ...inputs,
          embedder,
          ...(resume ? { resume } : {}),
          onProgress: (p) =>
            progress(
              () =>
                `… ${p.phase} ${p.iteration}/${p.iterations}${p.label ? ` ${p.label}` : ''}: ${p.histograms} histogram(s), ${p.completions} completions, ${p.calls} calls, ${p.inputTokens + p.outputTokens} tokens, $${p.cost.toFixed(4)} (local)`,
            ),
        }),
      report: (result) => {
        const u = result.report.usage;
        const e = result.privateEmbeddingUsage;
        return {
          release: augPeRelease({ plan, result }),
          diagnostics: (journal) => augPeDiagnostics(plan, result, journal),
          released: `${result.records.length} record(s) after ${result.histograms} of ${plan.settings.iterations} histogram(s)`,
          charged: '',
          usage: `${u.completions} completions in ${u.generateRequests} requests, ${u.syntheticEmbedded} synthetic texts embedded, ${u.inputTokens} input and ${u.outputTokens} output tokens, $${u.cost.toFixed(4)} (private embeddings: ${e.calls} calls, $${e.cost.toFixed(4)})`,
          refused:
            result.refusedPrivateRows > 0
              ? `the embedder refused ${result.refusedPrivateRows} private row(s); they cast no vote, which the DP guarantee covers.`
              : undefined,
          kept: `The last selected records are kept in ${path.relative(root, result.checkpoint)} and ${result.histograms} histogram(s) are charged.`,
        };
      },
    });
  },
};

/** "dp" or "dp:R" → the share R of μ² for the DP label-count release; anything else → undefined (public weights). */
function parseDpFractions(flag: string | undefined): number | undefined {
  if (flag === undefined || !/^dp(:|$)/.test(flag.trim())) return undefined;
  const rest = flag.trim().slice(3);
  const share = rest === '' ? AUGPE_DEFAULTS.dpFractionsShare : Number(rest);
  if (!(share > 0 && share < 1))
    throw new UsageError(
      `--fractions dp:R needs a share R strictly between 0 and 1; got ${JSON.stringify(rest)}`,
      `Example: --fractions dp:0.1 spends 10% of the run's μ² on the label counts (--fractions dp uses ${AUGPE_DEFAULTS.dpFractionsShare}).`,
    );
  return share;
}

/** "a=0.3,b=0.7" → weights in label order; every label must be named once. */
function parseFractions(flag: string | undefined, labels: string[]): number[] | undefined {
  if (flag === undefined) return undefined;
  const map = new Map<string, number>();
  for (const part of flag
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = part.lastIndexOf('=');
    const label = at > 0 ? part.slice(0, at).trim() : '';
    const x = Number(part.slice(at + 1));
    if (!label || !(x > 0) || !Number.isFinite(x))
      throw new UsageError(
        `--fractions: expected label=weight with a positive weight; got ${JSON.stringify(part)}`,
        'Example: --fractions card_arrival=0.3,exchange_rate=0.7',
      );
    if (map.has(label)) throw new UsageError(`--fractions names ${JSON.stringify(label)} twice`);
    map.set(label, x);
  }
  const unknown = [...map.keys()].filter((l) => !labels.includes(l));
  if (unknown.length)
    throw new UsageError(
      `--fractions names label(s) not in --labels: ${unknown.map((l) => JSON.stringify(l)).join(', ')}`,
    );
  const missing = labels.filter((l) => !map.has(l));
  if (missing.length)
    throw new UsageError(
      `--fractions gives no weight to ${missing.map((l) => JSON.stringify(l)).join(', ')}`,
      'Give every label a weight.',
    );
  return labels.map((l) => map.get(l)!);
}

function planView(plan: AugPePlan) {
  const s = plan.settings;
  return {
    epsilon: s.epsilon,
    epsilonRun: plan.epsilonRun,
    delta: s.delta,
    accountant: plan.accountant,
    sigma: plan.sigma,
    ...(plan.sigmaClass !== undefined ? { sigmaClass: plan.sigmaClass } : {}),
    classCounts: plan.classCounts,
    mu: plan.mu,
    iterations: s.iterations,
    lookahead: s.lookahead,
    selection: s.selection,
    variations: s.variations,
    neighbours: s.neighbours,
    metric: s.metric,
    variation: s.variation,
    count: s.count,
    sequential: plan.sequential,
    labels: plan.labels.map((l) => ({ ...labelPlanRow(l), partition: l.partition === '*' ? '*' : 'label' })),
    estimate: plan.estimate,
  };
}

function formatPlan(
  o: {
    plan: ReturnType<typeof planView> & { declarations: string[] };
    budget: ReturnType<typeof dryRunBudget>;
    provider: { kind: string; model: string; offline: boolean };
    embedder: { kind: string; model: string; offline: boolean };
    dataFlow: DataFlow;
    warnings: string[];
    resumes?: { run: string; histogramsBefore: number };
  },
  budgetLines: string[],
): string[] {
  const f = formatEpsilon;
  const p = o.plan;
  return [
    ...(o.resumes
      ? [
          `  resumes ${o.resumes.run} after ${o.resumes.histogramsBefore} of ${p.iterations} histograms: charges the ${p.iterations - o.resumes.histogramsBefore} left`,
        ]
      : []),
    p.sigmaClass === undefined
      ? `  ε ${p.epsilon} at δ ${p.delta.toExponential(2)}: T = ${p.iterations} Gaussian histograms with σ = ${f(p.sigma)} (μ = √T/σ = ${f(p.mu)} GDP); this run alone ε = ${f(p.epsilonRun)}`
      : `  ε ${p.epsilon} at δ ${p.delta.toExponential(2)}: the label counts once with σ_c = ${f(p.sigmaClass)}, then T = ${p.iterations} Gaussian histograms with σ = ${f(p.sigma)} (μ = √(T/σ² + 1/σ_c²) = ${f(p.mu)} GDP); this run alone ε = ${f(p.epsilonRun)}`,
    `  lookahead K = ${p.lookahead}${p.lookahead ? ' (each candidate embedded as the mean of K variations)' : ''}, selection ${p.selection}, class sizes: ${p.classCounts === 'dp' ? 'from the DP label counts' : p.classCounts === 'public' ? 'your public fractions' : 'equal split'}`,
    `  L − 1 = ${p.variations} variations per selected record, k = ${p.neighbours} (${p.metric}), variation ${p.variation}${p.sequential ? '; privacy units span labels: charged to the whole dataset' : '; labels compose in parallel'}`,
    ...p.labels.map(
      (l) =>
        `  ${printableOneLine(l.label)}: ${l.count} record(s) from ${l.population} candidates per iteration; ${l.rows} private row(s) in ${l.units} unit(s) (local only)`,
    ),
    `  generator: ${o.provider.kind}/${o.provider.model}${o.provider.offline ? ' (built-in offline model: for trying the tool)' : ''}; embedder: ${o.embedder.kind}/${o.embedder.model}${o.embedder.offline ? ' (private rows stay on this machine)' : ' (private rows are sent to it)'}`,
    `  data: ${o.dataFlow.sentence}`,
    `  about ${p.estimate.completions} completions, ${p.estimate.syntheticEmbeddings} synthetic and ${p.estimate.privateEmbeddings} private embeddings`,
    ...budgetLines,
    ...p.declarations.map((d) => `  ${d}`),
    ...o.warnings.map((w) => `warning: ${w}`),
  ];
}

/** A run id from --resume: the id itself, or its checkpoint or state file name. */
function runIdOf(flag: string): string {
  return path.basename(flag).replace(/(\.state\.json|\.local-diagnostics\.json|\.jsonl)$/, '');
}
