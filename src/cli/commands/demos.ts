import path from 'node:path';
import { EXPORT_FORMATS, type ExportFormat } from '../../core/fewshot/export';
import { FEWSHOT_DEFAULTS, type FewShotPlan } from '../../core/fewshot/plan';
import { chooseLabels, prepareFewShot } from '../../core/fewshot/prepare';
import { runFewShot } from '../../core/fewshot/run';
import { defaultDeltaWarning, overlapNotes } from '../../core/ledger';
import { printableOneLine } from '../../core/text-safety';
import { cliLedger, dryRunBudget } from '../ledger';
import { createProvider, DEFAULT_PRICES, priceFor } from '../../core/providers';
import { estimateTokens } from '../../core/providers/usage';
import { fewShotDiagnostics, fewShotRelease, localJournalPath, renderRelease } from '../../core/release';
import { type Command } from '../args';
import { datasetOptions } from '../dataset-flags';
import {
  checkRunFlags,
  choiceFlag,
  limitFlag,
  loadRunInputs,
  requiredFlag,
  splitLabels,
  templateFlag,
  runExitCode,
  withStopSignals,
} from '../run-flags';
import { LIMITS } from '../../shared/limits';
import { keepRelease, writeRunOutput } from '../output';
import { providerConfigFromFlags, providerOptions, providerUsage } from '../provider-flags';
import { formatEpsilon } from '../../shared/format';

