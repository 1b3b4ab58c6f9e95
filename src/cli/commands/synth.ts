import path from 'node:path';
import { summarize } from '../../core/data';
import { UsageError } from '../../core/errors';
import {
  AUGPE_DEFAULTS,
  METRICS,
  VARIATION_KINDS,
  prepareAugPe,
  runAugPe,
  type AugPePlan,
  type Metric,
  type VariationKind,
} from '../../core/augpe';
import { checkTemplate } from '../../core/fewshot/export';
import { defaultDeltaWarning, overlapNotes } from '../../core/ledger';
import { DELTA_MIN } from '../../core/privacy';
import { printableOneLine } from '../../core/text-safety';
import { cliLedger, dryRunBudget } from '../ledger';
import { createProvider } from '../../core/providers';
import { augPeDiagnostics, augPeRelease, localJournalPath, renderRelease } from '../../core/release';
import { numberFlag, stringFlag, type Command } from '../args';
import {
  checkDelta,
  datasetOptions,
  ledgerFor,
  loadDatasetFromFlags,
  noteLedgerCreated,
  onStopSignals,
} from '../dataset-flags';
import { checkOutputPath, writeRunOutput } from '../output';
import { providerConfigFromFlags, providerOptions, providerUsage } from '../provider-flags';

const FORMATS = ['json', 'jsonl', 'text'] as const;
type SynthFormat = (typeof FORMATS)[number];
const EMBEDDERS = ['same', 'builtin'] as const;

