import { UsageError } from '../../core/errors';
import { evaluateInContext, type InContextResult, type ScoreMode } from '../../core/evaluate/incontext';
import { DEFAULT_MAX_CALLS, planInContext } from '../../core/evaluate/plan';
import { heldOutPart } from '../../core/evaluate/split';
import { EVALUATION_NOTE } from '../../core/evaluate/report';
import { createProvider } from '../../core/providers';
import { printableOneLine as p } from '../../core/text-safety';
import { numberFlag, stringFlag, type Command, valueFlags, switchFlags } from '../args';
import {
  datasetArg,
  datasetUsage,
  ledgerFor,
  loadDatasetFromFlags,
  onStopSignals,
  workspaceDatasetOptions,
} from '../dataset-flags';
import { providerConfigFromFlags, providerOptions, providerUsage } from '../provider-flags';
import { evaluateRecordsCommand, recordsOptions, recordsUsage } from './evaluate-records';

export const evaluate: Command = {
  name: 'evaluate',
  summary:
    'Measure on the held-out split whether released demonstrations help (local only, not private: never exported).',
  usage: `private-fewshot evaluate <dataset> --demos FILE|RUN [--demos FILE|RUN …] [options]
private-fewshot evaluate <dataset> --records FILE [options]

Needs a held-out split (private-fewshot split <dataset> --holdout 0.2) made before generating. Every number it prints
is computed from private held-out rows without noise: a local measurement for the data owner, never in a release.

  --demos FILE|RUN   demonstrations to evaluate: a release (demos --format json), a JSONL file of {label, text}, or a
                     run id (its checkpoint in .private-fewshot/runs/). Each held-out text whose label is among the
                     demonstrations' labels is classified three ways: zero-shot (ε = 0), with the demonstrations, and
                     with k real training demonstrations per label (ε = ∞, the non-private reference). Repeat
                     --demos for several runs (e.g. one per ε): one condition each, in ascending ε
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
    demos: { type: 'string', multiple: true },
    ...valueFlags('real-shots score top-k rows max-calls'),
    ...switchFlags('dry-run'),
    ...recordsOptions,
    ...workspaceDatasetOptions,
    ...providerOptions,
  },
  async run(values, positionals, io) {
    const file = datasetArg('evaluate', positionals, 'data.csv --demos demos.json');
    const demosRefs = Array.isArray(values.demos) ? values.demos : [];
    const recordsRef = stringFlag(values, 'records');
    if ((demosRefs.length === 0) === !recordsRef)
      throw new UsageError('give either --demos FILE|RUN or --records FILE');
    const location = ledgerFor(file, values, io.cwd);
    const ds = await loadDatasetFromFlags(file, values, io.cwd, location.root);
    if (recordsRef)
      return evaluateRecordsCommand(values, io, {
        ds,
        parts: heldOutPart(ds, location.dir).parts,
        location,
        recordsRef,
      });

    const provider = createProvider(providerConfigFromFlags(values, io.env, 'builtin'));
    const scoreFlag = stringFlag(values, 'score') ?? 'auto';
    if (!['auto', 'logprobs', 'generation'].includes(scoreFlag))
      throw new UsageError(`--score must be auto, logprobs or generation; got "${scoreFlag}"`);
    const planned = await planInContext({
      ds,
      ledgerDir: location.dir,
      ref: demosRefs,
      cwd: io.cwd,
      provider,
      score: scoreFlag as 'auto' | ScoreMode,
      rows: numberFlag(values, 'rows', { min: 1, integer: true }),
      realShots: numberFlag(values, 'real-shots', { min: 1, max: 100, integer: true }),
      topK: numberFlag(values, 'top-k', { min: 1, max: 100, integer: true }),
      maxCalls: numberFlag(values, 'max-calls', { min: 1, integer: true }),
    });
    const { released, labels, conditions, rows, mode, topK, maxCalls, view: plan } = planned;
    const planLines = [planned.lines[0]!, ...planned.lines.slice(1).map((l) => `  ${l}`)];
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
        `--max-calls ${maxCalls} is below the ${Math.ceil(plan.maxCallsNeeded / plan.rows)} calls one row may need`,
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
      demonstrations: released.map((r) => r.source),
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
            const short =
              c.kind === 'dp' && c.epsilon !== undefined ? `dp ε=${Number(c.epsilon.toPrecision(3))}` : c.kind;
            return `${short} ${pct(x.accuracy)}`;
          })
          .join(', ')} (n = ${r.conditions[0]!.perLabel.find((q) => q.label === l)!.n})`,
    ),
  ];
  return lines.join('\n');
}
