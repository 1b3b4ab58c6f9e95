/**
 * The on-disk format of the privacy-budget ledger: append-only JSON lines, one object per line, hash-chained.
 *
 *   {"seq":1,"prev":"<GENESIS>","time":"…","tool":"0.1.0","type":"ledger","format":"private-fewshot-ledger","version":1,"labelSalt":"…","hash":"…"}
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
import { z } from 'zod';
import { DataError } from '../errors';

export const LEDGER_FORMAT = 'private-fewshot-ledger';
export const LEDGER_VERSION = 1;
/** The `prev` of line 1: SHA-256 of a fixed string, so every ledger's chain starts from the same value. */
export const GENESIS = sha256Hex('private-fewshot ledger genesis v1');

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'a 64-digit lowercase hex SHA-256');
const positive = z.number().finite().positive();

export const datasetRefSchema = z.object({
  /** Workspace-relative path with forward slashes, as the data layer reports it. */
  path: z.string().min(1),
  /** SHA-256 of the file's bytes when the line was written. */
  sha256: hex64,
  bytes: z.number().int().nonnegative(),
});
export type DatasetRef = z.infer<typeof datasetRefSchema>;

/** `*` (the whole dataset) or `label-hash:<32 hex>` (one label's pool; the label is stored as a salted HMAC). */
export const storedPartition = z.string().regex(/^(\*|label-hash:[0-9a-f]{32})$/, '"*" or "label-hash:<32 hex digits>"');

export const storedChargeSchema = z.discriminatedUnion('kind', [
  z.object({
    partition: storedPartition,
    kind: z.literal('poisson-gaussian'),
    sigma: positive,
    samplingRate: z.number().finite().gt(0).lte(1),
    steps: z.number().int().nonnegative(),
  }),
  z.object({
    partition: storedPartition,
    kind: z.literal('gaussian'),
    sigma: positive,
    steps: z.number().int().nonnegative(),
    /** Gaussian-DP μ = √steps / σ (Dong, Roth & Su 2019, Cor. 3.3), recorded for people; σ and steps are what count. */
    mu: z.number().finite().nonnegative().optional(),
  }),
]);
export type StoredCharge = z.infer<typeof storedChargeSchema>;

const common = {
  seq: z.number().int().positive(),
  prev: hex64,
  time: z.string().min(1),
  tool: z.string(),
  hash: hex64,
};

/**
 * Pool values computed while writing the line: record key (compose.ts `recordKey`: accountant, tool version, δ and
 * the pool's exact composition) → ε. A cache that lives inside the hash chain, so it is as tamper-evident as the
 * runs; spent is recomputed whenever no recorded value has the current key.
 */
const recordedEps = z.record(z.string().regex(/^[0-9a-f]{24}$/), z.number().finite().nonnegative()).optional();

const headerSchema = z.object({
  ...common,
  type: z.literal('ledger'),
  format: z.literal(LEDGER_FORMAT),
  version: z.number().int().positive(),
  /** Per-ledger salt for the label HMACs (hex). */
  labelSalt: z.string().regex(/^[0-9a-f]{32,}$/),
});

const budgetSchema = z.object({
  ...common,
  type: z.literal('budget'),
  dataset: datasetRefSchema,
  epsilon: positive,
  delta: z.number().finite().gt(0).lt(1),
  /** 'default' when the tool pinned ε = 4, δ = 1/(n ln n) at the first run; 'user' when set explicitly. */
  source: z.enum(['default', 'user']),
  /** Records or privacy units when the line was written (what the default δ was computed from). */
  units: z.number().int().positive().optional(),
  eps: recordedEps,
});

const reservedSchema = z.object({
  ...common,
  type: z.literal('run'),
  status: z.literal('reserved'),
  id: z.string().regex(/^r-[0-9a-f]{16}$/),
  dataset: datasetRefSchema,
  algorithm: z.string().min(1),
  /** The dataset's δ when the run was planned. */
  delta: z.number().finite().gt(0).lt(1),
  charges: z.array(storedChargeSchema),
  /** ε of this run alone at `delta` (for people; spent is always recomputed from the charges). */
  epsilonRun: z.number().nonnegative().optional(),
  /** Spent ε of the dataset including this run, when it was reserved. */
  epsilonAfter: z.number().nonnegative().optional(),
  accountant: z.string().optional(),
  note: z.string().optional(),
  eps: recordedEps,
});

const closedSchema = z.object({
  ...common,
  type: z.literal('run'),
  status: z.enum(['settled', 'aborted']),
  /** The reservation this line closes. */
  id: z.string().regex(/^r-[0-9a-f]{16}$/),
  /** What the run actually used (never fewer steps than ran). Replaces the reservation's charges. */
  charges: z.array(storedChargeSchema),
  /** SHA-256 of what was released (required when settled; optional when aborted). */
  released: hex64.optional(),
  reason: z.string().optional(),
  eps: recordedEps,
});

