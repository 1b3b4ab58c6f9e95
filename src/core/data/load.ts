import path from 'node:path';
import { DataError } from '../errors';
import { openText, DEFAULT_MAX_BYTES } from './read';
import { formatOf, records, type Format, type RawRecord } from './parse';
import { chooseColumns, columnNames, scalarText, type ColumnChoice } from './columns';

export interface LoadOptions {
  textColumn?: string;
  labelColumn?: string;
  /** Optional privacy-unit column (e.g. user_id): all rows of one unit form one record for DP. */
  unitColumn?: string;
  /** What to do with a row whose text, label or unit is missing or empty. Default 'fail'. */
  onInvalid?: 'fail' | 'skip';
  /**
   * Drop a row when an earlier row has the same (trimmed text, label, privacy unit), keeping the first. The key holds
   * the label and unit, so dropping never moves a record from one label pool (or unit) to another: adding a row
   * changes at most its own label's pool. Without a unit column the unit part is empty (each row is its own unit, and
   * keying on the row itself would drop nothing). Default false.
   */
  dedupe?: boolean;
  /** Size limit in bytes. Default 200 MB. */
  maxBytes?: number;
  /** Folder that dataset paths are reported relative to (the workspace root). Default: the current directory. */
  root?: string;
  format?: Format;
}

export interface Example {
  /** 1-based line in the file where the record starts. */
  line: number;
  text: string;
  label: string;
  /** The privacy unit: the unit column's value, or `record:<index>` (each record its own unit) without one. */
  unit: string;
}

export interface SkippedRow {
  line: number;
  column: string;
  reason: 'missing' | 'empty' | 'not a scalar';
}

/** What the privacy ledger keys on. The path is relative to the workspace root, with forward slashes. */
export interface DatasetIdentity {
  path: string;
  /** SHA-256 of the file's bytes, hex. */
  contentSha256: string;
  bytes: number;
}

export interface Dataset {
  file: string;
  format: Format;
  columns: ColumnChoice & { available: string[] };
  /** The usable rows, in file order. Private: never send, log or release them. */
  examples: Example[];
  skipped: SkippedRow[];
  duplicatesRemoved: number;
  identity: DatasetIdentity;
}

/**
 * Loads a labelled dataset (CSV, JSONL or a JSON array of objects) as a stream, detects or checks the columns,
 * validates every row and returns the usable examples. Every failure is a DataError naming file and line.
 */
