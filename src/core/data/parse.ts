import { Readable } from 'node:stream';
import { parse as csvParse, CsvError } from 'csv-parse';
import { DataError } from '../errors';

export type Format = 'csv' | 'jsonl' | 'json';

/** One raw record: its 1-based starting line and its fields. A Map, so keys like `__proto__` are just keys. */
export interface RawRecord {
  line: number;
  /** 1-based column where the record starts, when records can share a line (a minified JSON array). */
  column?: number;
  /** 0-based position among the file's records: what tells records apart when they share a line. */
  index: number;
  fields: Map<string, unknown>;
}

export function formatOf(file: string): Format | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (lower.endsWith('.json')) return 'json';
  return undefined;
}

/** Yields the records of a text stream in the given format. Errors are DataErrors naming the file and line. */
export function records(format: Format, chunks: AsyncIterable<string>, file: string): AsyncGenerator<RawRecord> {
  switch (format) {
    case 'csv':
      return csvRecords(chunks, file);
    case 'jsonl':
      return jsonlRecords(chunks, file);
    case 'json':
      return jsonArrayRecords(chunks, file);
  }
}

async function* csvRecords(chunks: AsyncIterable<string>, file: string): AsyncGenerator<RawRecord> {
  // RFC 4180 via csv-parse: quoted fields, embedded newlines, CRLF (and LF; mixed files too). The BOM was removed
  // by the decoder; bom:true also covers one that survives. csv-parse's own line counter counts a CRLF inside a
  // quoted field twice, so start lines are computed here from the byte offsets of the newlines.
  const newlines: number[] = [];
  let offset = 0;
  async function* bytes(): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      const buf = Buffer.from(chunk, 'utf8');
      for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) newlines.push(offset + i);
      offset += buf.length;
      yield buf;
    }
  }
  /** 1-based line of byte position `pos`. */
  const lineAt = (pos: number): number => {
    let lo = 0;
    let hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (newlines[mid]! < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
  // The end (bytes, empty lines) of the last record the parser accepted, updated synchronously by the parser itself:
  // the consumer below may lag many records behind when the parser fails, so its own position is not the bad row's.
  let parsedEnd = 0;
  let parsedEmpty = 0;
  let headerFields: number | undefined;
  const parser = csvParse({
    bom: true,
    info: true,
    on_record: (record, context) => {
      parsedEnd = context.bytes;
      parsedEmpty = context.empty_lines;
      const fields: unknown = Array.isArray(record) ? record : (record as { record?: unknown }).record;
      headerFields ??= Array.isArray(fields) ? fields.length : undefined;
      return record;
    },
    skip_empty_lines: true,
    relax_column_count: false,
    relax_quotes: false,
    record_delimiter: ['\r\n', '\n'],
  });
  Readable.from(bytes())
    .on('error', (e) => parser.destroy(e))
    .pipe(parser);
  let header: string[] | undefined;
  let prevBytes = 0; // end of the previous record, after its delimiter
  let prevEmpty = 0;
  let index = 0;
  try {
    for await (const item of parser as AsyncIterable<{
      record: string[];
      info: { bytes: number; empty_lines: number };
    }>) {
      const start = lineAt(prevBytes) + (item.info.empty_lines - prevEmpty);
      prevBytes = item.info.bytes;
      prevEmpty = item.info.empty_lines;
      if (!header) {
        header = item.record.map((h) => h.trim());
        const seen = new Set<string>();
        header.forEach((h, i) => {
          if (h === '')
            throw new DataError(
              file,
              start,
              `column ${i + 1} of the header has no name`,
              'Give every column a name in the first line.',
            );
          if (seen.has(h))
            throw new DataError(
              file,
              start,
              `the header names the column "${h}" twice`,
              'Rename one of the two columns.',
            );
          seen.add(h);
        });
        continue;
      }
      const fields = new Map<string, unknown>();
      header.forEach((h, i) => fields.set(h, item.record[i]));
      yield { line: start, index: index++, fields };
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    if (e instanceof CsvError) {
      const info = e as unknown as { empty_lines?: number; record?: unknown[] };
      const line = lineAt(parsedEnd) + Math.max(0, (info.empty_lines ?? parsedEmpty) - parsedEmpty);
      throw csvError(e, file, line, headerFields, Array.isArray(info.record) ? info.record.length : undefined);
    }
    throw e;
  }
  if (!header)
    throw new DataError(file, undefined, 'the file has no header line', 'The first line must name the columns.');
}

function csvError(e: CsvError, file: string, line: number, headerFields?: number, rowFields?: number): DataError {
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return new DataError(
        file,
        line,
        'a quoted field that starts on this line is never closed (unterminated quote)',
        'Close the quote, or double any quote inside a quoted field ("").',
      );
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH':
      return new DataError(
        file,
        line,
        headerFields !== undefined && rowFields !== undefined
          ? `this row has ${rowFields} field(s) but the header has ${headerFields}`
          : 'this row has a different number of fields from the header',
        'Quote fields that contain commas, and give every row as many fields as the header.',
      );
    case 'INVALID_OPENING_QUOTE':
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return new DataError(
        file,
        line,
        'a quote appears inside a field that is not fully quoted',
        'Quote the whole field and double the inner quotes ("").',
      );
    default:
      return new DataError(
        file,
        line,
        'this row cannot be read as comma-separated values',
        'Check that the file is comma-separated with one header line.',
      );
  }
}

function toRecord(
  value: unknown,
  file: string,
  at: { line: number; column?: number; index: number },
  what: string,
): RawRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DataError(
      file,
      at.line,
      `${what} is not a JSON object`,
      'Each record must be an object such as {"text": "…", "label": "…"}.',
    );
  }
  // Object.entries reads own properties only; a "__proto__" key parsed by JSON.parse is an own property and
  // becomes an ordinary Map key here, so nothing is ever assigned through a prototype setter.
  return { ...at, fields: new Map(Object.entries(value)) };
}