export type HeaderLine = z.infer<typeof headerSchema>;
export type BudgetLine = z.infer<typeof budgetSchema>;
export type ReservedLine = z.infer<typeof reservedSchema>;
export type ClosedLine = z.infer<typeof closedSchema>;
export type LedgerLine = HeaderLine | BudgetLine | ReservedLine | ClosedLine;
/** A line before it is chained: everything but seq, prev and hash. */
export type LineBody = Omit<BudgetLine, 'seq' | 'prev' | 'hash'> | Omit<ReservedLine, 'seq' | 'prev' | 'hash'> | Omit<ClosedLine, 'seq' | 'prev' | 'hash'> | Omit<HeaderLine, 'seq' | 'prev' | 'hash'>;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The stored form of a label: HMAC-SHA256 keyed by the ledger's salt, first 128 bits, so label text never lands on disk. */
export function labelPartition(label: string, saltHex: string): string {
  return `label-hash:${createHmac('sha256', Buffer.from(saltHex, 'hex')).update(label, 'utf8').digest('hex').slice(0, 32)}`;
}

/** Serialises one line (without the trailing newline): seq and prev first, the body, then its own hash last. */
export function encodeLine(seq: number, prev: string, body: LineBody): { text: string; hash: string } {
  const unhashed = JSON.stringify({ seq, prev, ...body });
  const hash = sha256Hex(unhashed);
  return { text: `${unhashed.slice(0, -1)},"hash":"${hash}"}`, hash };
}

const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;

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
  const hint = 'The ledger is append-only and hash-chained; it is never reset automatically. Restore .private-fewshot/ledger.jsonl from a backup or version control, or move it away to start a new ledger deliberately (its spent budget is then forgotten).';
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    if (end === -1) {
      throw new DataError(file, n + 1, 'the last line is incomplete (no newline at the end): the file was cut short or edited', hint);
    }
    const raw = text.slice(start, end);
    start = end + 1;
    n++;
    if (raw.trim() === '') throw new DataError(file, n, 'the line is empty: lines were edited or removed', hint);
    const suffix = HASH_SUFFIX.exec(raw);
    if (!suffix) throw new DataError(file, n, 'the line has no hash at its end: it was edited or is not a ledger line', hint);
    const ownHash = sha256Hex(`${raw.slice(0, suffix.index)}}`);
    if (ownHash !== suffix[1]) throw new DataError(file, n, 'the line does not match its own hash: it was edited', hint);
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch {
      throw new DataError(file, n, 'the line is not valid JSON', hint);
    }
    const seq = (obj as { seq?: unknown }).seq;
    if (seq !== n) {
      const what = typeof seq === 'number' && seq > n ? `entry ${n}${seq - 1 > n ? `–${seq - 1}` : ''} was deleted` : 'lines were reordered or duplicated';
      throw new DataError(file, n, `expected entry ${n} but found entry ${String(seq)}: ${what}`, hint);
    }
    if ((obj as { prev?: unknown }).prev !== prev) {
      throw new DataError(file, n, `the line does not follow line ${n - 1} (hash chain broken): line ${n - 1} was replaced or lines were removed`, hint);
    }
    const line = parseShape(obj, n, file, hint);
    if (n === 1 && line.type !== 'ledger') throw new DataError(file, 1, 'the first line is not the ledger header', hint);
    if (n > 1 && line.type === 'ledger') throw new DataError(file, n, 'a second ledger header: two ledgers were concatenated', hint);
    if (line.type === 'ledger' && line.version > LEDGER_VERSION) {
      throw new DataError(file, n, `ledger format version ${line.version} is newer than this tool understands (${LEDGER_VERSION})`, 'Update Private Few-Shot.');
    }
    lines.push(line);
    prev = line.hash;
  }
  const header = lines[0]?.type === 'ledger' ? lines[0] : undefined;
  return { lines, header, last: { seq: n, hash: prev } };
}

function parseShape(obj: unknown, n: number, file: string, hint: string): LedgerLine {
  const o = obj as { type?: unknown; status?: unknown };
  const schema =
    o.type === 'ledger' ? headerSchema : o.type === 'budget' ? budgetSchema : o.type === 'run' ? (o.status === 'reserved' ? reservedSchema : closedSchema) : undefined;
  if (!schema) throw new DataError(file, n, `unknown entry type ${JSON.stringify(o.type)}`, hint);
  const r = schema.safeParse(obj);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new DataError(file, n, `invalid ${String(o.type)} entry: ${issue.path.join('.') || 'line'}: ${issue.message}`, hint);
  }
  return r.data;
}
