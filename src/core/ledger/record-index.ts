/**
 * The per-user record index: which ledgers on this machine charged which records, so a dataset opened from another
 * folder or workspace (whose own ledger knows nothing) warns that its records were charged elsewhere.
 *
 * Keys. Ledger fingerprints are keyed per ledger (records.ts), so they cannot be compared across ledgers by design.
 * The index therefore has its own random 16-byte key, created once in its folder (`record-index.key`, mode 0600) and
 * never written into any ledger: an index fingerprint is AES-128_u(h(record)) (records.ts), unrelated to every ledger
 * fingerprint of the same record.
 *
 * Size. Per record set charged, the index keeps a sample: the fingerprints whose lowest `level` bits are zero, with
 * `level` the smallest that keeps at most SAMPLE_CAP (1,024) of them; 8 bytes each, so at most 8 KB per set, and at
 * most MAX_ENTRIES (256) sets (the oldest are dropped): about 2.8 MB of JSON at most. Sampling by fingerprint value is
 * consistent across datasets, so the matches found among an entry's sample are a 2^-level sample of the shared
 * records: every shared record is found below 1,024 records, and a large overlap (≳ 2^level records) is found with
 * high probability. It is a warning, not accounting: the budget itself is always the ledger's.
 *
 * Local only: the index holds keyed fingerprints and local paths, in the user's own folder; nothing leaves the
 * machine. Updates are read-modify-write under a cross-process lock (proper-lockfile, as the ledger's own lock), so two
 * processes charging at once both land; the key is created at most once (an exclusive link), so two first uses
 * cannot leave fingerprints under two keys. If the lock cannot be had within a few seconds the update is skipped:
 * the index only feeds a warning, never the budget, and a charge must never wait on it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import type { CanonicalRecord } from '../data/load';
import { encipher, unkeyedHashes } from './records';

export const INDEX_ENV = 'PRIVATE_FEWSHOT_INDEX_DIR';
const INDEX_FILE = 'record-index.json';
const KEY_FILE = 'record-index.key';
const SAMPLE_CAP = 1024;
const MAX_ENTRIES = 256;
const LOCK_FILE = 'record-index.lock';

/** A ledger elsewhere that charged records of this dataset (a local diagnostic). */
export interface ElsewhereMatch {
  /** The ledger folder (…/.private-fewshot). */
  ledger: string;
  /** The dataset path as that ledger recorded it. */
  dataset: string;
  /** Shared records: exact when `exact`, else an estimate from a 2^-level sample. */
  records: number;
  exact: boolean;
}

interface Entry {
  ledger: string;
  dataset: string;
  records: number;
  level: number;
  /** Base64 of the sampled fingerprints, 8 bytes each (big-endian high word, low word), sorted. */
  fps: string;
  time: string;
}

/**
 * The CLI's index folder: $PRIVATE_FEWSHOT_INDEX_DIR, else $XDG_CONFIG_HOME/private-fewshot, else
 * ~/.config/private-fewshot; undefined when none is set (no index). The editor uses its global storage folder.
 */
export function cliIndexDir(env: NodeJS.ProcessEnv): string | undefined {
  if (env[INDEX_ENV]) return path.resolve(env[INDEX_ENV]);
  if (env.XDG_CONFIG_HOME) return path.join(env.XDG_CONFIG_HOME, 'private-fewshot');
  if (env.HOME) return path.join(env.HOME, '.config', 'private-fewshot');
  return env === process.env ? path.join(os.homedir(), '.config', 'private-fewshot') : undefined;
}

let processDefault: RecordIndex | undefined;

/** The editor sets its index once at activation (its global storage folder); the CLI passes one to each Ledger. */
export function setDefaultRecordIndex(index: RecordIndex | undefined): void {
  processDefault = index;
}

export function defaultRecordIndex(): RecordIndex | undefined {
  return processDefault;
}

export class RecordIndex {
  constructor(readonly dir: string) {}

  get file(): string {
    return path.join(this.dir, INDEX_FILE);
  }