export const demos: Command = {
  name: 'demos',
  summary:
    'Write few-shot demonstrations with a differential-privacy guarantee (Tang et al. 2024) and charge the ledger.',
  usage: `private-fewshot demos <dataset> (--labels a,b,c | --all-labels) --shots N --epsilon E [options]

  <dataset>                 a .csv, .jsonl or .json file (columns detected, or --text-column/--label-column/--unit-column)
  --labels a,b,c            the labels to write demonstrations for (treated as public)
  --all-labels              take every label from the data (you acknowledge that the label set is then public)
  --shots N                 demonstrations per label
  --epsilon E               the ε this run may spend
  --delta D                 δ (default: the dataset's ledger δ, 1e-6 unless set with \`budget --delta\`)
  --prompts M               prompts per token (default ${FEWSHOT_DEFAULTS.prompts})
  --examples-per-prompt N   expected private examples per prompt (default ${FEWSHOT_DEFAULTS.examplesPerPrompt}; q = M·N/ñ, ñ the
                            pool size released with Gaussian noise at the start of the run)
  --count-share S           share of ε and δ for the noisy pool counts (default ${FEWSHOT_DEFAULTS.countShare}); the token steps get the rest
  --max-tokens T            token budget per demonstration (default ${FEWSHOT_DEFAULTS.maxTokens}); charged in full
  --lookahead L             tokens of speculation per request (default 1; ${FEWSHOT_DEFAULTS.lookahead} for builtin); same output
  --shot-concurrency C      a label's demonstrations written at once (default: all); same output and ε, but a
                            cancel charges every started demonstration in full, so 1 keeps a cancel cheap
${providerUsage}
  --format F                json | jsonl | chat | text (default text)
  --template T              for text: e.g. "Text: {text}\\nLabel: {label}"
  --out FILE                write the demonstrations there (default: stdout)
  --dry-run                 print the plan (count noise, steps, calls, cost, budget after) and touch nothing
  --json                    print one JSON object: "release" (what --out writes with --format json: the
                            demonstrations and public parameters) and "localOnlyNotPrivate" (usage, pool sizes,
                            budget, journal: computed from the private data, never to be shared)
  --workspace DIR           where .private-fewshot/ lives (default: found from the dataset, see docs/LEDGER.md)
  --skip-invalid, --dedupe, --max-bytes N   as for \`inspect\``,
  options: {
    labels: { type: 'string' },
    'all-labels': { type: 'boolean' },
    shots: { type: 'string' },
    epsilon: { type: 'string' },
    delta: { type: 'string' },
    prompts: { type: 'string' },
    'examples-per-prompt': { type: 'string' },
    'count-share': { type: 'string' },
    'max-tokens': { type: 'string' },
    lookahead: { type: 'string' },
    'shot-concurrency': { type: 'string' },
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
    const { file, labelsFlag, epsilon } = checkRunFlags(
      'demos',
      'Example: private-fewshot demos examples/banking77-sample.csv --labels card_arrival --shots 2 --epsilon 4',
      values,
      positionals,
    );
    const shots = requiredFlag(values, 'shots', LIMITS.shots);
    const format = choiceFlag<ExportFormat>(values, 'format', EXPORT_FORMATS, 'text');
    const template = templateFlag(values);
    const providerConfig = providerConfigFromFlags(values, io.env, 'builtin');

    const { location, root, ds, summary, delta, outFlag, outFile, splitNote } = await loadRunInputs(
      file,
      values,
      io.cwd,
    );
    if (splitNote) io.err(splitNote);
    const labels = labelsFlag
      ? splitLabels(labelsFlag)
      : chooseLabels(
          summary.labels.map((l) => l.label),
          [],
          true,
        );
    const ledger = cliLedger(root, io.env);
    const {
      target,
      plan,
      check,
      status: before,
    } = await prepareFewShot(
      ds,
      ledger,
      {
        labels,
        shots,
        epsilon,
        delta,
        prompts: limitFlag(values, 'prompts', LIMITS.prompts),
        examplesPerPrompt: limitFlag(values, 'examples-per-prompt', LIMITS.examplesPerPrompt),
        maxTokens: limitFlag(values, 'max-tokens', LIMITS.demoMaxTokens),
        countShare: limitFlag(values, 'count-share', LIMITS.countShare),
      },
      summary,
    );
    // Local only: the ledger's default δ compared with 1/(n·ln n) for the exact n (never in a release).
    const deltaWarning = defaultDeltaWarning(check.total, target.units, positionals[0]!);
    const warnings = deltaWarning ? [...plan.warnings, deltaWarning] : plan.warnings;
    const lookaheadFlag = limitFlag(values, 'lookahead', LIMITS.lookahead);
    const provider = createProvider(providerConfig);
    const offline = provider.offline;
    const lookahead = lookaheadFlag ?? (offline ? FEWSHOT_DEFAULTS.lookahead : 1);
    const shotConcurrency = Math.min(
      plan.settings.shots,
      limitFlag(values, 'shot-concurrency', LIMITS.shotConcurrency) ?? plan.settings.shots,
    );
    const estimate = estimateRun(
      plan,
      ds.examples.length ? averageLength(ds.examples.map((e) => e.text)) : 0,
      provider.model,
      lookahead,
      offline,
      shotConcurrency,
    );

    for (const note of overlapNotes(before)) io.err(note);
    if (values['dry-run']) {
      const out = {
        dryRun: true,
        plan: planView(plan),
        budget: dryRunBudget(check),
        estimate,
        provider: { kind: provider.kind, model: provider.model, offline },
        warnings,
      };
      io.out(values.json ? JSON.stringify(out) : formatPlan(out));
      return check.fits ? 0 : 1; // a refused plan is a failure, also in a dry run
    }
    if (offline)
      io.err(
        `note: using the built-in offline model (${provider.model}): for trying the tool, not production quality. Pass --provider openai --model … for a real model.`,
      );
    for (const w of warnings) io.err(`warning: ${w}`);

    const result = await withStopSignals({ location, io, json: values.json === true }, (signal, progress) =>
      runFewShot({
        dataset: ds,
        plan,
        provider,
        ledger,
        units: summary.units,
        lookahead,
        shotConcurrency,
        signal,
        // Warnings that follow from the noisy pool counts (DP outputs), given as soon as they are drawn.
        onWarnings: (ws) => ws.forEach((w) => io.err(`warning: ${w}`)),
        onProgress: (p) =>
          progress(
            () => `… ${p.label} #${p.shot + 1}: ${p.tokens} tokens, ${p.calls} calls, ${p.roundTrips} round trips`,
          ),
      }),
    );
    const after = await ledger.status(target);
    // The release boundary (src/core/release.ts): files and stdout get the release only; the local diagnostics go to
    // stderr, the run journal and the "localOnlyNotPrivate" key of --json.
    const release = fewShotRelease({ plan, result });
    keepRelease(result.checkpoint, release, io.err);
    const rendered = renderRelease(release, { format, template });
    const journal = path.relative(root, localJournalPath(result.checkpoint));
    const budget = { total: after.total.epsilon, spent: after.spent, remaining: after.remaining };
    const written = writeRunOutput(
      { outFile, outFlag, cwd: io.cwd, err: io.err },
      { status: result.status, produced: result.demonstrations.length > 0, checkpoint: result.checkpoint, rendered },
    );
    if (values.json) {
      io.out(
        JSON.stringify({
          release,
          localOnlyNotPrivate: { ...fewShotDiagnostics(result, journal), budget },
        }),
      );
    } else {
      if (!outFile) io.out(rendered.trimEnd());
      io.err(
        `${result.status}: ${result.demonstrations.length} demonstration(s); ε charged ${result.epsilonCharged.toFixed(3)}${result.status === 'completed' ? '' : ` of ${result.reservation.epsilonRun.toFixed(3)} planned`}; budget spent ${after.spent.toFixed(3)} of ${after.total.epsilon}, remaining ${Math.max(0, after.remaining).toFixed(3)}.`,
      );
      io.err(
        `local only, not private: ${result.report.usage.calls} calls in ${result.report.usage.roundTrips} round trips, ${result.report.usage.inputTokens} input and ${result.report.usage.outputTokens} output tokens, $${result.report.usage.cost.toFixed(4)}, ${(result.report.durationMs / 1000).toFixed(1)} s (journal ${journal})${written ? `; written to ${outFlag}` : ''}`,
      );
    }
    if (result.refusedPrompts > 0)
      io.err(
        `local diagnostic (depends on the private data; do not share): the server refused ${result.refusedPrompts} private prompt request(s); each voted the zero vector, which the DP guarantee covers.`,
      );
    return runExitCode(
      io,
      result,
      `What was written is kept in ${path.relative(root, result.checkpoint)} and charged.`,
    );
  },
};

