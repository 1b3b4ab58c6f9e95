/**
 * What `demos` and `synth` print alike around a run: their shared options, the labels, the plan's warnings, the dry
 * run, the offline-model note, the budget lines of the plan, and after the run the release boundary (files and
 * stdout get the release only; the local diagnostics go to stderr, the run journal and the "localOnlyNotPrivate" key
 * of --json), the summary lines and the exit code. The commands differ only in the words they pass in.
 */
import path from 'node:path';
import type { DatasetSummary } from '../core/data';
import {
  defaultDeltaWarning,
  overlapNotes,
  type BudgetStatus,
  type Ledger,
  type LedgerDataset,
  type PlanCheck,
} from '../core/ledger';
import { localJournalPath, renderRelease, type Release, type ReleaseFormat } from '../core/release';
import { formatEpsilon } from '../shared/format';
import { valueFlags, switchFlags, type Io, type Options } from './args';
import { datasetOptions } from './dataset-flags';
import { keepRelease, writeRunOutput } from './output';
import { providerOptions } from './provider-flags';
import { runExitCode, splitLabels, type RunInputs } from './run-flags';
import type { dryRunBudget } from './ledger';

/** The options both run commands take (each adds its own). */
export const runOptions: Options = {
  ...valueFlags('labels epsilon delta format template out workspace'),
  ...switchFlags('all-labels dry-run json'),
  ...datasetOptions,
  ...providerOptions,
};

/**
 * The run's labels: --labels as given, or with --all-labels every label of the data sorted by name. The summary lists
 * labels by private frequency, and the order decides the output order (and, in synth, which labels get the remainder
 * of an equal split), so it must not come from the counts.
 */
export function runLabels(labelsFlag: string | undefined, summary: DatasetSummary): string[] {
  return labelsFlag ? splitLabels(labelsFlag) : summary.labels.map((l) => l.label).sort();
}

/** The plan's warnings and, local only, the ledger's default δ compared with 1/(n·ln n) for the exact n. */
export function runWarnings(planWarnings: string[], check: PlanCheck, target: LedgerDataset, file: string): string[] {
  const deltaWarning = defaultDeltaWarning(check.total, target.units, file);
  return deltaWarning ? [...planWarnings, deltaWarning] : planWarnings;
}

/**
 * Says where the dataset's records overlap other ledgers' datasets; with --dry-run prints the plan (`view`, as JSON
 * with --json) and returns the exit code: a refused plan is a failure, also in a dry run. Else undefined.
 */
export function dryRun<V extends object>(
  io: Io,
  values: Record<string, unknown>,
  before: BudgetStatus,
  o: { view: V; fits: boolean; format: (view: V) => string },
): number | undefined {
  for (const note of overlapNotes(before)) io.err(note);
  if (!values['dry-run']) return undefined;
  io.out(values.json ? JSON.stringify({ dryRun: true, ...o.view }) : o.format(o.view));
  return o.fits ? 0 : 1;
}

/** The note that the built-in offline model writes the text (it is for trying the tool). */
export function offlineModelNote(io: Io, provider: { offline: boolean; model: string }): void {
  if (provider.offline)
    io.err(
      `note: using the built-in offline model (${provider.model}): for trying the tool, not production quality. Pass --provider openai --model … for a real model.`,
    );
}

/** The first line of a dry run's plan. */
export const PLAN_HEADER = 'Plan (dry run: nothing was spent or sent)';

/** The budget part of a dry run (src/cli/ledger.ts). */
export type PlanBudget = ReturnType<typeof dryRunBudget>;

/** The plan's budget lines: what the run does to the dataset's budget, and the PLD figure when it differs. */
export function planBudgetLines(b: PlanBudget): string[] {
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

/** A finished run as `finishRun` reports it; the words come from the command. */
export interface RunEnd {
  result: {
    status: 'completed' | 'cancelled' | 'failed';
    error?: Error;
    checkpoint: string;
    epsilonCharged: number;
    report: { durationMs: number };
  };
  release: Release;
  /** Whether the run released anything (a run that did not complete writes --out only then, and only a new file). */
  produced: boolean;
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
 * After the run: saves the release beside the checkpoint, writes --out, prints the release (or --json) on stdout and
 * the summary and local diagnostics on stderr; returns the exit code.
 */
export async function finishRun(
  io: Io,
  o: {
    json: boolean;
    inputs: Pick<RunInputs, 'root' | 'outFile' | 'outFlag'>;
    ledger: Ledger;
    target: LedgerDataset;
    render: { format: ReleaseFormat; template: string | undefined };
  },
  end: RunEnd,
): Promise<number> {
  const { root, outFile, outFlag } = o.inputs;
  const { result, release } = end;
  const after = await o.ledger.status(o.target);
  keepRelease(result.checkpoint, release, io.err);
  const rendered = renderRelease(release, o.render);
  const journal = path.relative(root, localJournalPath(result.checkpoint));
  const budget = { total: after.total.epsilon, spent: after.spent, remaining: after.remaining };
  const written = writeRunOutput(
    { outFile, outFlag, cwd: io.cwd, err: io.err },
    { status: result.status, produced: end.produced, checkpoint: result.checkpoint, rendered },
  );
  if (o.json) {
    io.out(JSON.stringify({ release, localOnlyNotPrivate: { ...end.diagnostics(journal), budget } }));
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