export async function loadDataset(file: string, options: LoadOptions = {}): Promise<Dataset> {
  const root = options.root ?? process.cwd();
  const absolute = path.resolve(root, file);
  const display = relativeName(root, absolute);
  const format = options.format ?? formatOf(absolute);
  if (!format) {
    throw new DataError(
      display,
      undefined,
      'unknown file type',
      'Use a .csv, .jsonl (one JSON object per line) or .json (an array of objects) file.',
    );
  }
  const stream = await openText(absolute, display, options.maxBytes ?? DEFAULT_MAX_BYTES);
  const rows: RawRecord[] = [];
  for await (const r of records(format, stream.chunks, display)) rows.push(r);
  const contentSha256 = stream.digest();
  if (rows.length === 0) {
    throw new DataError(
      display,
      undefined,
      format === 'csv' ? 'the file has a header but no data rows' : 'the file holds no records',
      'Add at least one labelled row.',
    );
  }

  const columns = chooseColumns(rows, display, {
    text: options.textColumn,
    label: options.labelColumn,
    unit: options.unitColumn,
  });
  const onInvalid = options.onInvalid ?? 'fail';
  const examples: Example[] = [];
  const skipped: SkippedRow[] = [];
  const seen = new Set<string>();
  let duplicatesRemoved = 0;
  rowLoop: for (const r of rows) {
    const values: string[] = [];
    for (const [kind, col] of [
      ['text', columns.text],
      ['label', columns.label],
      ['privacy unit', columns.unit],
    ] as const) {
      if (col === undefined) continue;
      const raw = r.fields.get(col);
      const s = scalarText(raw);
      const reason: SkippedRow['reason'] | undefined =
        raw === undefined || raw === null
          ? 'missing'
          : s === undefined
            ? 'not a scalar'
            : s.trim() === ''
              ? 'empty'
              : undefined;
      if (reason) {
        if (onInvalid === 'fail') {
          throw new DataError(
            display,
            r.line,
            `the ${kind} column "${col}" is ${reason === 'not a scalar' ? 'not a string or number' : reason}`,
            `Fill it in or remove the row, or skip such rows (CLI --skip-invalid; setting privateFewShot.skipInvalidRows).`,
            col,
          );
        }
        skipped.push({ line: r.line, column: col, reason });
        continue rowLoop;
      }
      values.push(kind === 'text' ? s! : s!.trim());
    }
    const [text, label, unit] = values as [string, string, string | undefined];
    if (options.dedupe) {
      // JSON of the triple: no separator inside a value can make two different triples collide.
      const key = JSON.stringify([text.trim(), label, columns.unit === undefined ? null : unit]);
      if (seen.has(key)) {
        duplicatesRemoved++;
        continue;
      }
      seen.add(key);
    }
    // Without a unit column every record is its own unit, told apart by its position among the records (not its
    // line: the records of a minified JSON array all start on line 1).
    examples.push({ line: r.line, text, label, unit: unit ?? `record:${r.index}` });
  }
  if (examples.length === 0) {
    throw new DataError(
      display,
      undefined,
      `every row was skipped as invalid (${skipped.length} rows)`,
      'Check the column mapping: the text and label columns must be filled in.',
    );
  }
  return {
    file: display,
    format,
    columns: { ...columns, available: columnNames(rows) },
    examples,
    skipped,
    duplicatesRemoved,
    identity: { path: display, contentSha256, bytes: stream.bytes },
  };
}

function relativeName(root: string, absolute: string): string {
  const rel = path.relative(root, absolute);
  const name = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : absolute;
  return name.split(path.sep).join('/');
}

/**
 * A record as the ledger identifies it (see docs/LEDGER.md, "Identity"): independent of the file's encoding, line
 * endings, row order and format. Private: the ledger stores only keyed fingerprints of `key`, never the key itself.
 */
export interface CanonicalRecord {
  /** Without a unit column: the row's text (NFC, line endings as \n, trimmed). With one: the unit's value. */
  key: string;
  /** The row's label (NFC, trimmed); a unit with rows under several labels gives one record per label. */
  label: string;
}

/**
 * The dataset's records in canonical form, one per usable row (or per unit and label when there is a unit column,
 * so that a unit's rows in another file are the same record). Same rows in any order, encoding or line endings give
 * the same list up to order.
 */
export function canonicalRecords(ds: Pick<Dataset, 'examples' | 'columns'>): CanonicalRecord[] {
  const hit = canonical.get(ds.examples);
  if (hit && hit.unit === ds.columns.unit) return hit.records;
  const byUnit = ds.columns.unit !== undefined;
  const out: CanonicalRecord[] = new Array<CanonicalRecord>(ds.examples.length);
  for (let i = 0; i < ds.examples.length; i++) {
    const e = ds.examples[i]!;
    out[i] = { key: byUnit ? `unit\u0000${canon(e.unit)}` : canon(e.text), label: canon(e.label) };
  }
  canonical.set(ds.examples, { unit: ds.columns.unit, records: out });
  return out;
}

/** Computed once per loaded dataset (the ledger caches its fingerprints by this array). */
const canonical = new WeakMap<Example[], { unit: string | undefined; records: CanonicalRecord[] }>();

function canon(s: string): string {
  const t = /[\r\u0080-\uffff]/.test(s) ? s.replace(/\r\n?/g, '\n').normalize('NFC') : s;
  return t.trim();
}