function averageLength(texts: string[]): number {
  return texts.reduce((a, t) => a + t.length, 0) / texts.length;
}

/**
 * Upper-bound estimates (one token at a time, no reuse): what the plan may cost. Round trips are the critical path:
 * labels run in parallel and a label's shots `shotConcurrency` at a time, one wave of requests per token.
 */
function estimateRun(
  plan: FewShotPlan,
  avgChars: number,
  model: string,
  lookahead: number,
  offline: boolean,
  shotConcurrency: number,
) {
  const s = plan.settings;
  const steps = s.labels.length * s.shots * s.maxTokens;
  const calls = steps * (s.prompts + 1);
  const promptTokens = estimateTokens('x'.repeat(Math.round(120 + s.examplesPerPrompt * (avgChars + 20))));
  const inputTokens = calls * promptTokens;
  const outputTokens = calls * lookahead;
  const price = priceFor(model, DEFAULT_PRICES);
  const cost = offline ? 0 : price ? (inputTokens * price.input + outputTokens * price.output) / 1e6 : null;
  const secondsPerRoundTrip = offline ? 0.01 : 0.5;
  const roundTrips = Math.ceil(s.shots / shotConcurrency) * s.maxTokens;
  return {
    maxCalls: calls,
    maxRoundTrips: roundTrips,
    inputTokens,
    outputTokens,
    costUSD: cost,
    seconds: Math.ceil(roundTrips * secondsPerRoundTrip),
  };
}

