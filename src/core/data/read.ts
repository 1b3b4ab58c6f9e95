import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { DataError } from '../errors';

export const DEFAULT_MAX_BYTES = 200 * 1024 * 1024;

/** Text decoded from a file as a stream, with its SHA-256 computed on the way. */
export interface TextStream {
  chunks: AsyncGenerator<string>;
  /** Resolves after `chunks` has been fully consumed. */
  digest(): string;
  bytes: number;
}

/**
 * Opens `file` as a stream of UTF-8 text chunks. Fails before reading when the file is larger than `maxBytes` and
 * while reading when a byte sequence is not valid UTF-8 (naming the line). A leading BOM is removed.
 */
export async function openText(file: string, displayName: string, maxBytes = DEFAULT_MAX_BYTES): Promise<TextStream> {
  let info;
  try {
    info = await stat(file);
  } catch (e) {
    throw new DataError(
      displayName,
      undefined,
      `cannot read the file (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      'Check the path.',
    );
  }
  if (!info.isFile())
    throw new DataError(displayName, undefined, 'is not a file', 'Pick a .csv, .jsonl or .json file.');
  if (info.size > maxBytes) {
    throw new DataError(
      displayName,
      undefined,
      `the file is ${formatMiB(info.size)}, over the size limit of ${formatMiB(maxBytes)}`,
      'Use a smaller sample of the data, or raise the limit (CLI --max-bytes, setting privateFewShot.maxDatasetMB).',
    );
  }
  if (info.size === 0)
    throw new DataError(
      displayName,
      undefined,
      'the file is empty',
      'Choose a file with a header and at least one row.',
    );

  const hash = createHash('sha256');
  let finished = false;
  async function* chunks(): AsyncGenerator<string> {
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
    let linesBefore = 0; // newlines in fully decoded text so far
    let pending: Buffer = Buffer.alloc(0); // undecoded tail kept to locate an error
    for await (const raw of createReadStream(file, { highWaterMark: 1 << 20 })) {
      const buf = raw as Buffer;
      hash.update(buf);
      let text: string;
      try {
        text = decoder.decode(buf, { stream: true });
      } catch {
        const all = Buffer.concat([pending, buf]);
        throw badUtf8(displayName, linesBefore + countNewlines(all, invalidUtf8Offset(all)));
      }
      pending = trailingIncomplete(buf);
      const nul = text.indexOf('\0');
      if (nul !== -1)
        throw new DataError(
          displayName,
          linesBefore + countChar(text.slice(0, nul), '\n') + 1,
          'the file contains a NUL byte (a binary file, or text saved as UTF-16)',
          'Re-save the file as UTF-8 text, or remove the NUL bytes.',
        );
      linesBefore += countChar(text, '\n');
      if (text) yield text;
    }
    let tail: string;
    try {
      tail = decoder.decode();
    } catch {
      throw badUtf8(displayName, linesBefore);
    }
    if (tail) yield tail;
    finished = true;
  }
  return {
    chunks: chunks(),
    digest: () => {
      if (!finished) throw new Error('digest() before the stream was consumed');
      return hash.digest('hex');
    },
    bytes: info.size,
  };
}

function badUtf8(file: string, newlinesBefore: number): DataError {
  return new DataError(
    file,
    newlinesBefore + 1,
    'the file is not valid UTF-8',
    'Re-save the file with UTF-8 encoding (for example "Save with Encoding → UTF-8" in VS Code).',
  );
}

function formatMiB(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

function countChar(s: string, c: string): number {
  let n = 0;
  for (let i = s.indexOf(c); i !== -1; i = s.indexOf(c, i + 1)) n++;
  return n;
}

function countNewlines(buf: Buffer, end: number): number {
  let n = 0;
  for (let i = 0; i < end; i++) if (buf[i] === 0x0a) n++;
  return n;
}

/** Bytes at the end of `buf` that begin a multi-byte sequence not yet complete. */
function trailingIncomplete(buf: Buffer): Buffer {
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const b = buf[buf.length - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? buf.subarray(buf.length - back) : Buffer.alloc(0);
  }
  return Buffer.alloc(0);
}

/** Offset of the first invalid UTF-8 sequence in `buf` (buf.length if none is found). */
export function invalidUtf8Offset(buf: Buffer): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    let need: number;
    if (b < 0x80) need = 0;
    else if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) need = 2;
    else if (b >= 0xf0 && b <= 0xf4) need = 3;
    else return i;
    if (i + need >= buf.length) return i; // truncated sequence
    for (let k = 1; k <= need; k++) if ((buf[i + k]! & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return buf.length;
}
