/**
 * The skeleton of the two run commands, `demos` and `synth`: their shared options; the start (the common flags in a
 * fixed order, the dataset, the labels, the ledger); the announcement (overlap notes, the dry run, notes and warnings);
 * and the run with its report: the release boundary (files and stdout get the release only; the local diagnostics go
 * to stderr, the run journal and the "localOnlyNotPrivate" key of --json), the summary lines and the exit code. The
 * commands supply their own flags, plan, run and words.
 */
import path from 'node:path';
import type { Dataset, DatasetSummary } from '../core/data';
import {
  defaultDeltaWarning,
  overlapNotes,
  type BudgetStatus,
  type Ledger,
  type LedgerDataset,
  type PlanCheck,
} from '../core/ledger';
import type { ProviderConfig } from '../core/providers';
import { localJournalPath, releasedTexts, renderRelease, type Release, type ReleaseFormat } from '../core/release';
import { formatEpsilon } from '../shared/format';
import type { Limit } from '../shared/limits';
import { valueFlags, switchFlags, type Command, type Io, type Options } from './args';
import { datasetOptions } from './dataset-flags';
import { cliLedger, type dryRunBudget } from './ledger';
import { keepRelease, writeRunOutput } from './output';
import { providerConfigFromFlags, providerOptions } from './provider-flags';
import {
  checkRunFlags,
  choiceFlag,
  loadRunInputs,
  requiredFlag,
  runExitCode,
  splitLabels,
  templateFlag,
  withStopSignals,
  type RunInputs,
} from './run-flags';

type Values = Record<string, unknown>;

/** The options both run commands take (each adds its own). */
export const runOptions: Options = {
  ...valueFlags('labels epsilon delta format template out workspace'),
  ...switchFlags('all-labels dry-run json'),
  ...datasetOptions,
  ...providerOptions,
};

/** Usage lines both run commands print alike; `what` is what they write ("demonstrations", "records"). */
export const runUsage = {
  /** The synopsis (with the command's size flag, e.g. "--shots N") and the dataset and label lines. */
  head: (command: string, amount: string, what: string) =>
    `private-fewshot ${command} <dataset> (--labels a,b,c | --all-labels) ${amount} --epsilon E [options]

  <dataset>                 a .csv, .jsonl or .json file (columns detected, or --text-column/--label-column/--unit-column)
  --labels a,b,c            the labels to write ${what} for (treated as public)
  --all-labels              take every label from the data (you acknowledge that the label set is then public)`,
  budget: `  --epsilon E               the ε this run may spend
  --delta D                 δ (default: the dataset's ledger δ, 1e-6 unless set with \`budget --delta\`)`,
  template: `  --template T              for text: e.g. "Text: {text}\\nLabel: {label}"`,
  workspace: `  --workspace DIR           where .private-fewshot/ lives (default: found from the dataset, see docs/LEDGER.md)
  --skip-invalid, --dedupe, --max-bytes N   as for \`inspect\``,
};

/**
 * The run's labels: --labels as given, or with --all-labels every label of the data sorted by name. The summary lists
 * labels by private frequency, and the order decides the output order (and, in synth, which labels get the remainder
 * of an equal split), so it must not come from the counts.
 */
export function runLabels(labelsFlag: string | undefined, summary: DatasetSummary): string[] {
  return labelsFlag ? splitLabels(labelsFlag) : summary.labels.map((l) => l.label).sort();
}

/** What a run command knows once its flags are checked and its dataset is read, before any plan. */
export interface RunStart<Format, Flags> extends RunInputs {
  file: string;
  labels: string[];
  epsilon: number;
  /** The required size of the run: --shots or --count. */
  amount: number;
  render: { format: Format; template: string | undefined };
  /** The command's own flags, checked after the common ones and before the provider's. */
  flags: Flags;
  providerConfig: ProviderConfig;
  ledger: Ledger;
}

/** A run command: its name, usage example (after "private-fewshot <command> "), size flag and output formats. */
export interface RunCommand<Format extends string> extends Command {
  example: string;
  amount: readonly [flag: string, limit: Limit];
  formats: readonly Format[];
}