  /**
   * Records that `ledgerDir` charged the dataset `datasetPath` with these records. Resolves false when another process
   * held the index for too long (the update is skipped: a warning's input, never the budget's).
   */
  async add(
    ledgerDir: string,
    datasetPath: string,
    records: readonly CanonicalRecord[],
    hashes?: Buffer,
  ): Promise<boolean> {
    mkdirSync(this.dir, { recursive: true });
    const fps = this.fingerprints(records, hashes);
    const n = fps.length / 2;
    // The sample's size is random (it follows the per-user key), so the level is raised until the sample itself
    // fits, not its expected size n / 2^level.
    let level = 0;
    while (n / 2 ** level > SAMPLE_CAP) level++;
    let sample = sampled(fps, level);
    while (sample.length / 8 > SAMPLE_CAP) sample = sampled(fps, ++level);
    const entry: Entry = {
      ledger: path.resolve(ledgerDir),
      dataset: datasetPath,
      records: n,
      level,
      fps: sample.toString('base64'),
      time: new Date().toISOString(),
    };
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.dir, {
        lockfilePath: path.join(this.dir, LOCK_FILE),
        realpath: false,
        stale: 10_000,
        retries: { retries: 25, minTimeout: 5, maxTimeout: 200, factor: 1.4, randomize: true },
      });
    } catch {
      return false;
    }
    try {
      const entries = this.read().filter((e) => !(e.ledger === entry.ledger && e.fps === entry.fps));
      entries.push(entry);
      this.write(entries.slice(-MAX_ENTRIES));
      return true;
    } finally {
      await release().catch(() => undefined);
    }
  }

  /** Ledgers other than `ledgerDir` that charged some of these records. */
  lookup(records: readonly CanonicalRecord[], ledgerDir: string, hashes?: Buffer): ElsewhereMatch[] {
    const entries = this.read();
    const self = path.resolve(ledgerDir);
    const others = entries.filter((e) => e.ledger !== self);
    if (others.length === 0 || !existsSync(path.join(this.dir, KEY_FILE))) return [];
    // The samples (at most 256 × 1,024 fingerprints) go in a map; the dataset's fingerprints are looked up in it,
    // first by their high word (a small-integer set), so a million records cost a million cheap probes.
    const owners = new Map<string, number[]>();
    const highs = new Set<number>();
    others.forEach((e, k) => {
      const buf = Buffer.from(e.fps, 'base64');
      for (let o = 0; o + 8 <= buf.length; o += 8) {
        const hi = buf.readUInt32BE(o);
        const key = `${hi}:${buf.readUInt32BE(o + 4)}`;
        highs.add(hi >>> 2);
        const list = owners.get(key);
        if (list) list.push(k);
        else owners.set(key, [k]);
      }
    });
    const fps = this.fingerprints(records, hashes);
    const hits = others.map(() => 0);
    const seen = new Set<string>();
    for (let i = 0; i < fps.length; i += 2) {
      if (!highs.has(fps[i]! >>> 2)) continue;
      const key = `${fps[i]}:${fps[i + 1]}`;
      const list = owners.get(key);
      if (!list || seen.has(key)) continue; // a record given twice counts once
      seen.add(key);
      for (const k of list) hits[k]!++;
    }
    const best = new Map<string, ElsewhereMatch>();
    others.forEach((e, k) => {
      if (hits[k] === 0) return;
      const m: ElsewhereMatch = {
        ledger: e.ledger,
        dataset: e.dataset,
        records: hits[k]! * 2 ** e.level,
        exact: e.level === 0,
      };
      const key = `${e.ledger}\u0000${e.dataset}`;
      if ((best.get(key)?.records ?? 0) < m.records) best.set(key, m);
    });
    return [...best.values()].sort((a, b) => b.records - a.records);
  }

  /** Index fingerprints (high, low words interleaved) under the per-user key. */
  private fingerprints(records: readonly CanonicalRecord[], hashes?: Buffer): Uint32Array {
    const enc = encipher(hashes ?? unkeyedHashes(records), this.key());
    const out = new Uint32Array(records.length * 2);
    for (let i = 0; i < records.length; i++) {
      out[2 * i] = enc.readUInt32BE(16 * i);
      out[2 * i + 1] = enc.readUInt32BE(16 * i + 4);
    }
    return out;
  }

  /** The per-user key, created once: written to a temporary file and linked into place, which fails if another
   * process created it first (then its key is used). */
  private key(): Buffer {
    const file = path.join(this.dir, KEY_FILE);
    const existing = (): Buffer | undefined => {
      if (!existsSync(file)) return undefined;
      const k = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
      return k.length === 16 ? k : undefined;
    };
    const have = existing();
    if (have) return have;
    mkdirSync(this.dir, { recursive: true });
    const k = randomBytes(16);
    if (existsSync(file)) {
      // A damaged key file (not 16 hex bytes): replace it; entries under the old key simply stop matching.
      atomicWrite(file, `${k.toString('hex')}\n`);
      return k;
    }
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    atomicWrite(tmp, `${k.toString('hex')}\n`);
    try {
      linkSync(tmp, file);
      return k;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      return existing() ?? k;
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  private read(): Entry[] {
    if (!existsSync(this.file)) return [];
    try {
      const v = JSON.parse(readFileSync(this.file, 'utf8')) as { version?: unknown; entries?: unknown };
      if (v.version !== 1 || !Array.isArray(v.entries)) return [];
      return (v.entries as Entry[]).filter(
        (e) =>
          typeof e?.ledger === 'string' &&
          typeof e.dataset === 'string' &&
          typeof e.fps === 'string' &&
          Number.isInteger(e.level) &&
          e.level >= 0 &&
          e.level < 32,
      );
    } catch {
      return [];
    }
  }

  private write(entries: Entry[]): void {
    mkdirSync(this.dir, { recursive: true });
    atomicWrite(this.file, `${JSON.stringify({ version: 1, entries })}\n`);
  }
}

/** The fingerprints with their lowest `level` bits zero, sorted, as 8-byte big-endian pairs. */
function sampled(fps: Uint32Array, level: number): Buffer {
  const mask = 2 ** level - 1;
  const keep: [number, number][] = [];
  for (let i = 0; i < fps.length; i += 2) if ((fps[i + 1]! & mask) === 0) keep.push([fps[i]!, fps[i + 1]!]);
  keep.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const buf = Buffer.alloc(keep.length * 8);
  let o = 0;
  for (let i = 0; i < keep.length; i++) {
    if (i > 0 && keep[i]![0] === keep[i - 1]![0] && keep[i]![1] === keep[i - 1]![1]) continue;
    buf.writeUInt32BE(keep[i]![0], o);
    buf.writeUInt32BE(keep[i]![1], o + 4);
    o += 8;
  }
  return buf.subarray(0, o);
}

function atomicWrite(file: string, text: string): void {
  writeFileAtomic(file, text, { mode: 0o600 });
}
