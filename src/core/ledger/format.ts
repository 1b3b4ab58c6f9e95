/**
 * The on-disk format of the privacy-budget ledger: append-only JSON lines, one object per line, hash-chained.
 *
 *   {"seq":1,"prev":"<GENESIS>","time":"…","type":"ledger","format":"private-fewshot-ledger","version":1,…,"hash":"…"}
 *   {"seq":2,"prev":"<hash of line 1>",…,"type":"budget",…,"hash":"…"}
 *   {"seq":3,"prev":"<hash of line 2>",…,"type":"run","status":"reserved",…,"hash":"…"}
 *
 * - `hash` is the SHA-256 (hex) of the line's own text with the `,"hash":"…"` member removed, i.e. of exactly the
 *   bytes `JSON.stringify(lineWithoutHash)`. It is always the last member, so it can be checked without any
 *   canonical re-serialisation: an edited line fails its own hash.
 * - `prev` is the `hash` of the previous line (line 1: the fixed GENESIS value), so a replaced line whose hash was
 *   recomputed breaks the next line's link, and a deleted line breaks both the link and the `seq` count.
 * - `seq` equals the 1-based line number.
 * - Deleting lines at the end cannot be seen inside the file; the head file (see store.ts) records the last line's
 *   seq and hash to catch that.
 */
import { createHash, createHmac } from 'node:crypto';
import { DataError } from '../errors';
import { GAUSSIAN, MECHANISM_KINDS, POISSON_GAUSSIAN } from '../privacy/types';

export const LEDGER_FORMAT = 'private-fewshot-ledger';
export const LEDGER_VERSION = 1;
/** The `prev` of line 1: SHA-256 of a fixed string, so every ledger's chain starts from the same value. */
export const GENESIS = sha256Hex('private-fewshot ledger genesis v1');

// ---- Line shapes. Checked by hand-written validators below (zod was 3/4 of the read time of a 1,000-run ledger).

export interface DatasetRef {
  /** Workspace-relative path with forward slashes, as the data layer reports it. */
  path: string;
  /** SHA-256 of the file's bytes when the line was written. */
  sha256: string;
  bytes: number;
  /** The record set of the file's records (records.ts), by the SHA-256 of its file under records/; absent on lines
   * written before record identity (they match by path and hash). */
  records?: { sha256: string; count: number };
}

/** Partition: `*` (the whole dataset) or `label-hash:<32 hex>` (one label's pool; the label as a salted HMAC). */
export type StoredCharge =
  | { partition: string; kind: typeof POISSON_GAUSSIAN; sigma: number; samplingRate: number; steps: number }
  | {
      partition: string;
      kind: typeof GAUSSIAN;
      sigma: number;
      steps: number;
      /** Gaussian-DP μ = √steps / σ (Dong, Roth & Su 2019, Cor. 3.3), recorded for people; σ and steps are what count.
       * */
      mu?: number;
    };

interface Common {
  seq: number;
  prev: string;
  time: string;
  tool: string;
  hash: string;
  /**
   * Pool values computed while writing the line: record key (compose.ts `recordKey`: accountant, tool version, δ
   * and the pool's exact composition) → ε. A cache that lives inside the hash chain, so it is as tamper-evident as
   * the runs; spent is recomputed whenever no recorded value has the current key.
   */
  eps?: Record<string, number>;
}

export interface HeaderLine extends Common {
  type: 'ledger';
  format: typeof LEDGER_FORMAT;
  version: number;
  /** Per-ledger salt for the label HMACs (hex). */
  labelSalt: string;
}

export interface BudgetLine extends Common {
  type: 'budget';
  dataset: DatasetRef;
  epsilon: number;
  delta: number;
  /** 'default' when the tool pinned its default total at the first run (ε = 4 and δ = 10⁻⁶; earlier versions pinned
   * δ = 1/(n ln n), which is read as written); 'user' when set explicitly. */
  source: 'default' | 'user';
  /** Records or privacy units when the line was written (what the earlier default δ was computed from). Local. */
  units?: number;
  /** The privacy unit: 'row' or 'column:<name>' (absent on lines written before units were recorded). */
  unit?: string;
}

