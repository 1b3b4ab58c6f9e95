import { randomInt } from 'node:crypto';
import { UsageError } from '../../core/errors';
import {
  callEstimate,
  classificationPrompt,
  evaluateInContext,
  realDemos,
  type Condition,
  type InContextResult,
  type ScoreMode,
} from '../../core/evaluate/incontext';
import { readReleased } from '../../core/evaluate/inputs';
import { heldOutPart } from '../../core/evaluate/split';
import { EVALUATION_NOTE } from '../../core/evaluate/report';
import { createProvider, DEFAULT_PRICES, priceFor } from '../../core/providers';
import { estimateTokens } from '../../core/providers/usage';
import { printableOneLine as p } from '../../core/text-safety';
import { numberFlag, stringFlag, type Command } from '../args';
import { datasetOptions, datasetUsage, ledgerFor, loadDatasetFromFlags, onStopSignals } from '../dataset-flags';
import { providerConfigFromFlags, providerOptions, providerUsage } from '../provider-flags';
import { evaluateRecordsCommand, recordsOptions, recordsUsage } from './evaluate-records';

const DEFAULT_MAX_CALLS = 2000;

export const evaluate: Command = {
  name: 'evaluate',
  summary:
    'Measure on the held-out split whether released demonstrations help (local only, not private: never exported).',
  usage: `private-fewshot evaluate <dataset> --demos FILE|RUN [options]
private-fewshot evaluate <dataset> --records FILE [options]

Needs a held-out split (private-fewshot split <dataset> --holdout 0.2) made before generating. Every number it prints
is computed from private held-out rows without noise: a local measurement for the data owner, never in a release.

  --demos FILE|RUN   demonstrations to evaluate: a release (demos --format json), a JSONL file of {label, text}, or a
                     run id (its checkpoint in .private-fewshot/runs/). Each held-out text whose label is among the
                     demonstrations' labels is classified three ways: zero-shot (ε = 0), with the demonstrations, and
                     with k real training demonstrations per label (ε = ∞, the non-private reference)
  --real-shots K     real demonstrations per label (default: as many per label as the file has)
  --score S          auto (default: logprobs when the model returns them, else generation), logprobs, generation
  --top-k K          alternatives read per step in logprobs mode (default 20, or the model's maximum)
  --rows N           evaluate at most N held-out rows (default: all)
  --max-calls N      never make more than N model calls (default ${DEFAULT_MAX_CALLS}); the evaluation stops before the first
                     row that might exceed it and says so
  --dry-run          print the number of calls, tokens and cost, and call nothing
  --json             print one JSON object {"localOnlyNotPrivate": …}
  --workspace DIR    where .private-fewshot/ lives (default: found from the dataset)
${recordsUsage}
${providerUsage}
${datasetUsage}`,
  options: {
    demos: { type: 'string' },
    'real-shots': { type: 'string' },
    score: { type: 'string' },
    'top-k': { type: 'string' },
    rows: { type: 'string' },
    'max-calls': { type: 'string' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
    workspace: { type: 'string' },
    ...recordsOptions,
    ...datasetOptions,
    ...providerOptions,
  },
  async run(values, positionals, io) {
    if (positionals.length !== 1)
      throw new UsageError(
        'evaluate needs exactly one dataset file',
        'Example: private-fewshot evaluate data.csv --demos demos.json',
      );
    const demosRef = stringFlag(values, 'demos');
    const recordsRef = stringFlag(values, 'records');
    if (!demosRef === !recordsRef) throw new UsageError('give either --demos FILE|RUN or --records FILE');
    const location = ledgerFor(positionals[0]!, values, io.cwd);
    const ds = await loadDatasetFromFlags(positionals[0]!, values, io.cwd, location.root);
    const { parts } = heldOutPart(ds, location.dir);
    if (recordsRef) return evaluateRecordsCommand(values, io, { ds, parts, location, recordsRef });

    const released = readReleased(demosRef!, io.cwd, location.dir);
    const labels = released.labels;
    const maxRows = numberFlag(values, 'rows', { min: 1, integer: true });
    const eligible = parts.heldOut.filter((e) => labels.includes(e.label));
    const rows = eligible.slice(0, maxRows ?? eligible.length).map((e) => ({ label: e.label, text: e.text }));
    if (rows.length === 0)
      throw new UsageError(
        `no held-out row of ${ds.file} has a label of the demonstrations (${labels.slice(0, 3).map(p).join(', ')}${labels.length > 3 ? ', …' : ''})`,
        'Evaluate demonstrations written for labels of this dataset.',
      );
    const perLabel = Math.max(...labels.map((l) => released.items.filter((d) => d.label === l).length));
    const realShots = numberFlag(values, 'real-shots', { min: 1, max: 100, integer: true }) ?? perLabel;
    const training = parts.training.map((e) => ({ label: e.label, text: e.text }));
    const conditions: Condition[] = [
      { kind: 'zero-shot', name: 'zero-shot (ε = 0)', epsilon: 0, demos: [] },
      {
        kind: 'dp',
        name: `DP demonstrations (${released.epsilon === undefined ? 'ε from the run' : `ε = ${Number(released.epsilon.toPrecision(3))}`})`,
        epsilon: released.epsilon,
        demos: released.items,
      },
      {
        kind: 'real',
        name: `${realShots} real per label (ε = ∞, non-private)`,
        epsilon: Number.POSITIVE_INFINITY,
        demos: realDemos(training, labels, realShots, (n) => randomInt(n)),
      },
    ];

    const provider = createProvider(providerConfigFromFlags(values, io.env, 'builtin'));
    const scoreFlag = stringFlag(values, 'score') ?? 'auto';
    if (!['auto', 'logprobs', 'generation'].includes(scoreFlag))
      throw new UsageError(`--score must be auto, logprobs or generation; got "${scoreFlag}"`);
    const caps = await provider.capabilities();
    const mode: ScoreMode =
      scoreFlag === 'auto' ? (caps.nextTokenLogprobs ? 'logprobs' : 'generation') : (scoreFlag as ScoreMode);
    if (mode === 'logprobs' && !caps.nextTokenLogprobs)
      throw new UsageError(
        `${provider.kind}/${provider.model} returns no log-probabilities`,
        'Use --score generation (or auto).',
      );
    const topK = Math.min(
      numberFlag(values, 'top-k', { min: 1, max: 100, integer: true }) ?? 20,
      caps.nextTokenLogprobs?.maxTopK ?? 20,
    );
    const maxCalls = numberFlag(values, 'max-calls', { min: 1, integer: true }) ?? DEFAULT_MAX_CALLS;
    const est = callEstimate(mode, labels, rows.length, conditions.length);
    const avgChars = rows.reduce((a, r) => a + r.text.length, 0) / rows.length;
    const inputTokens =
      conditions.reduce(
        (a, c) => a + estimateTokens(classificationPrompt(labels, c.demos, 'x'.repeat(Math.round(avgChars)))),
        0,
      ) *
      rows.length *
      (est.typicalCalls / (rows.length * conditions.length));
    const price = priceFor(provider.model, DEFAULT_PRICES);
    const cost = provider.offline
      ? 0
      : price
        ? (inputTokens * price.input + est.typicalCalls * price.output) / 1e6
        : null;
    const plan = {
      rows: rows.length,
      conditions: conditions.map((c) => c.name),
      mode,
      typicalCalls: est.typicalCalls,
      maxCallsNeeded: est.maxCalls,
      maxCalls,
      rowsWithinCap: Math.min(rows.length, Math.floor(maxCalls / (conditions.length * est.perClassification))),
      inputTokens: Math.round(inputTokens),
      costUSD: cost,
    };
    const planLines = [
      `Evaluation plan (${EVALUATION_NOTE})`,
      `  ${plan.rows} held-out rows of ${labels.length} label(s) × ${conditions.length} conditions: ${plan.conditions.join('; ')}`,
      `  model ${provider.kind}/${provider.model}${provider.offline ? ' (built-in offline model: its accuracy is low; for trying the loop)' : ''}, scoring by ${mode === 'logprobs' ? `next-token log-probabilities (constrained greedy over the labels, top-${topK})` : 'greedy generation and exact match'}`,
      `  calls: about ${plan.typicalCalls}, at most ${plan.maxCallsNeeded} (cap --max-calls ${maxCalls}${plan.rowsWithinCap < plan.rows ? `: only the first ${plan.rowsWithinCap} rows fit` : ''}); ≈${plan.inputTokens} input tokens; cost ${cost === null ? 'unknown (model not in the price table)' : `≈ $${cost.toFixed(2)}`}`,
    ];
    if (values['dry-run']) {
      io.out(
        values.json
          ? JSON.stringify({ dryRun: true, localOnlyNotPrivate: { note: EVALUATION_NOTE, plan } })
          : planLines.join('\n'),
      );
      return 0;
    }
    if (plan.rowsWithinCap === 0)
      throw new UsageError(
        `--max-calls ${maxCalls} is below the ${conditions.length * est.perClassification} calls one row may need`,
        'Raise --max-calls.',
      );
    for (const l of planLines) io.err(l);
    const controller = new AbortController();
    const stop = onStopSignals(() => controller.abort());
    let lastLine = Date.now();
    let result: InContextResult;
    try {
      result = await evaluateInContext({
        provider,
        mode,
        labels,
        conditions,
        rows,
        topK,
        maxCalls,
        signal: controller.signal,
        onProgress: (pr) => {
          if (values.json || Date.now() - lastLine < 2000) return;
          lastLine = Date.now();
          io.err(`… ${pr.rows} of ${pr.of} rows, ${pr.calls} calls`);
        },
      });
    } finally {
      stop();
    }
    const usage = provider.usage();
    const report = {
      note: EVALUATION_NOTE,
      dataset: ds.file,
      demonstrations: released.source,
      model: { kind: provider.kind, model: provider.model, offline: provider.offline },
      ...result,
      usage,
    };
    io.out(values.json ? JSON.stringify({ localOnlyNotPrivate: report }) : formatInContext(report));
    return 0;
  },
};

const pct = (x: number) => (Number.isNaN(x) ? '  —  ' : `${(100 * x).toFixed(1)}%`);

export function formatInContext(
  r: InContextResult & { note: string; dataset: string; model: { kind: string; model: string; offline: boolean } },
): string {
  const width = Math.max(...r.conditions.map((c) => c.name.length), 10);
  const lines = [
    `Evaluation of ${p(r.dataset)} on its held-out split — ${r.note}`,
    `model ${r.model.kind}/${r.model.model}${r.model.offline ? ' (built-in offline model: low accuracy expected)' : ''}; scoring: ${r.mode}; ${r.rowsEvaluated} of ${r.rowsPlanned} rows; ${r.calls} calls${r.stoppedAtCap ? ` (stopped at --max-calls ${r.maxCalls})` : ''}`,
    `${'condition'.padEnd(width)}  accuracy  95% CI (Wilson)   unanswered`,
    ...r.conditions.map(
      (c) =>
        `${c.name.padEnd(width)}  ${pct(c.overall.accuracy).padStart(8)}  [${pct(c.overall.low)}, ${pct(c.overall.high)}]`.padEnd(
          width + 36,
        ) + `  ${c.unanswered}`,
    ),
    'per label (accuracy, rows):',
    ...r.labels.map(
      (l) =>
        `  ${p(l)}: ${r.conditions
          .map((c) => {
            const x = c.perLabel.find((q) => q.label === l)!;
            return `${c.kind} ${pct(x.accuracy)}`;
          })
          .join(', ')} (n = ${r.conditions[0]!.perLabel.find((q) => q.label === l)!.n})`,
    ),
  ];
  return lines.join('\n');
}
