/**
 * What `demos` and `synth` check and do alike around a run: one dataset, --labels or --all-labels, the required ε,
 * choice flags, the template, loading the dataset with the output path checked before any budget is spent, δ,
 * stopping on Ctrl-C/SIGTERM, throttled progress lines, and the exit code. The ranges come from one table,
 * src/shared/limits.ts, which the webview protocol and the panels use too.
 */
import path from 'node:path';
import { summarize, type Dataset, type DatasetSummary } from '../core/data';
import { UsageError } from '../core/errors';
import type { LedgerLocation } from '../core/ledger';
import { DELTA_MIN } from '../core/privacy';
import { checkTemplate } from '../core/release';
import { LIMITS, type Limit } from '../shared/limits';
import { numberFlag, stringFlag, type Io } from './args';
import {
  checkDelta,
  datasetArg,
  ledgerFor,
  loadDatasetFromFlags,
  noteLedgerCreated,
  onStopSignals,
} from './dataset-flags';
import { checkOutputPath } from './output';
import { trainingPart } from '../core/evaluate/split';

type Values = Record<string, unknown>;

/** A number flag checked against its row of the limits table. */
export function limitFlag(values: Values, name: string, limit: Limit): number | undefined {
  return numberFlag(values, name, limit);
}

/** A number flag that must be given. */
export function requiredFlag(values: Values, name: string, limit: Limit): number {
  const x = limitFlag(values, name, limit);
  if (x === undefined) throw new UsageError(`--${name} is required`);
  return x;
}

/** A flag whose value is one of `allowed` (default `fallback`). */
export function choiceFlag<T extends string>(values: Values, name: string, allowed: readonly T[], fallback: T): T {
  const x = (stringFlag(values, name) ?? fallback) as T;
  if (!allowed.includes(x)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}; got "${x}"`);
  return x;
}

/** --template with `\n` written as two characters turned into a newline, checked. */
export function templateFlag(values: Values): string | undefined {
  const template = stringFlag(values, 'template')?.replace(/\\n/g, '\n');
  if (template !== undefined) checkTemplate(template);
  return template;
}

/** The flags every run command checks before reading the dataset (`example` follows "private-fewshot <command> "). */
export function checkRunFlags(
  command: string,
  example: string,
  values: Values,
  positionals: string[],
): { file: string; labelsFlag: string | undefined; epsilon: number } {
  const file = datasetArg(command, positionals, example);
  const labelsFlag = stringFlag(values, 'labels');
  if (!labelsFlag === !values['all-labels'])
    throw new UsageError(
      'give either --labels a,b,c or --all-labels',
      '--all-labels reads the label set from the data; pass it only if that set may be public.',
    );
  return { file, labelsFlag, epsilon: requiredFlag(values, 'epsilon', LIMITS.epsilon) };
}

/** "a, b,c" → ['a', 'b', 'c']. */
export function splitLabels(flag: string): string[] {
  return flag
    .split(',')
    .map((l) => l.trim())
    .filter(Boolean);
}

export interface RunInputs {
  location: LedgerLocation;
  root: string;
  ds: Dataset;
  summary: DatasetSummary;
  delta: number | undefined;
  outFlag: string | undefined;
  outFile: string | undefined;
  /** With a held-out split: the line saying that generation reads only the training part (a local diagnostic). */
  splitNote?: string;
}

/** Finds the ledger, loads the dataset, checks --out (never an input or the ledger) and δ: all before any spend. */
export async function loadRunInputs(file: string, values: Values, cwd: string): Promise<RunInputs> {
  const location = ledgerFor(file, values, cwd);
  const root = location.root;
  const outFlag = stringFlag(values, 'out');
  // Generation reads only the training part when the dataset has a held-out split (src/core/evaluate/split.ts).
  const { dataset: ds, note: splitNote } = trainingPart(
    await loadDatasetFromFlags(file, values, cwd, root),
    location.dir,
  );
  const outFile =
    outFlag === undefined
      ? undefined
      : checkOutputPath(outFlag, cwd, { inputs: [path.resolve(cwd, file)], ledgerDir: location.dir });
  const summary = summarize(ds);
  const delta = numberFlag(values, 'delta', { min: DELTA_MIN, max: 1 });
  checkDelta(delta, summary.units);
  return { location, root, ds, summary, delta, outFlag, outFile, ...(splitNote ? { splitNote } : {}) };
}

/**
 * Runs `run` with Ctrl-C and SIGTERM turned into a cancel (charged for what ran, what was released kept), and says
 * afterwards where a ledger was created. Progress lines go to stderr at most once a second, never with --json.
 */
export async function withStopSignals<T>(
  o: { location: LedgerLocation; io: Io; json: boolean },
  run: (signal: AbortSignal, progress: (line: () => string) => void) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const stopSignals = onStopSignals(() => controller.abort());
  let lastLine = 0;
  const progress = (line: () => string) => {
    if (o.json || Date.now() - lastLine < 1000) return;
    lastLine = Date.now();
    o.io.err(line());
  };
  try {
    return await run(controller.signal, progress);
  } finally {
    stopSignals();
    noteLedgerCreated(o.location, o.io);
  }
}

/** The exit code of a run: 0 completed; 1 cancelled, or failed (said on stderr with where the output is kept). */
export function runExitCode(
  io: Io,
  result: { status: 'completed' | 'cancelled' | 'failed'; error?: Error },
  kept: string,
): number {
  if (result.status === 'failed') {
    io.err(`error: the run stopped early: ${result.error?.message ?? 'unknown error'}. ${kept}`);
    return 1;
  }
  return result.status === 'cancelled' ? 1 : 0;
}
