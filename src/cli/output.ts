/**
 * Where the CLI may write, checked before any budget is spent, and the write itself (atomic; see core/io/atomic.ts).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../core/errors';
import { writeFileAtomic } from '../core/io/atomic';
import { fsUserError, isFsError } from '../core/io/fs-errors';
import { checkOutputPath as check } from '../core/io/output-path';
import { writeReleaseFile } from '../core/release-file';
import type { Release } from '../core/release';

/** `--out FILE` checked before anything is spent (see core/io/output-path.ts); returns the absolute path. */
export function checkOutputPath(out: string, cwd: string, opts: { inputs: string[]; ledgerDir: string }): string {
  try {
    return check(out, cwd, opts);
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`--out ${e.message}`, e.hint);
    throw e;
  }
}

/**
 * Writes the released output to `file` atomically. On failure the message says where the released output is kept
 * (`keptIn`: the run file), since the budget for it is already spent.
 */
export function writeOutput(file: string, content: string, keptIn: string): void {
  try {
    writeFileAtomic(file, content);
  } catch (e) {
    if (!isFsError(e)) throw e;
    throw fsUserError(e, {
      context: 'could not write the output',
      path: file,
      hint: `The released output is kept in ${keptIn} (already charged; the existing file, if any, was left as it was). Fix the problem and copy it from there.`,
    });
  }
}

/**
 * Writes a run's rendered release to `--out` (`outFile`, checked before the run; undefined: no --out) and says what
 * happened. A run that did not complete never replaces an existing file (its output is in the run file); a completed
 * one replaces it atomically. Returns whether the file was written.
 */
export function writeRunOutput(
  o: { outFile: string | undefined; outFlag: string | undefined; cwd: string; err: (t: string) => void },
  run: { status: string; produced: boolean; checkpoint: string; rendered: string },
): boolean {
  if (o.outFile === undefined) return false;
  const keptIn = path.relative(o.cwd, run.checkpoint) || run.checkpoint;
  const exists = existsSync(o.outFile);
  const written = run.status === 'completed' || (run.produced && !exists);
  if (written) writeOutput(o.outFile, run.rendered, keptIn);
  else
    o.err(
      `note: ${o.outFlag} was not written (the run did not complete${exists ? '; the existing file is left as it was' : ' and produced nothing'}); what was released is kept in ${keptIn}.`,
    );
  return written;
}

/**
 * Saves the run's release beside its checkpoint (`.private-fewshot/runs/<id>.release.json`, src/core/release-file.ts),
 * where the editor's Runs view and run panels find it. A failure is a note: the release is printed or written anyway
 * and the checkpoint holds what was released.
 */
export function keepRelease(checkpoint: string, release: Release, err: (t: string) => void): void {
  try {
    writeReleaseFile(checkpoint, release);
  } catch (e) {
    err(`note: could not save the release beside ${checkpoint}: ${(e as Error).message}`);
  }
}
