/**
 * Whole-file writes that never leave a half-written or emptied file behind: the content goes to a temporary file in
 * the same folder, is fsynced, and is renamed over the target (rename is atomic within one file system, POSIX
 * rename(2)). A reader sees the old file or the new one, never a mix; a failure (full disk, permission, a killed
 * process) leaves the old file as it was and removes the temporary file when it can.
 *
 * Hand-written rather than the `write-file-atomic` package: it is the same ~30 lines the ledger's head file already
 * used, it needs no `signal-exit` hooks, and errors stay plain Node errors that `fsErrorMessage` turns into one line.
 */
import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

/** Writes `data` to `file` atomically (temp file + fsync + rename). Keeps an existing file's permission bits. */
export function writeFileAtomic(file: string, data: string | Uint8Array, opts: { mode?: number } = {}): void {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let mode = opts.mode ?? 0o666;
  try {
    mode = statSync(target).mode & 0o777;
  } catch {
    // new file: default mode (less the umask)
  }
  const buf =
    typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.length);
  let fd: number | undefined = openSync(tmp, 'wx', mode);
  try {
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to remove
    }
    throw e;
  }
  fsyncDir(dir);
}

/** Makes the rename durable (best effort: some platforms cannot open a folder). */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows and some file systems refuse; the rename itself already happened.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