/**
 * Checks the flags in a fixed order (the dataset argument, labels, ε, the amount, --format, --template, the command's
 * own flags, the provider's), then reads the dataset with its output path checked (before any budget is spent), says
 * when a held-out split leaves generation the training part, and opens the ledger.
 */
export async function startRun<Format extends string, Flags>(
  o: RunCommand<Format>,
  values: Values,
  positionals: string[],
  io: Io,
  flags: () => Flags,
): Promise<RunStart<Format, Flags>> {
  const { file, labelsFlag, epsilon } = checkRunFlags(o.name, o.example, values, positionals);
  const amount = requiredFlag(values, ...o.amount);
  const format = choiceFlag<Format>(values, 'format', o.formats, 'text' as Format);
  const template = templateFlag(values);
  const own = flags();
  const providerConfig = providerConfigFromFlags(values, io.env, 'builtin');
  const inputs = await loadRunInputs(file, values, io.cwd);
  if (inputs.splitNote) io.err(inputs.splitNote);
  const labels = runLabels(labelsFlag, inputs.summary);
  const ledger = cliLedger(inputs.root, io.env);
  return { ...inputs, file, labels, epsilon, amount, render: { format, template }, flags: own, providerConfig, ledger };
}

/** The plan's warnings and, local only, the ledger's default δ compared with 1/(n·ln n) for the exact n. */
export function runWarnings(planWarnings: string[], check: PlanCheck, target: LedgerDataset, file: string): string[] {
  const deltaWarning = defaultDeltaWarning(check.total, target.units, file);
  return deltaWarning ? [...planWarnings, deltaWarning] : planWarnings;
}

/** What a run command says before its run: the plan (for --dry-run), its notes and warnings. */
export interface Announcement<V> {
  /** The budget before the run (for the overlap notes). */
  before: BudgetStatus;
  /** The plan as --dry-run --json prints it. */
  view: V;
  fits: boolean;
  /** The plan's lines in words, given the budget lines (the header is added). */
  format: (view: V, budgetLines: string[]) => string[];
  /** Printed before the run, after the offline-model note and before the warnings. */
  notes?: string[];
  warnings: string[];
}

/**
 * Before the run: says where the dataset's records overlap other ledgers' datasets; with --dry-run prints the plan
 * (`view`, as JSON with --json) and returns the exit code (a refused plan is a failure, also in a dry run); else
 * prints the offline-model note, the command's notes and the warnings, and returns undefined.
 */
function announceRun<V extends { budget: PlanBudget }>(
  io: Io,
  values: Values,
  provider: { offline: boolean; model: string },
  o: Announcement<V>,
): number | undefined {
  for (const note of overlapNotes(o.before)) io.err(note);
  if (values['dry-run']) {
    const text = () => [PLAN_HEADER, ...o.format(o.view, planBudgetLines(o.view.budget))].join('\n');
    io.out(values.json ? JSON.stringify({ dryRun: true, ...o.view }) : text());
    return o.fits ? 0 : 1;
  }
  if (provider.offline)
    io.err(
      `note: using the built-in offline model (${provider.model}): for trying the tool, not production quality. Pass --provider openai --model … for a real model.`,
    );
  for (const note of o.notes ?? []) io.err(note);
  for (const w of o.warnings) io.err(`warning: ${w}`);
  return undefined;
}

/** The first line of a dry run's plan. */
const PLAN_HEADER = 'Plan (dry run: nothing was spent or sent)';

/** The budget part of a dry run (src/cli/ledger.ts). */
export type PlanBudget = ReturnType<typeof dryRunBudget>;

/** The plan's budget lines: what the run does to the dataset's budget, and the PLD figure when it differs. */
function planBudgetLines(b: PlanBudget): string[] {
  const f = formatEpsilon;
  return [
    `  budget: total ε ${b.total}, spent ${f(b.spent)}, after this run ${f(b.spentAfter)}, remaining ${f(Math.max(0, b.remainingAfter))}${b.fits ? '' : ` — REFUSED: over by ${f(b.over)}`} (budget filter: valid for runs chosen after earlier outputs)`,
    ...(Math.abs(b.pldAfter - b.spentAfter) > 1e-9 * Math.max(1, b.spentAfter)
      ? [
          `  as planned: after this run ε ${f(b.pldAfter)} if all runs had been planned in advance (PLD composition; not a guarantee across runs)`,
        ]
      : []),
  ];
}

