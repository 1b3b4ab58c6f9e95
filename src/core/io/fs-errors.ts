/**
 * File-system failures as one-line UserErrors that name the path and what to do, instead of a stack trace.
 */
import { UserError } from '../errors';

const WHAT: Record<string, { problem: string; hint: string }> = {
  EACCES: {
    problem: 'permission denied',
    hint: 'Check the permissions of the file and its folder, or choose another path.',
  },
  EPERM: {
    problem: 'operation not permitted',
    hint: 'Check the permissions of the file and its folder, or choose another path.',
  },
  EROFS: { problem: 'the file system is read-only', hint: 'Choose a path on a writable disk.' },
  ENOSPC: { problem: 'the disk is full', hint: 'Free some space and try again.' },
  EDQUOT: { problem: 'the disk quota is exceeded', hint: 'Free some space and try again.' },
  EISDIR: { problem: 'is a folder where a file was expected', hint: 'Move the folder away or choose another path.' },
  ENOTDIR: { problem: 'a part of the path is a file where a folder was expected', hint: 'Check the path.' },
  ENOENT: { problem: 'no such file or folder', hint: 'Check the path.' },
  EEXIST: { problem: 'already exists', hint: 'Choose another path.' },
  EMFILE: { problem: 'too many open files', hint: 'Close other programs or raise the open-file limit, and try again.' },
  ENAMETOOLONG: { problem: 'the path is too long', hint: 'Choose a shorter path.' },
  ELOOP: { problem: 'too many symbolic links', hint: 'Check the path for a symbolic-link loop.' },
  EIO: { problem: 'input/output error', hint: 'Check the disk.' },
};

/** True for a Node file-system error (it has a string `code` such as EACCES). */
export function isFsError(e: unknown): e is NodeJS.ErrnoException {
  return (
    e instanceof Error &&
    typeof (e as NodeJS.ErrnoException).code === 'string' &&
    (e as NodeJS.ErrnoException).code! in WHAT
  );
}

/**
 * A UserError for a file-system error: "<path>: <problem> (<CODE>)" and a hint. `context` says what was being done
 * ("cannot write the output"); `path` overrides the error's own path (which may be a temporary file).
 */
export function fsUserError(
  e: NodeJS.ErrnoException,
  opts: { context?: string; path?: string; hint?: string } = {},
): UserError {
  const w = WHAT[e.code ?? ''] ?? { problem: e.code ?? 'error', hint: 'Check the path.' };
  const where = opts.path ?? e.path ?? (e as { dest?: string }).dest ?? '';
  const msg = `${opts.context ? `${opts.context}: ` : ''}${where ? `${where}: ` : ''}${w.problem} (${e.code})`;
  return new UserError(msg, opts.hint ?? w.hint);
}