export interface ReservedLine extends Common {
  type: 'run';
  status: 'reserved';
  id: string;
  dataset: DatasetRef;
  algorithm: string;
  /** The dataset's δ when the run was planned. */
  delta: number;
  charges: StoredCharge[];
  /** ε of this run alone at `delta` (for people; spent is always recomputed from the charges). */
  epsilonRun?: number;
  /**
   * Spent ε of the dataset including this run, when it was reserved: under the budget filter when `filter` is
   * present, else (older lines) the PLD composition of all runs.
   */
  epsilonAfter?: number;
  /** The PLD composition including this run, as if every run had been planned in advance (for people). */
  epsilonAfterPld?: number;
  accountant?: string;
  /** The budget filter that admitted the run (e.g. 'renyi-filter-v1'); absent on older lines. */
  filter?: string;
  /** The privacy unit: 'row' or 'column:<name>' (absent on lines written before units were recorded). */
  unit?: string;
  note?: string;
  /** The reservation id this run continues; the budget filter counts a group as one run (absent: its own group). */
  group?: string;
  /** The (ε, δ) the run's group guarantees by construction (see RunPlan.guarantee); absent on most runs. */
  guarantee?: { epsilon: number; delta: number };
}

export interface ClosedLine extends Common {
  type: 'run';
  status: 'settled' | 'aborted';
  /** The reservation this line closes. */
  id: string;
  /** What the run actually used (never fewer steps than ran). Replaces the reservation's charges. */
  charges: StoredCharge[];
  /** SHA-256 of what was released (required when settled; optional when aborted). */
  released?: string;
  reason?: string;
  /** The reservation's privacy unit, repeated for people (the reservation's is the one that counts). */
  unit?: string;
}

export type LedgerLine = HeaderLine | BudgetLine | ReservedLine | ClosedLine;
type Body<T> = Omit<T, 'seq' | 'prev' | 'hash'>;
/** A line before it is chained: everything but seq, prev and hash. */
export type LineBody = Body<HeaderLine> | Body<BudgetLine> | Body<ReservedLine> | Body<ClosedLine>;

/** A validator returns what is wrong, or undefined. */
type V = (v: unknown) => string | undefined;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const num =
  (ok: (x: number) => boolean, what: string): V =>
  (v) =>
    isNum(v) && ok(v) ? undefined : `expected ${what}`;
const re =
  (r: RegExp, what: string): V =>
  (v) =>
    typeof v === 'string' && r.test(v) ? undefined : `expected ${what}`;
const str: V = (v) => (typeof v === 'string' ? undefined : 'expected a string');
const nonEmpty: V = (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'expected a non-empty string');
const lit =
  (...xs: unknown[]): V =>
  (v) =>
    xs.includes(v) ? undefined : `expected ${xs.map((x) => JSON.stringify(x)).join(' or ')}`;
const opt =
  (f: V): V =>
  (v) =>
    v === undefined ? undefined : f(v);
const obj =
  (shape: Record<string, V>): V =>
  (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'expected an object';
    for (const k in shape) {
      const e = shape[k]!((v as Record<string, unknown>)[k]);
      if (e) return `${k}: ${e}`;
    }
    return undefined;
  };
const arr =
  (f: V): V =>
  (v) => {
    if (!Array.isArray(v)) return 'expected an array';
    for (let i = 0; i < v.length; i++) {
      const e = f(v[i]);
      if (e) return `${i}: ${e}`;
    }
    return undefined;
  };