/**
 * What both algorithms' runs take from the skeleton: the dataset, ledger, plan and provider that were checked and
 * announced, and the stop.
 */
export interface RunnerInputs<P, M> {
  dataset: Dataset;
  ledger: Ledger;
  units: number;
  plan: P;
  provider: M;
  signal: AbortSignal;
}

/** The outcome of a run, as `runAndReport` needs it. */
export interface RunResult {
  status: 'completed' | 'cancelled' | 'failed';
  error?: Error;
  checkpoint: string;
  epsilonCharged: number;
  report: { durationMs: number };
}

/** What a command reports of its finished run; the words come from the command. */
export interface RunReport {
  release: Release;
  /** The "localOnlyNotPrivate" part of --json (the budget is added), given the journal's workspace-relative path. */
  diagnostics: (journal: string) => object;
  /** What was released, after "<status>: " (e.g. "3 demonstration(s)"). */
  released: string;
  /** After "ε charged X" (e.g. " of Y planned"). */
  charged: string;
  /** The local usage figures, after "local only, not private: ". */
  usage: string;
  /** What the server or embedder refused of the private data (a local diagnostic), when it refused anything. */
  refused: string | undefined;
  /** Where what ran is kept, when the run failed. */
  kept: string;
}

/**
 * The rest of a run command once its plan is made: announces the run (a dry run ends there), runs `run` with Ctrl-C
 * and SIGTERM turned into a cancel, then saves the release beside the checkpoint, writes --out (a run that did not
 * complete writes it only when it released something and the file is new), prints the release (or --json) on stdout
 * and the summary and local diagnostics on stderr; returns the exit code.
 */
export async function runAndReport<
  V extends { budget: PlanBudget },
  P,
  M extends { offline: boolean; model: string },
  R extends RunResult,
>(
  io: Io,
  values: Values,
  start: RunStart<ReleaseFormat, unknown>,
  target: LedgerDataset,
  o: Announcement<V> & {
    plan: P;
    provider: M;
    run: (inputs: RunnerInputs<P, M>, progress: (line: () => string) => void) => Promise<R>;
    report: (result: R) => RunReport;
  },
): Promise<number> {
  const dryRunExit = announceRun(io, values, o.provider, o);
  if (dryRunExit !== undefined) return dryRunExit;
  const json = values.json === true;
  const { ds: dataset, ledger, summary } = start;
  const result = await withStopSignals({ location: start.location, io, json }, (signal, progress) =>
    o.run({ dataset, ledger, units: summary.units, plan: o.plan, provider: o.provider, signal }, progress),
  );
  const end = o.report(result);
  const { root, outFile, outFlag } = start;
  const after = await start.ledger.status(target);
  keepRelease(result.checkpoint, end.release, io.err);
  const rendered = renderRelease(end.release, start.render);
  const journal = path.relative(root, localJournalPath(result.checkpoint));
  const budget = { total: after.total.epsilon, spent: after.spent, remaining: after.remaining };
  const produced = releasedTexts(end.release).length > 0;
  const written = writeRunOutput(
    { outFile, outFlag, cwd: io.cwd, err: io.err },
    { status: result.status, produced, checkpoint: result.checkpoint, rendered },
  );
  if (json) {
    io.out(JSON.stringify({ release: end.release, localOnlyNotPrivate: { ...end.diagnostics(journal), budget } }));
  } else {
    if (!outFile) io.out(rendered.trimEnd());
    io.err(
      `${result.status}: ${end.released}; ε charged ${result.epsilonCharged.toFixed(3)}${end.charged}; budget spent ${after.spent.toFixed(3)} of ${after.total.epsilon}, remaining ${Math.max(0, after.remaining).toFixed(3)}.`,
    );
    io.err(
      `local only, not private: ${end.usage}, ${(result.report.durationMs / 1000).toFixed(1)} s (journal ${journal})${written ? `; written to ${outFlag}` : ''}`,
    );
  }
  if (end.refused !== undefined) io.err(`local diagnostic (depends on the private data; do not share): ${end.refused}`);
  return runExitCode(io, result, end.kept);
}