export const synth: Command = {
  name: 'synth',
  summary:
    'Write synthetic labelled records with Aug-PE (Xie et al. 2024): the model never sees private rows; DP on the vote histograms.',
  usage: `private-fewshot synth <dataset> (--labels a,b,c | --all-labels) --count N --epsilon E [options]

  <dataset>                 a .csv, .jsonl or .json file (columns detected, or --text-column/--label-column/--unit-column)
  --labels a,b,c            the labels to write records for (treated as public)
  --all-labels              take every label from the data (you acknowledge that the label set is then public)
  --count N                 synthetic records in total, split equally over the labels (or by --fractions)
  --fractions a=0.3,b=0.7   public class fractions (weights, normalised); never taken from the private counts
  --epsilon E               the ε this run may spend
  --delta D                 δ (default: the dataset's ledger δ, 1e-6 unless set with \`budget --delta\`)
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
  --template T              for text: e.g. "Text: {text}\\nLabel: {label}"
  --out FILE                write the records there (default: stdout)
  --dry-run                 print the plan (σ, T, calls, embeddings, budget after) and touch nothing
  --json                    print one JSON object: "release" (what --out writes with --format json: the
                            records and public parameters) and "localOnlyNotPrivate" (usage, private row counts,
                            budget, journal: computed from the private data, never to be shared)
  --workspace DIR           where .private-fewshot/ lives (default: found from the dataset, see docs/LEDGER.md)
  --skip-invalid, --dedupe, --max-bytes N   as for \`inspect\``,
  options: {
    labels: { type: 'string' },
    'all-labels': { type: 'boolean' },
    count: { type: 'string' },
    fractions: { type: 'string' },
    epsilon: { type: 'string' },
    delta: { type: 'string' },
    iterations: { type: 'string' },
    variations: { type: 'string' },
    neighbours: { type: 'string' },
    metric: { type: 'string' },
    threshold: { type: 'string' },
    variation: { type: 'string' },
    'mask-probability': { type: 'string' },
    temperature: { type: 'string' },
    'max-tokens': { type: 'string' },
    embedder: { type: 'string' },
    format: { type: 'string' },
    template: { type: 'string' },
    out: { type: 'string' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
    workspace: { type: 'string' },
    ...datasetOptions,
    ...providerOptions,
  },
  async run(values, positionals, io) {
    if (positionals.length !== 1)
      throw new UsageError(
        'synth needs exactly one dataset file',
        'Example: private-fewshot synth examples/banking77-sample.csv --labels card_arrival,exchange_rate --count 20 --epsilon 2',
      );
    const labelsFlag = stringFlag(values, 'labels');
    if (!labelsFlag === !values['all-labels'])
      throw new UsageError(
        'give either --labels a,b,c or --all-labels',
        '--all-labels reads the label set from the data; pass it only if that set may be public.',
      );
    const count = numberFlag(values, 'count', { min: 1, max: 1_000_000, integer: true });
    const epsilon = numberFlag(values, 'epsilon', { min: Number.MIN_VALUE });
    if (count === undefined) throw new UsageError('--count is required');
    if (epsilon === undefined) throw new UsageError('--epsilon is required');
    const format = (stringFlag(values, 'format') ?? 'text') as SynthFormat;
    if (!FORMATS.includes(format))
      throw new UsageError(`--format must be one of ${FORMATS.join(', ')}; got "${format}"`);
    const template = stringFlag(values, 'template')?.replace(/\\n/g, '\n');
    if (template !== undefined) checkTemplate(template);
    const metric = (stringFlag(values, 'metric') ?? AUGPE_DEFAULTS.metric) as Metric;
    if (!METRICS.includes(metric))
      throw new UsageError(`--metric must be one of ${METRICS.join(', ')}; got "${metric}"`);
    const variation = (stringFlag(values, 'variation') ?? AUGPE_DEFAULTS.variation) as VariationKind;
    if (!VARIATION_KINDS.includes(variation))
      throw new UsageError(`--variation must be one of ${VARIATION_KINDS.join(', ')}; got "${variation}"`);
    const embedderFlag = (stringFlag(values, 'embedder') ?? 'same') as (typeof EMBEDDERS)[number];
    if (!EMBEDDERS.includes(embedderFlag))
      throw new UsageError(`--embedder must be one of ${EMBEDDERS.join(', ')}; got "${embedderFlag}"`);
    const providerConfig = providerConfigFromFlags(values, io.env, 'builtin');

    const location = ledgerFor(positionals[0]!, values, io.cwd);
    const root = location.root;
    const outFlag = stringFlag(values, 'out');
    const ds = await loadDatasetFromFlags(positionals[0]!, values, io.cwd, root);
    const outFile =
      outFlag === undefined
        ? undefined
        : checkOutputPath(outFlag, io.cwd, {
            inputs: [path.resolve(io.cwd, positionals[0]!)],
            ledgerDir: location.dir,
          });
    const summary = summarize(ds);
    const delta = numberFlag(values, 'delta', { min: DELTA_MIN, max: 1 });
    checkDelta(delta, summary.units);
    // --all-labels: sorted by name. The summary lists labels by private frequency, and the order decides which labels
    // get the remainder of an equal split (and the output order), so it must not come from the counts.
    const labels = labelsFlag
      ? labelsFlag
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean)
      : summary.labels.map((l) => l.label).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const fractions = parseFractions(stringFlag(values, 'fractions'), labels);
    const ledger = cliLedger(root, io.env);
    const {
      target,
      plan,
      check,
      status: before,
    } = await prepareAugPe(
      ds,
      ledger,
      {
        labels,
        count,
        epsilon,
        ...(fractions ? { fractions } : {}),
        delta,
        iterations: numberFlag(values, 'iterations', { min: 1, max: 1000, integer: true }),
        variations: numberFlag(values, 'variations', { min: 1, max: 100, integer: true }),
        neighbours: numberFlag(values, 'neighbours', { min: 1, max: 100, integer: true }),
        metric,
        threshold: numberFlag(values, 'threshold', { min: 0 }),
        variation,
        maskProbability: numberFlag(values, 'mask-probability', { min: Number.MIN_VALUE, max: 1 }),
        temperature: numberFlag(values, 'temperature', { min: 0, max: 5 }),
        maxTokens: numberFlag(values, 'max-tokens', { min: 1, max: 8192, integer: true }),
      },
      summary,
    );
    // Local only: the ledger's default δ compared with 1/(n·ln n) for the exact n (never in a release).
    const deltaWarning = defaultDeltaWarning(check.total, target.units, positionals[0]!);
    const warnings = deltaWarning ? [...plan.warnings, deltaWarning] : plan.warnings;
    const provider = createProvider(providerConfig);
    const embedder =
      embedderFlag === 'builtin'
        ? provider.kind === 'builtin'
          ? provider
          : createProvider({ kind: 'builtin' })
        : provider;
    const out0 = {
      plan: planView(plan),
      budget: dryRunBudget(check),
      provider: { kind: provider.kind, model: provider.model, offline: provider.offline },
      embedder: { kind: embedder.kind, model: embedder.model, offline: embedder.offline },
      warnings,
    };
    for (const note of overlapNotes(before)) io.err(note);
    if (values['dry-run']) {
      io.out(values.json ? JSON.stringify({ dryRun: true, ...out0 }) : formatPlan(out0));
      return check.fits ? 0 : 1; // a refused plan is a failure, also in a dry run
    }
    if (provider.offline)
      io.err(
        `note: using the built-in offline model (${provider.model}): for trying the tool, not production quality. Pass --provider openai --model … for a real model.`,
      );
    io.err(
      embedder.offline
        ? 'note: private rows are embedded on this machine (built-in embedder); the generator sees only labels and synthetic text.'
        : `note: private rows are sent to ${embedder.kind}/${embedder.model} for embedding; the generator sees only labels and synthetic text. Use --embedder builtin to keep them on this machine.`,
    );
    for (const w of warnings) io.err(`warning: ${w}`);

    const controller = new AbortController();
    const stopSignals = onStopSignals(() => controller.abort());
    let lastLine = 0;
    let result;
    try {
      result = await runAugPe({
        dataset: ds,
        plan,
        provider,
        embedder,
        ledger,
        units: summary.units,
        signal: controller.signal,
        onProgress: (p) => {
          if (values.json || Date.now() - lastLine < 1000) return;
          lastLine = Date.now();
          io.err(
            `… ${p.phase} ${p.iteration}/${p.iterations}${p.label ? ` ${p.label}` : ''}: ${p.histograms} histogram(s), ${p.completions} completions, ${p.calls} calls, ${p.inputTokens + p.outputTokens} tokens, $${p.cost.toFixed(4)} (local)`,
          );
        },
      });
    } finally {
      stopSignals();
      noteLedgerCreated(location, io);
    }
    const after = await ledger.status(target);
    // The release boundary (src/core/release.ts): files and stdout get the release only; the local diagnostics go to
    // stderr, the run journal and the "localOnlyNotPrivate" key of --json.
    const release = augPeRelease({ plan, result });
    const rendered = renderRelease(release, { format, template });
    const journal = path.relative(root, localJournalPath(result.checkpoint));
    const budget = { total: after.total.epsilon, spent: after.spent, remaining: after.remaining };
    const written = writeRunOutput(
      { outFile, outFlag, cwd: io.cwd, err: io.err },
      { status: result.status, produced: result.records.length > 0, checkpoint: result.checkpoint, rendered },
    );
    if (values.json) {
      io.out(
        JSON.stringify({
          release,
          localOnlyNotPrivate: { ...augPeDiagnostics(plan, result, journal), budget },
        }),
      );
    } else {
      if (!outFile) io.out(rendered.trimEnd());
      io.err(
        `${result.status}: ${result.records.length} record(s) after ${result.histograms} of ${plan.settings.iterations} histogram(s); ε charged ${result.epsilonCharged.toFixed(3)}; budget spent ${after.spent.toFixed(3)} of ${after.total.epsilon}, remaining ${Math.max(0, after.remaining).toFixed(3)}.`,
      );
      const u = result.report.usage;
      io.err(
        `local only, not private: ${u.completions} completions in ${u.generateRequests} requests, ${u.syntheticEmbedded} synthetic texts embedded, ${u.inputTokens} input and ${u.outputTokens} output tokens, $${u.cost.toFixed(4)} (private embeddings: ${result.privateEmbeddingUsage.calls} calls, $${result.privateEmbeddingUsage.cost.toFixed(4)}), ${(result.report.durationMs / 1000).toFixed(1)} s (journal ${journal})${written ? `; written to ${outFlag}` : ''}`,
      );
    }
    if (result.refusedPrivateRows > 0)
      io.err(
        `local diagnostic (depends on the private data; do not share): the embedder refused ${result.refusedPrivateRows} private row(s); they cast no vote, which the DP guarantee covers.`,
      );
    if (result.status === 'failed') {
      io.err(
        `error: the run stopped early: ${result.error?.message ?? 'unknown error'}. The last selected records are kept in ${path.relative(root, result.checkpoint)} and ${result.histograms} histogram(s) are charged.`,
      );
      return 1;
    }
    return result.status === 'cancelled' ? 1 : 0;
  },
};

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
    mu: plan.mu,
    iterations: s.iterations,
    variations: s.variations,
    neighbours: s.neighbours,
    metric: s.metric,
    variation: s.variation,
    count: s.count,
    sequential: plan.sequential,
    labels: plan.labels.map((l) => ({
      label: l.label,
      count: l.count,
      population: l.population,
      rows: l.rows,
      units: l.units,
      partition: l.partition === '*' ? '*' : 'label',
    })),
    estimate: plan.estimate,
  };
}