const hex64 = re(/^[0-9a-f]{64}$/, 'a 64-digit lowercase hex SHA-256');
const positive = num((x) => x > 0, 'a positive number');
const nonNegative = num((x) => x >= 0, 'a number ≥ 0');
const count = num((x) => Number.isInteger(x) && x >= 0, 'a whole number ≥ 0');
const deltaV = num((x) => x > 0 && x < 1, 'a number in (0, 1)');
const runId = re(/^r-[0-9a-f]{16}$/, 'a run id r-<16 hex digits>');
const datasetRef = obj({ path: nonEmpty, sha256: hex64, bytes: count, records: opt(obj({ sha256: hex64, count })) });
const unitV = re(/^(row|column:.+)$/s, '"row" or "column:<name>"');
const partition = re(/^(\*|label-hash:[0-9a-f]{32})$/, '"*" or "label-hash:<32 hex digits>"');
const chargeCommon = { partition, sigma: positive, steps: count };
const pgCharge = obj({ ...chargeCommon, samplingRate: num((x) => x > 0 && x <= 1, 'a sampling rate in (0, 1]') });
const gCharge = obj({ ...chargeCommon, mu: opt(nonNegative) });
const charge: V = (v) => {
  const kind = (v as { kind?: unknown } | null)?.kind;
  return kind === POISSON_GAUSSIAN
    ? pgCharge(v)
    : kind === GAUSSIAN
      ? gCharge(v)
      : `kind: expected ${MECHANISM_KINDS.map((k) => JSON.stringify(k)).join(' or ')}`;
};
const recorded: V = (v) => {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'expected an object';
  for (const [k, x] of Object.entries(v))
    if (!/^[0-9a-f]{24}$/.test(k) || !(isNum(x) && x >= 0)) return `${k}: expected a 24-hex key and a number ≥ 0`;
  return undefined;
};
const common = {
  seq: num((x) => Number.isInteger(x) && x > 0, 'a whole number > 0'),
  prev: hex64,
  time: nonEmpty,
  tool: str,
  hash: hex64,
  eps: recorded,
};
const headerV = obj({
  ...common,
  format: lit(LEDGER_FORMAT),
  version: num((x) => Number.isInteger(x) && x > 0, 'a whole number > 0'),
  labelSalt: re(/^[0-9a-f]{32,}$/, 'a hex salt'),
});
const budgetV = obj({
  ...common,
  dataset: datasetRef,
  epsilon: positive,
  delta: deltaV,
  source: lit('default', 'user'),
  units: opt(num((x) => Number.isInteger(x) && x > 0, 'a whole number > 0')),
  unit: opt(unitV),
});
const reservedV = obj({
  ...common,
  id: runId,
  dataset: datasetRef,
  algorithm: nonEmpty,
  delta: deltaV,
  charges: arr(charge),
  epsilonRun: opt(nonNegative),
  epsilonAfter: opt(nonNegative),
  epsilonAfterPld: opt(nonNegative),
  accountant: opt(str),
  filter: opt(str),
  unit: opt(unitV),
  note: opt(str),
  group: opt(runId),
  guarantee: opt(obj({ epsilon: nonNegative, delta: deltaV })),
});
const closedV = obj({
  ...common,
  status: lit('settled', 'aborted'),
  id: runId,
  charges: arr(charge),
  released: opt(hex64),
  reason: opt(str),
  unit: opt(unitV),
});

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The stored form of a label: HMAC-SHA256 keyed by the ledger's salt, first 128 bits, so label text never lands on
 * disk. */
export function labelPartition(label: string, saltHex: string): string {
  return `label-hash:${createHmac('sha256', Buffer.from(saltHex, 'hex')).update(label, 'utf8').digest('hex').slice(0, 32)}`;
}

/** Serialises one line (without the trailing newline): seq and prev first, the body, then its own hash last. */
export function encodeLine(seq: number, prev: string, body: LineBody): { text: string; hash: string } {
  const unhashed = JSON.stringify({ seq, prev, ...body });
  const hash = sha256Hex(unhashed);
  return { text: `${unhashed.slice(0, -1)},"hash":"${hash}"}`, hash };
}

/** `,"hash":"` + 64 hex digits + `"}` */
const HASH_SUFFIX_LENGTH = 9 + 64 + 2;
const HEX64 = /^[0-9a-f]{64}$/;