function planView(plan: FewShotPlan) {
  return {
    epsilon: plan.settings.epsilon,
    epsilonRun: plan.epsilonRun,
    delta: plan.settings.delta,
    accountant: plan.accountant,
    prompts: plan.settings.prompts,
    examplesPerPrompt: plan.settings.examplesPerPrompt,
    maxTokens: plan.settings.maxTokens,
    shots: plan.settings.shots,
    sequential: plan.sequential,
    // The pool sizes are released with Gaussian noise at the start of the run; q = M·N/ñ and the token σ follow from
    // them. Nothing here is computed from the exact pool sizes.
    countRelease: {
      sigma: plan.counts.sigma,
      epsilon: plan.counts.epsilon,
      delta: plan.counts.delta,
      share: plan.settings.countShare,
    },
    labels: plan.labels.map((l) => ({ label: l.label, steps: l.steps })),
  };
}

function formatPlan(o: {
  plan: ReturnType<typeof planView>;
  budget: {
    total: number;
    delta: number;
    spent: number;
    spentAfter: number;
    pldAfter: number;
    remainingAfter: number;
    fits: boolean;
    over: number;
  };
  estimate: ReturnType<typeof estimateRun>;
  provider: { kind: string; model: string; offline: boolean };
  warnings: string[];
}): string {
  const f = formatEpsilon;
  const lines = [
    `Plan (dry run: nothing was spent or sent)`,
    `  ε ${o.plan.epsilon} at δ ${o.plan.delta.toExponential(2)} with the PLD accountant; the planned charges compose (PLD) to ε = ${f(o.plan.epsilonRun)}`,
    `  M = ${o.plan.prompts} prompts, N = ${o.plan.examplesPerPrompt} expected examples per prompt, T_max = ${o.plan.maxTokens}, ${o.plan.shots} shot(s) per label${o.plan.sequential ? ' (labels compose in sequence)' : ' (labels compose in parallel)'}`,
    `  1. pool counts released with Gaussian noise σ_c = ${f(o.plan.countRelease.sigma)}: ε ${f(o.plan.countRelease.epsilon)} at δ ${o.plan.countRelease.delta.toExponential(2)} (${f(100 * o.plan.countRelease.share)}% of ε and δ)`,
    `  2. then per label ${o.plan.labels[0]!.steps} token steps at q = M·N/ñ (ñ the noisy count), σ set from ñ for the rest of ε and δ: ${o.plan.labels.map((l) => printableOneLine(l.label)).join(', ')}`,
    `  model: ${o.provider.kind}/${o.provider.model}${o.provider.offline ? ' (built-in offline model: for trying the tool)' : ''}`,
    `  at most ${o.estimate.maxCalls} calls in ${o.estimate.maxRoundTrips} round trips (labels and shots run concurrently), ≈${o.estimate.inputTokens} input and ${o.estimate.outputTokens} output tokens, cost ${o.estimate.costUSD === null ? 'unknown (model not in the price table)' : `≤ $${o.estimate.costUSD.toFixed(2)}`}, ≤ ${o.estimate.seconds} s`,
    `  budget: total ε ${o.budget.total}, spent ${f(o.budget.spent)}, after this run ${f(o.budget.spentAfter)}, remaining ${f(Math.max(0, o.budget.remainingAfter))}${o.budget.fits ? '' : ` — REFUSED: over by ${f(o.budget.over)}`} (budget filter: valid for runs chosen after earlier outputs)`,
    ...(Math.abs(o.budget.pldAfter - o.budget.spentAfter) > 1e-9 * Math.max(1, o.budget.spentAfter)
      ? [
          `  as planned: after this run ε ${f(o.budget.pldAfter)} if all runs had been planned in advance (PLD composition; not a guarantee across runs)`,
        ]
      : []),
    ...o.warnings.map((w) => `warning: ${w}`),
  ];
  return lines.join('\n');
}
