/**
 * File access for the ledger: `<workspace>/.private-fewshot/ledger.jsonl` plus a small head file.
 *
 * - Every read-verify(-append) runs under a cross-process lock (proper-lockfile: an atomic `mkdir` of
 *   `ledger.lock`, kept fresh while held; a lock left by a killed process is taken over once its mtime is older
 *   than `staleMs`).
 * - An append is one `write` of whole lines to a descriptor opened with O_APPEND, then `fsync`, so a reader never
 *   sees half a line from a live writer, and other appenders cannot interleave.
 * - `ledger.head.json` records the seq and hash of the last line after every append (written to a temporary file,
 *   fsynced and renamed). The hash chain cannot show lines cut from the end of the file; the head can. It is
 *   created (at seq 0) before the ledger itself, so a crash between the two writes never looks like tampering: the
 *   ledger may run ahead of the head (a crash after the append), never behind it.
 */
import {
  mkdirSync,
  existsSync,
  readFileSync,
  openSync,
  writeSync,
  fsyncSync,
  fstatSync,
  closeSync,
  renameSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { DataError, UserError } from '../errors';
import { fsUserError, isFsError } from '../io/fs-errors';
import { encodeLine, GENESIS, parseLedger, type LedgerLine, type LineBody, type ParsedLedger } from './format';

export const LEDGER_DIR = '.private-fewshot';
export const LEDGER_FILE = 'ledger.jsonl';
export const HEAD_FILE = 'ledger.head.json';
const LOCK_NAME = 'ledger.lock';

export interface LockOptions {
  /** A lock older than this (ms) is taken to be left by a dead process and is taken over. Default 20 s (minimum 2 s).
   * */
  staleMs?: number;
  /** How long to keep trying to get a lock another process holds (ms). Default 60 s. */
  waitMs?: number;
}

/** The verified ledger as read under the lock, and the means to append to it. */
export interface Session {
  readonly parsed: ParsedLedger;
  /** Chains, writes and fsyncs the bodies in one append; returns the lines as written. */
  append(bodies: LineBody[]): LedgerLine[];
}

export class LedgerStore {
  readonly dir: string;
  readonly file: string;
  readonly headFile: string;
  private readonly lockPath: string;
  private queue: Promise<unknown> = Promise.resolve();
  /** The ledger's size as read (plus our appends), to detect a write by another process before appending. */
  private readonly expectedSize = new WeakMap<ParsedLedger, number>();

  constructor(
    workspaceRoot: string,
    private readonly lockOptions: LockOptions = {},
  ) {
    this.dir = path.join(path.resolve(workspaceRoot), LEDGER_DIR);
    this.file = path.join(this.dir, LEDGER_FILE);
    this.headFile = path.join(this.dir, HEAD_FILE);
    this.lockPath = path.join(this.dir, LOCK_NAME);
  }

  /**
   * Runs `fn` with the verified ledger under the lock. With `write: false` and no ledger folder yet, runs it on an
   * empty ledger without creating anything. Calls from one process are queued; other processes wait on the lock.
   */
  withLock<T>(write: boolean, fn: (s: Session) => T | Promise<T>): Promise<T> {
    const run = this.queue.then(() => this.locked(write, fn));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async locked<T>(write: boolean, fn: (s: Session) => T | Promise<T>): Promise<T> {
    if (!existsSync(this.dir)) {
      if (!write)
        return fn({
          parsed: emptyLedger(),
          append: () => {
            throw new Error('read-only session');
          },
        });
      mkdirSync(this.dir, { recursive: true });
    } else if (!statSync(this.dir).isDirectory()) {
      // Checked here: the lock (a mkdir inside it) would retry ENOTDIR for the whole wait time before failing.
      throw new UserError(
        `${this.dir}: is a file where the privacy ledger's folder was expected (ENOTDIR)`,
        'Move the file away (it is not a ledger), or restore .private-fewshot/ from a backup.',
      );
    }
    let compromised: Error | undefined;
    const staleMs = Math.max(2000, this.lockOptions.staleMs ?? 20_000);
    const waitMs = this.lockOptions.waitMs ?? 60_000;
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.dir, {
        lockfilePath: this.lockPath,
        realpath: false,
        stale: staleMs,
        retries: {
          retries: Math.max(1, Math.ceil(waitMs / 150)),
          minTimeout: 5,
          maxTimeout: 200,
          factor: 1.4,
          randomize: true,
        },
        onCompromised: (err) => {
          compromised = err;
        },
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOCKED') {
        throw new UserError(
          `the privacy ledger ${this.file} is locked by another process`,
          `Another Private Few-Shot process (the CLI or an editor window) is using it; try again. If none is running, the lock ${this.lockPath} is removed automatically after ${Math.round(staleMs / 1000)} s.`,
        );
      }
      throw e;
    }
    try {
      const parsed = this.readVerified();
      const session: Session = {
        parsed,
        append: (bodies) => {
          if (compromised)
            throw new UserError(
              `lost the lock on ${this.file} (${compromised.message}); nothing was written`,
              'Try again.',
            );
          return this.append(parsed, bodies);
        },
      };
      return await fn(session);
    } finally {
      await release().catch(() => undefined);
    }
  }

  /** Reads and verifies ledger + head. Call only under the lock. */
  private readVerified(): ParsedLedger {
    const head = this.readHead();
    const ledgerExists = existsSync(this.file);
    const hint =
      'The ledger is never reset automatically. Restore .private-fewshot/ from a backup or version control, or move the folder away to start a new ledger deliberately (its spent budget is then forgotten).';
    if (!ledgerExists) {
      if (head && head.seq > 0)
        throw new DataError(
          this.file,
          undefined,
          `the ledger file is missing, but its head file records ${head.seq} entries: it was deleted`,
          hint,
        );
      return emptyLedger();
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.file);
    } catch (e) {
      // readFileSync's EISDIR/EACCES carry no path: name the ledger file in the message.
      throw isFsError(e) ? fsUserError(e, { context: 'cannot read the privacy ledger', path: this.file }) : e;
    }
    const parsed = parseLedger(bytes.toString('utf8'), this.file);
    this.expectedSize.set(parsed, bytes.length);
    if (!head) {
      if (parsed.last.seq > 0)
        throw new DataError(
          this.headFile,
          undefined,
          `the head file is missing, so deleted entries at the end of ${LEDGER_FILE} could go unnoticed`,
          hint,
        );
      return parsed;
    }
    if (parsed.last.seq < head.seq) {
      const from = parsed.last.seq + 1;
      throw new DataError(
        this.file,
        from,
        `the ledger ends at entry ${parsed.last.seq}, but entry ${head.seq} was written: entr${from === head.seq ? `y ${from} was` : `ies ${from}–${head.seq} were`} deleted`,
        hint,
      );
    }
    if (head.seq > 0 && parsed.lines[head.seq - 1]!.hash !== head.hash) {
      throw new DataError(
        this.file,
        head.seq,
        'the line is not the one that was written (its hash differs from the head file): the ledger was replaced or rewritten',
        hint,
      );
    }
    return parsed;
  }

  private readHead(): { seq: number; hash: string } | undefined {
    if (!existsSync(this.headFile)) return undefined;
    let h: unknown;
    try {
      h = JSON.parse(readFileSync(this.headFile, 'utf8'));
    } catch {
      throw new DataError(
        this.headFile,
        undefined,
        'the head file is not valid JSON',
        'Restore .private-fewshot/ from a backup; the ledger is never reset automatically.',
      );
    }
    const { seq, hash } = (h ?? {}) as { seq?: unknown; hash?: unknown };
    if (
      typeof seq !== 'number' ||
      !Number.isInteger(seq) ||
      seq < 0 ||
      typeof hash !== 'string' ||
      !/^[0-9a-f]{64}$/.test(hash)
    ) {
      throw new DataError(
        this.headFile,
        undefined,
        'the head file does not hold {"seq", "hash"}',
        'Restore .private-fewshot/ from a backup; the ledger is never reset automatically.',
      );
    }
    return { seq, hash };
  }

  private writeHead(seq: number, hash: string): void {
    const tmp = `${this.headFile}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, Buffer.from(`${JSON.stringify({ seq, hash })}\n`));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.headFile);
  }

  private append(parsed: ParsedLedger, bodies: LineBody[]): LedgerLine[] {
    if (bodies.length === 0) return [];
    if (!existsSync(this.headFile)) this.writeHead(0, GENESIS);
    let { seq, hash } = parsed.last;
    const texts: string[] = [];
    const written: LedgerLine[] = [];
    for (const body of bodies) {
      seq++;
      const enc = encodeLine(seq, hash, body);
      texts.push(enc.text);
      written.push({ seq, prev: hash, ...body, hash: enc.hash } as LedgerLine);
      hash = enc.hash;
    }
    const buf = Buffer.from(`${texts.join('\n')}\n`, 'utf8');
    const fd = openSync(this.file, 'a', 0o600);
    try {
      // Under the lock nobody else appends. If the file grew anyway, our lock was taken over (we were blocked past
      // the stale time): appending now would fork the chain, so stop.
      const size = fstatSync(fd).size;
      if (size !== (this.expectedSize.get(parsed) ?? 0)) {
        throw new UserError(
          `${this.file} changed while this process held its lock (the lock went stale and was taken over); nothing was written`,
          'Try again.',
        );
      }
      writeAll(fd, buf);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.expectedSize.set(parsed, (this.expectedSize.get(parsed) ?? 0) + buf.length);
    this.writeHead(seq, hash);
    parsed.lines.push(...written);
    if (!parsed.header && written[0]?.type === 'ledger') parsed.header = written[0];
    parsed.last = { seq, hash };
    return written;
  }
}

/** One write call in practice; loops only if the kernel reports a short write. */
function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

function emptyLedger(): ParsedLedger {
  return { lines: [], header: undefined, last: { seq: 0, hash: GENESIS } };
}