export interface ParsedLedger {
  lines: LedgerLine[];
  header: HeaderLine | undefined;
  /** seq and hash of the last line (GENESIS and 0 when empty). */
  last: { seq: number; hash: string };
}

/**
 * Parses and verifies a whole ledger. Any damage — a line that is not JSON, fails its own hash, does not link to the
 * previous line, skips or repeats a seq, or has an unknown shape — is a DataError naming the file and line.
 */
export function parseLedger(text: string, file: string): ParsedLedger {
  const lines: LedgerLine[] = [];
  let prev = GENESIS;
  let n = 0;
  let start = 0;
  const hint =
    'The ledger is append-only and hash-chained; it is never reset automatically. Restore .private-fewshot/ledger.jsonl from a backup or version control, or move it away to start a new ledger deliberately (its spent budget is then forgotten).';
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    if (end === -1) {
      throw new DataError(
        file,
        n + 1,
        'the last line is incomplete (no newline at the end): the file was cut short or edited',
        hint,
      );
    }
    const raw = text.slice(start, end);
    start = end + 1;
    n++;
    if (raw.trim() === '') throw new DataError(file, n, 'the line is empty: lines were edited or removed', hint);
    // The line ends with `,"hash":"<64 hex>"}`; its hash covers the text before that member, closed by `}`.
    const at = raw.length - HASH_SUFFIX_LENGTH;
    const claimed = raw.slice(at + 9, raw.length - 2);
    if (at < 1 || !raw.startsWith(',"hash":"', at) || !raw.endsWith('"}') || !HEX64.test(claimed)) {
      throw new DataError(file, n, 'the line has no hash at its end: it was edited or is not a ledger line', hint);
    }
    const ownHash = createHash('sha256').update(raw.slice(0, at)).update('}').digest('hex');
    if (ownHash !== claimed) throw new DataError(file, n, 'the line does not match its own hash: it was edited', hint);
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch {
      throw new DataError(file, n, 'the line is not valid JSON', hint);
    }
    const seq = (obj as { seq?: unknown }).seq;
    if (seq !== n) {
      const what =
        typeof seq === 'number' && seq > n
          ? `entry ${n}${seq - 1 > n ? `–${seq - 1}` : ''} was deleted`
          : 'lines were reordered or duplicated';
      throw new DataError(file, n, `expected entry ${n} but found entry ${String(seq)}: ${what}`, hint);
    }
    if ((obj as { prev?: unknown }).prev !== prev) {
      throw new DataError(
        file,
        n,
        `the line does not follow line ${n - 1} (hash chain broken): line ${n - 1} was replaced or lines were removed`,
        hint,
      );
    }
    const line = parseShape(obj, n, file, hint);
    if (n === 1 && line.type !== 'ledger')
      throw new DataError(file, 1, 'the first line is not the ledger header', hint);
    if (n > 1 && line.type === 'ledger')
      throw new DataError(file, n, 'a second ledger header: two ledgers were concatenated', hint);
    if (line.type === 'ledger' && line.version > LEDGER_VERSION) {
      throw new DataError(
        file,
        n,
        `ledger format version ${line.version} is newer than this tool understands (${LEDGER_VERSION})`,
        'Update Private Few-Shot.',
      );
    }
    lines.push(line);
    prev = line.hash;
  }
  const header = lines[0]?.type === 'ledger' ? lines[0] : undefined;
  return { lines, header, last: { seq: n, hash: prev } };
}

function parseShape(obj: unknown, n: number, file: string, hint: string): LedgerLine {
  const o = obj as { type?: unknown; status?: unknown };
  const check =
    o.type === 'ledger'
      ? headerV
      : o.type === 'budget'
        ? budgetV
        : o.type === 'run'
          ? o.status === 'reserved'
            ? reservedV
            : closedV
          : undefined;
  if (!check) throw new DataError(file, n, `unknown entry type ${JSON.stringify(o.type)}`, hint);
  const problem = check(obj);
  if (problem) throw new DataError(file, n, `invalid ${String(o.type)} entry: ${problem}`, hint);
  return obj as LedgerLine;
}
