/**
 * Where the CLI may write, checked before any budget is spent, and the write itself (atomic; see core/io/atomic.ts).
 */
import { UsageError } from '../core/errors';
import { writeFileAtomic } from '../core/io/atomic';
import { fsUserError, isFsError } from '../core/io/fs-errors';
import { checkOutputPath as check } from '../core/io/output-path';

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