/** JSON.parse, with a syntax error reported as a DataError at `line` of `file` (saying `what` and `hint`). */
function parseJson(text: string, file: string, line: number, what: string, hint: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new DataError(file, line, what, hint);
  }
}

async function* jsonlRecords(chunks: AsyncIterable<string>, file: string): AsyncGenerator<RawRecord> {
  let carry = '';
  let lineNo = 0;
  let index = 0;
  const handle = (text: string): RawRecord | undefined => {
    lineNo++;
    const t = text.trim();
    if (t === '') return undefined;
    const value = parseJson(
      t,
      file,
      lineNo,
      'this line is not valid JSON',
      'JSONL needs one complete JSON object per line.',
    );
    return toRecord(value, file, { line: lineNo, index: index++ }, 'this line');
  };
  for await (const chunk of chunks) {
    carry += chunk;
    let nl: number;
    while ((nl = carry.indexOf('\n')) !== -1) {
      const r = handle(carry.slice(0, nl));
      carry = carry.slice(nl + 1);
      if (r) yield r;
    }
  }
  const r = handle(carry);
  if (r) yield r;
}

/**
 * A JSON array of objects, read as a stream: a small scanner finds where each top-level element starts and ends
 * (tracking strings and nesting) and hands that slice to JSON.parse, so only one element is held at a time.
 */
async function* jsonArrayRecords(chunks: AsyncIterable<string>, file: string): AsyncGenerator<RawRecord> {
  let state: 'before' | 'between' | 'element' | 'after' = 'before';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let line = 1;
  let col = 0; // characters read on the current line: the 1-based column of the last character read
  let elementLine = 1;
  let elementCol = 1;
  let index = 0;
  let element = '';
  let expectElement = true;
  /** Where element `index` starts, for messages: records of a minified array all share line 1. */
  const where = () => `array element ${index + 1} (line ${elementLine}, column ${elementCol})`;
  const unexpected = (c: string): DataError =>
    new DataError(
      file,
      line,
      `unexpected ${JSON.stringify(c.length === 1 && c < ' ' ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c)} at column ${col} in the JSON array`,
      'The file must be one JSON array of objects: [{"text": "…", "label": "…"}, …].',
    );
  for await (const chunk of chunks) {
    let i = 0;
    while (i < chunk.length) {
      const c = chunk[i]!;
      if (state === 'element') {
        // Copy up to the next character that can change the scanner's state.
        const from = i;
        for (; i < chunk.length; i++) {
          const d = chunk[i]!;
          if (d === '\n') {
            line++;
            col = 0;
          } else col++;
          if (inString) {
            if (escaped) escaped = false;
            else if (d === '\\') escaped = true;
            else if (d === '"') inString = false;
          } else if (d === '"') inString = true;
          else if (d === '{' || d === '[') depth++;
          else if (d === '}' || d === ']') {
            depth--;
            if (depth === 0) {
              i++;
              break;
            }
          }
        }
        element += chunk.slice(from, i);
        if (depth === 0) {
          const value = parseJson(
            element,
            file,
            elementLine,
            `${where()} is not valid JSON`,
            'Check the brackets, quotes and commas of this element.',
          );
          yield toRecord(value, file, { line: elementLine, column: elementCol, index }, where());
          index++;
          element = '';
          state = 'between';
          expectElement = false;
        }
        continue;
      }
      i++;
      if (c === '\n') {
        line++;
        col = 0;
        continue;
      }
      col++;
      if (c === ' ' || c === '\t' || c === '\r') continue;
      if (state === 'before') {
        if (c !== '[')
          throw new DataError(
            file,
            line,
            'a .json dataset must be a JSON array of objects',
            'Use [{"text": "…", "label": "…"}, …], or save one object per line as .jsonl.',
          );
        state = 'between';
      } else if (state === 'between') {
        if (c === ',' && !expectElement) expectElement = true;
        else if (c === ']')
          state = 'after'; // a trailing comma before ] is tolerated
        else if (expectElement && c === '{') {
          state = 'element';
          depth = 1;
          element = '{';
          elementLine = line;
          elementCol = col;
        } else if (expectElement && c !== ',' && c !== ']') {
          throw new DataError(
            file,
            line,
            `array element ${index + 1} (line ${line}, column ${col}) is not a JSON object`,
            'Each element must be an object such as {"text": "…", "label": "…"}.',
          );
        } else throw unexpected(c);
      } else if (state === 'after') {
        throw unexpected(c);
      }
    }
  }
  if (state === 'before')
    throw new DataError(file, undefined, 'the file holds no JSON', 'A .json dataset must be a JSON array of objects.');
  if (state !== 'after')
    throw new DataError(
      file,
      state === 'element' ? elementLine : line,
      state === 'element' ? `${where()} is not closed` : 'the JSON array is not closed',
      'The file seems cut short; end it with ].',
    );
}
