import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadDataset, type Dataset } from '../core/data';
import { UsageError } from '../core/errors';
import { locateLedger, type LedgerLocation } from '../core/ledger';
import { DELTA_MIN } from '../core/privacy';
import { numberFlag, stringFlag, type Io, type Options, valueFlags, switchFlags } from './args';

/** The flags that say how to read a dataset, shared by every command that loads one. */
export const datasetOptions: Options = {
  ...valueFlags('text-column label-column unit-column max-bytes'),
  ...switchFlags('skip-invalid dedupe'),
};

/** The options of a command that reads one dataset of a workspace: --json, --workspace and the dataset flags. */
export const workspaceDatasetOptions: Options = {
  ...valueFlags('workspace'),
  ...switchFlags('json'),
  ...datasetOptions,
};

/** The one dataset file a command reads, its only positional; `example` follows "private-fewshot <command> ". */
export function datasetArg(command: string, positionals: string[], example: string): string {
  if (positionals.length !== 1)
    throw new UsageError(`${command} needs exactly one dataset file`, `Example: private-fewshot ${command} ${example}`);
  return positionals[0]!;
}

export const datasetUsage = `  --text-column C    the column with the text (default: detected, the string column with the longest mean length)
  --label-column C   the column with the label (default: detected, a column with few distinct values)
  --unit-column C    privacy-unit column such as user_id: all rows of one unit are one record (user-level DP)
  --skip-invalid     skip rows whose text, label or unit is empty, and report them (default: fail on the first)
  --dedupe           drop rows whose text, label and unit repeat an earlier row's
  --max-bytes N      refuse files larger than N bytes (default 209715200, 200 MB)`;

/** Loads `file` (relative to `cwd`) with the dataset flags; paths are reported relative to `root`. */
export function loadDatasetFromFlags(
  file: string,
  values: Record<string, unknown>,
  cwd: string,
  root = cwd,
): Promise<Dataset> {
  return loadDataset(path.resolve(cwd, file), {
    root,
    textColumn: stringFlag(values, 'text-column'),
    labelColumn: stringFlag(values, 'label-column'),
    unitColumn: stringFlag(values, 'unit-column'),
    onInvalid: values['skip-invalid'] ? 'skip' : 'fail',
    dedupe: values.dedupe === true,
    maxBytes: numberFlag(values, 'max-bytes', { min: 1, integer: true }),
  });
}

/** The ledger for a dataset: `--workspace DIR` when given (it must exist), else found from the dataset's folder. */
export function ledgerFor(file: string, values: Record<string, unknown>, cwd: string): LedgerLocation {
  const ws = stringFlag(values, 'workspace');
  return locateLedger(path.resolve(cwd, file), { workspace: ws === undefined ? undefined : path.resolve(cwd, ws) });
}

/** Says where a ledger was created, once, when this command created it. */
export function noteLedgerCreated(location: LedgerLocation, io: Io): void {
  if (!location.exists && existsSync(location.dir)) {
    location.exists = true;
    io.err(`note: created the privacy ledger at ${location.dir} (${REASONS[location.reason]}; see docs/LEDGER.md)`);
  }
}

const REASONS: Record<LedgerLocation['reason'], string> = {
  explicit: 'the --workspace folder',
  found: 'the nearest existing ledger',
  workspace: 'the workspace folder',
  repository: 'the repository root above the dataset',
  'dataset-folder': 'no ledger, workspace or repository above the dataset, so its own folder',
};

/** A run's δ must lie in [DELTA_MIN, 1/n) for n records or privacy units (DP is meaningless at δ ≥ 1/n). */
export function checkDelta(delta: number | undefined, units: number): void {
  if (delta !== undefined && !(delta < 1 / units))
    throw new UsageError(
      `--delta ${delta} is not below 1/n = ${(1 / units).toPrecision(3)} for ${units} records or privacy units`,
      `Use a δ in [${DELTA_MIN}, 1/n); the default 1/(n·ln n) is ${(1 / (units * Math.log(units))).toPrecision(3)}.`,
    );
}

/**
 * Calls `stop` on Ctrl-C (SIGINT) and on SIGTERM alike, so both end a run the same way: charged for what ran, with
 * what was released kept. Returns the function that removes the handlers.
 */
export function onStopSignals(stop: () => void): () => void {
  const handler = () => stop();
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
}
