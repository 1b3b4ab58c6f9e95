/**
 * The skeleton both algorithms share between reserve and settle: the run's checkpoint (an append-only JSONL file
 * under <workspace>/.private-fewshot/runs/, named by the reservation id), the hash of what was released, the run's
 * status, and the local journal beside the checkpoint. The checkpoint holds DP outputs and public parameters only
 * (what was released, step by step); the journal holds local diagnostics and is never part of a release.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { localJournalPath } from '../release';

export type RunStatus = 'completed' | 'cancelled' | 'failed';

/** The runs folder: `override`, or <workspace>/.private-fewshot/runs. */
export function runsDir(workspaceRoot: string, override?: string): string {
  return override ?? path.join(workspaceRoot, '.private-fewshot', 'runs');
}

export interface Checkpoint {
  /** The JSONL file (<runs>/<reservation id>.jsonl). */
  readonly path: string;
  /** Appends one line. */
  write(line: object): Promise<void>;
}

/** Creates the runs folder and returns the checkpoint of reservation `id`. */
export async function openCheckpoint(dir: string, id: string): Promise<Checkpoint> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${id}.jsonl`);
  return { path: file, write: (line) => appendFile(file, JSON.stringify(line) + '\n') };
}

/** SHA-256 of a released value's JSON: what the ledger records as `released`. */
export function releasedHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** Completed without failure; cancelled when the failure came with an aborted signal; else failed. */
export function runStatus(failure: unknown, signal: AbortSignal | undefined): RunStatus {
  if (failure === undefined) return 'completed';
  return signal?.aborted ? 'cancelled' : 'failed';
}

/** Writes the run journal (local diagnostics) beside the checkpoint. */
export async function writeJournal(checkpoint: string, diagnostics: object): Promise<void> {
  await writeFile(localJournalPath(checkpoint), JSON.stringify(diagnostics, null, 2) + '\n');
}