function formatPlan(o: {
  plan: ReturnType<typeof planView>;
  budget: {
    total: number;
    spent: number;
    spentAfter: number;
    pldAfter: number;
    remainingAfter: number;
    fits: boolean;
    over: number;
  };
  provider: { kind: string; model: string; offline: boolean };
  embedder: { kind: string; model: string; offline: boolean };
  warnings: string[];
}): string {
  const f = (x: number) => Number(x.toPrecision(4));
  const p = o.plan;
  return [
    'Plan (dry run: nothing was spent or sent)',
    `  ε ${p.epsilon} at δ ${p.delta.toExponential(2)}: T = ${p.iterations} Gaussian histograms with σ = ${f(p.sigma)} (μ = √T/σ = ${f(p.mu)} GDP); this run alone ε = ${f(p.epsilonRun)}`,
    `  L − 1 = ${p.variations} variations per selected record, k = ${p.neighbours} (${p.metric}), variation ${p.variation}${p.sequential ? '; privacy units span labels: charged to the whole dataset' : '; labels compose in parallel'}`,
    ...p.labels.map(
      (l) =>
        `  ${printableOneLine(l.label)}: ${l.count} record(s) from ${l.population} candidates per iteration; ${l.rows} private row(s) in ${l.units} unit(s) (local only)`,
    ),
    `  generator: ${o.provider.kind}/${o.provider.model}${o.provider.offline ? ' (built-in offline model: for trying the tool)' : ''}; embedder: ${o.embedder.kind}/${o.embedder.model}${o.embedder.offline ? ' (private rows stay on this machine)' : ' (private rows are sent to it)'}`,
    `  about ${p.estimate.completions} completions, ${p.estimate.syntheticEmbeddings} synthetic and ${p.estimate.privateEmbeddings} private embeddings`,
    `  budget: total ε ${o.budget.total}, spent ${f(o.budget.spent)}, after this run ${f(o.budget.spentAfter)}, remaining ${f(Math.max(0, o.budget.remainingAfter))}${o.budget.fits ? '' : ` — REFUSED: over by ${f(o.budget.over)}`} (budget filter: valid for runs chosen after earlier outputs)`,
    ...(Math.abs(o.budget.pldAfter - o.budget.spentAfter) > 1e-9 * Math.max(1, o.budget.spentAfter)
      ? [
          `  as planned: after this run ε ${f(o.budget.pldAfter)} if all runs had been planned in advance (PLD composition; not a guarantee across runs)`,
        ]
      : []),
    ...o.warnings.map((w) => `warning: ${w}`),
  ].join('\n');
}
