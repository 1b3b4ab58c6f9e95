/**
 * Record sets: a dataset's identity as the set of its records, stored as keyed fingerprints (docs/LEDGER.md,
 * "Identity").
 *
 * Fingerprint of a record = first 64 bits of AES-128_k( h(key) ), where
 * - `key` is the record's canonical form (data/load.ts canonicalRecords: text, or unit id; NFC, \n, trimmed),
 * - h is a fixed, unkeyed 128-bit mixing hash of its UTF-16 code units (MurmurHash3-x86-128 style rounds, Appleby
 *   2011) computed here in JavaScript: cheap, no per-record native call,
 * - k is the ledger's record key (derived from the ledger header's random salt by HMAC-SHA256, so it lives in the
 *   hash chain) and AES-128 in ECB mode enciphers every 16-byte h in one native call.
 * AES_k is a pseudorandom permutation, so without k a fingerprint says nothing testable about a guessed row, and
 * fingerprints of one row in two ledgers are unrelated. h is not collision resistant, and need not be: identical
 * records always get identical fingerprints (nothing is ever under-charged); a collision of h or of the 64-bit
 * truncation only makes two different records look the same, which over-charges (the conservative side). With
 * N distinct records in a ledger, the chance that a given dataset of n records shows any spurious shared record is
 * at most n·N/2^64 (e.g. 10^6 · 10^8 / 1.8·10^19 ≈ 5·10^-6).
 *
 * Each entry also carries a 32-bit label tag: the first 32 bits of the label's ledger partition HMAC (format.ts
 * labelPartition), so a run's charge on a label pool applies to exactly the records that had that label in the
 * run's input (a tag collision between two labels again only over-charges).
 *
 * File: `.private-fewshot/records/<sha256 of the file>.bin`, named by its content and referenced from the ledger line
 * by that SHA-256 (so the hash chain protects it): 16-byte header `PFREC001` + u32 count + u32 zero, then the
 * fingerprints' high words, low words and tags as three little-endian u32 arrays, sorted by (fingerprint, tag), no
 * repeats. 12 bytes per (record, label) entry.
 */
import { createCipheriv, createHash, createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic';
import path from 'node:path';
import type { CanonicalRecord } from '../data/load';
import { DataError } from '../errors';
import { labelPartition } from './format';

export const RECORDS_DIR = 'records';
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const MAGIC = 'PFREC001';
const HEADER_BYTES = 16;
/** Bytes stored per (record, label) entry. */
export const BYTES_PER_ENTRY = 12;

/** A sorted set of (fingerprint, label tag) entries. `hi`/`lo` are the fingerprint's two 32-bit halves. */
export interface RecordSet {
  n: number;
  hi: Uint32Array;
  lo: Uint32Array;
  tag: Uint32Array;
}

/** The ledger's 16-byte record key, derived from its header salt (domain-separated from the label HMACs). */
export function ledgerRecordKey(saltHex: string): Buffer {
  return createHmac('sha256', Buffer.from(saltHex, 'hex'))
    .update('private-fewshot record fingerprints v1')
    .digest()
    .subarray(0, 16);
}

/** The 32-bit tag of a stored partition `label-hash:<32 hex>`. */
export function partitionTag(partition: string): number {
  return parseInt(partition.slice('label-hash:'.length, 'label-hash:'.length + 8), 16) >>> 0;
}

/** The unkeyed 128-bit mixing hash of every record's key, 16 bytes each (never stored; exported for tests). */
export function unkeyedHashes(records: readonly CanonicalRecord[], portable = !LITTLE_ENDIAN): Buffer {
  const out = Buffer.allocUnsafe(records.length * 16);
  const v = new Uint32Array(out.buffer, out.byteOffset, records.length * 4);
  if (portable) {
    // Any byte order: the same words built one code unit at a time.
    let scratch = new Uint32Array(64);
    for (let r = 0; r < records.length; r++) {
      const s = records[r]!.key;
      const len = s.length;
      if (scratch.length < (len + 1) >> 1) scratch = new Uint32Array(len);
      for (let w = 0; 2 * w < len; w++)
        scratch[w] = (s.charCodeAt(2 * w) | (2 * w + 1 < len ? s.charCodeAt(2 * w + 1) << 16 : 0)) >>> 0;
      mix(v, r, len, scratch, 0);
    }
    return out;
  }
  // Fast path (little-endian hosts): keys written as UTF-16LE into one reused scratch buffer (no joined strings, no
  // buffer per chunk: 1M keys are ~150 MB of code units), each padded to an even number of code units, read 32 bits
  // (two code units) at a time: the same words as above.
  let scratch = Buffer.allocUnsafe(1 << 22);
  let words = new Uint32Array(scratch.buffer, scratch.byteOffset, scratch.length >> 2);
  for (let r = 0; r < records.length;) {
    const first = r;
    let o = 0;
    for (; r < records.length; r++) {
      const s = records[r]!.key;
      const bytes = 2 * (s.length + (s.length & 1));
      if (o + bytes > scratch.length) {
        if (r > first) break;
        scratch = Buffer.allocUnsafe(bytes);
        words = new Uint32Array(scratch.buffer, scratch.byteOffset, scratch.length >> 2);
      }
      o += scratch.write(s, o, 'utf16le');
      if (s.length & 1) {
        scratch.writeUInt16LE(0, o);
        o += 2;
      }
    }
    let w = 0;
    for (let k = first; k < r; k++) {
      const len = records[k]!.key.length;
      mix(v, k, len, words, w);
      w += (len + 1) >> 1;
    }
  }
  return out;
}

/** The mixing rounds (MurmurHash3-x86-128 style) over a key of `len` code units given as 32-bit words `word(w)`. */
function mix(v: Uint32Array, r: number, len: number, words: Uint32Array, base: number): void {
  let h1 = 0x9747b28c ^ len;
  let h2 = 0x85ebca6b;
  let h3 = 0xc2b2ae35;
  let h4 = 0x27d4eb2f;
  const full = len >> 3; // rounds of 8 code units (4 words)
  for (let b = 0; b < full; b++) {
    const w = base + 4 * b;
    let k1 = words[w]!;
    let k2 = words[w + 1]!;
    let k3 = words[w + 2]!;
    let k4 = words[w + 3]!;
    k1 = Math.imul(rotl(Math.imul(k1, 0x239b961b), 15), 0xab0e9789);
    h1 = (Math.imul(rotl(h1 ^ k1, 19) + h2, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, 0xab0e9789), 16), 0x38b34ae5);
    h2 = (Math.imul(rotl(h2 ^ k2, 17) + h3, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, 0x38b34ae5), 17), 0xa1e38b93);
    h3 = (Math.imul(rotl(h3 ^ k3, 15) + h4, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, 0xa1e38b93), 18), 0x239b961b);
    h4 = (Math.imul(rotl(h4 ^ k4, 13) + h1, 5) + 0x32ac3b17) | 0;
  }
  // Tail: the remaining 0–7 code units as up to 4 words (missing units are 0; the length is mixed in below).
  const rest = len - 8 * full;
  if (rest > 0) {
    const w = base + 4 * full;
    h1 ^= Math.imul(rotl(Math.imul(words[w]!, 0x239b961b), 15), 0xab0e9789);
    if (rest > 2) h2 ^= Math.imul(rotl(Math.imul(words[w + 1]!, 0xab0e9789), 16), 0x38b34ae5);
    if (rest > 4) h3 ^= Math.imul(rotl(Math.imul(words[w + 2]!, 0x38b34ae5), 17), 0xa1e38b93);
    if (rest > 6) h4 ^= Math.imul(rotl(Math.imul(words[w + 3]!, 0xa1e38b93), 18), 0x239b961b);
  }
  h1 ^= len;
  h2 ^= len;
  h3 ^= len;
  h4 ^= len;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  v[4 * r] = h1;
  v[4 * r + 1] = h2;
  v[4 * r + 2] = h3;
  v[4 * r + 3] = h4;
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** AES-128-ECB of every 16-byte block under `key`: the keyed step (one native call for all records). */
export function encipher(hashes: Buffer, key: Buffer): Buffer {
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(hashes), c.final()]);
}

/**
 * The record set of `records` under a ledger's salt: keyed fingerprints with label tags, sorted, without repeats.
 * Pass `hashes` (unkeyedHashes(records)) to reuse them for a second key.
 */
export function recordSet(records: readonly CanonicalRecord[], saltHex: string, hashes?: Buffer): RecordSet {
  const enc = encipher(hashes ?? unkeyedHashes(records), ledgerRecordKey(saltHex));
  const tags = new Map<string, number>();
  const tag = new Uint32Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const label = records[i]!.label;
    let t = tags.get(label);
    if (t === undefined) tags.set(label, (t = partitionTag(labelPartition(label, saltHex))));
    tag[i] = t;
  }
  return fromBlocks(enc, tag);
}

/** Builds a sorted, repeat-free set from 16-byte enciphered blocks (first 8 bytes = fingerprint) and tags. */
export function fromBlocks(enc: Buffer, tag: Uint32Array): RecordSet {
  const n = tag.length;
  const view = new DataView(enc.buffer, enc.byteOffset, enc.length);
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    hi[i] = view.getUint32(16 * i, false);
    lo[i] = view.getUint32(16 * i + 4, false);
  }
  const s = sortEntries({ hi, lo, tag: tag.slice() });
  // Sorted by (fingerprint, tag): drop exact repeats (a record given twice), in place.
  let m = 0;
  for (let k = 0; k < n; k++) {
    if (m > 0 && s.hi[k] === s.hi[m - 1] && s.lo[k] === s.lo[m - 1] && s.tag[k] === s.tag[m - 1]) continue;
    s.hi[m] = s.hi[k]!;
    s.lo[m] = s.lo[k]!;
    s.tag[m] = s.tag[k]!;
    m++;
  }
  return { n: m, hi: s.hi.slice(0, m), lo: s.lo.slice(0, m), tag: s.tag.slice(0, m) };
}

/**
 * Sorts entries by (hi, lo, tag). Fingerprints are AES outputs under a secret key, hence uniform: two stable counting
 * passes (8 bits each, so 256 write streams that stay in cache) order them by the top 16 bits of `hi`, leaving
 * ~n/65,536 entries per run of equal top bits; one insertion sort then finishes each run in place. A run holds few
 * distinct fingerprints whatever the data (repeats of a record are equal keys, which insertion sort passes in order),
 * so this is O(n) in practice. The entries move with their keys: no index permutation to chase afterwards.
 */
type Entries = { hi: Uint32Array; lo: Uint32Array; tag: Uint32Array };
function sortEntries(a: Entries): Entries {
  const n = a.hi.length;
  let b: Entries = { hi: new Uint32Array(n), lo: new Uint32Array(n), tag: new Uint32Array(n) };
  const count = new Uint32Array(257);
  for (const shift of [16, 24]) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[((a.hi[i]! >>> shift) & 0xff) + 1]!++;
    for (let d = 0; d < 256; d++) count[d + 1]! += count[d]!;
    for (let i = 0; i < n; i++) {
      const d = count[(a.hi[i]! >>> shift) & 0xff]!++;
      b.hi[d] = a.hi[i]!;
      b.lo[d] = a.lo[i]!;
      b.tag[d] = a.tag[i]!;
    }
    [a, b] = [b, a];
  }
  const { hi, lo, tag } = a;
  for (let k = 1; k < n; k++) {
    const xh = hi[k]!;
    const xl = lo[k]!;
    const xt = tag[k]!;
    let j = k - 1;
    while (j >= 0) {
      const yh = hi[j]!;
      if (yh < xh || (yh === xh && (lo[j]! < xl || (lo[j] === xl && tag[j]! <= xt)))) break;
      hi[j + 1] = yh;
      lo[j + 1] = lo[j]!;
      tag[j + 1] = tag[j]!;
      j--;
    }
    hi[j + 1] = xh;
    lo[j + 1] = xl;
    tag[j + 1] = xt;
  }
  return a;
}

/** Number of distinct fingerprints (records) in a set. */
export function distinctRecords(s: RecordSet): number {
  let d = 0;
  for (let i = 0; i < s.n; i++) if (i === 0 || s.hi[i] !== s.hi[i - 1] || s.lo[i] !== s.lo[i - 1]) d++;
  return d;
}

export function encodeSet(s: RecordSet): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES + s.n * BYTES_PER_ENTRY);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(s.n, 8);
  let o = HEADER_BYTES;
  for (const a of [s.hi, s.lo, s.tag]) {
    if (LITTLE_ENDIAN) {
      buf.set(new Uint8Array(a.buffer, a.byteOffset, s.n * 4), o);
      o += s.n * 4;
    } else for (let i = 0; i < s.n; i++, o += 4) buf.writeUInt32LE(a[i]!, o);
  }
  return buf;
}

export function decodeSet(buf: Buffer, file: string): RecordSet {
  const bad = () =>
    new DataError(
      file,
      undefined,
      'not a record set file (damaged or replaced)',
      'Restore .private-fewshot/ from a backup; the ledger is never reset automatically.',
    );
  if (buf.length < HEADER_BYTES || buf.toString('latin1', 0, 8) !== MAGIC) throw bad();
  const n = buf.readUInt32LE(8);
  if (buf.length !== HEADER_BYTES + n * BYTES_PER_ENTRY) throw bad();
  const words = new Uint32Array(3 * n);
  if (LITTLE_ENDIAN) new Uint8Array(words.buffer).set(buf.subarray(HEADER_BYTES));
  else for (let i = 0; i < 3 * n; i++) words[i] = buf.readUInt32LE(HEADER_BYTES + 4 * i);
  return { n, hi: words.subarray(0, n), lo: words.subarray(n, 2 * n), tag: words.subarray(2 * n) };
}

/** Content-addressed storage of record sets in `<ledger dir>/records/`. Files are immutable once written. */
export class RecordStore {
  readonly dir: string;
  private readonly cache = new Map<string, RecordSet>();

  constructor(ledgerDir: string) {
    this.dir = path.join(ledgerDir, RECORDS_DIR);
  }

  fileOf(sha256: string): string {
    return path.join(this.dir, `${sha256}.bin`);
  }

  /** Writes the set (temp file, fsync, rename) unless a file of that content exists; returns its SHA-256. */
  write(s: RecordSet): string {
    const bytes = encodeSet(s);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const file = this.fileOf(sha);
    this.cache.set(sha, s);
    if (existsSync(file)) return sha;
    mkdirSync(this.dir, { recursive: true });
    writeFileAtomic(file, bytes, { mode: 0o600 });
    return sha;
  }

  /** SHA-256 of a set's file content, without writing it. */
  static shaOf(s: RecordSet): string {
    return createHash('sha256').update(encodeSet(s)).digest('hex');
  }

  /** Reads and verifies a set named by a ledger line. A missing or altered file is a DataError (never ignored). */
  read(sha256: string, line: number, ledgerFile: string): RecordSet {
    const hit = this.cache.get(sha256);
    if (hit) return hit;
    const file = this.fileOf(sha256);
    const hint =
      'Record sets are part of the ledger; it is never reset automatically. Restore .private-fewshot/records/ from a backup or version control.';
    if (!existsSync(file))
      throw new DataError(ledgerFile, line, `the record set ${path.basename(file)} it names is missing`, hint);
    const buf = readFileSync(file);
    if (createHash('sha256').update(buf).digest('hex') !== sha256)
      throw new DataError(ledgerFile, line, `the record set ${path.basename(file)} it names was altered`, hint);
    const s = decodeSet(buf, file);
    this.cache.set(sha256, s);
    return s;
  }
}

/** One class of the current dataset's records: same label tags and the same memberships in stored sets. */
export interface RecordClass {
  /** Distinct records (fingerprints) in the class. */
  records: number;
  /** Label tags of these records in the current dataset. */
  tags: number[];
  /** For each stored set (index into the `sets` argument) containing them, their label tags there. */
  in: { set: number; tags: number[] }[];
}

/**
 * Groups the current set's records by (label tags, membership in each stored set with its tags), by partition
 * refinement over sorted merges: O(current + Σ stored + memberships), never records × runs. Also counts, per stored
 * set, the current records it contains.
 */
export function classify(current: RecordSet, sets: readonly RecordSet[]): { classes: RecordClass[]; shared: number[] } {
  // Distinct fingerprints of the current set: group g spans entries [start[g], start[g + 1]).
  const start: number[] = [];
  for (let i = 0; i < current.n; i++)
    if (i === 0 || current.hi[i] !== current.hi[i - 1] || current.lo[i] !== current.lo[i - 1]) start.push(i);
  const groups = start.length;
  start.push(current.n);
  // Class ids are interned by (parent class, set, tags), per set. Almost every record has one tag: that path allocates
  // nothing (~10^6 calls) and looks up small integers; several tags use a string key.
  const table: { parent: number; set: number; tags: number[] }[] = [];
  // `one` is the tag when there is exactly one, else `tags()` gives them.
  const intern = (
    maps: { num: Map<number, Map<number, number>>; str: Map<string, number> },
    parent: number,
    set: number,
    one: number | undefined,
    tags: () => number[],
  ) => {
    if (one !== undefined) {
      // Two small-integer lookups (parent, then the tag's low 30 bits, which stay small integers in V8's maps) beat
      // one lookup keyed by a 52-bit number, which the map hashes as a double.
      let byTag = maps.num.get(parent);
      if (byTag === undefined) maps.num.set(parent, (byTag = new Map()));
      const low = one & 0x3fffffff;
      let hit = byTag.get(low);
      if (hit !== undefined && table[hit]!.tags[0] !== one) hit = undefined; // same low bits, other tag: rare
      if (hit !== undefined) return hit;
      const key = `${parent}|${one}`;
      let k = maps.str.get(key);
      if (k === undefined) {
        k = table.length;
        maps.str.set(key, k);
        table.push({ parent, set, tags: [one] });
      }
      if (!byTag.has(low)) byTag.set(low, k);
      return k;
    }
    const list = one !== undefined ? [one] : tags();
    const key = `${parent}|${list.join(',')}`;
    let k = maps.str.get(key);
    if (k === undefined) {
      k = table.length;
      maps.str.set(key, k);
      table.push({ parent, set, tags: list });
    }
    return k;
  };
  const cls = new Int32Array(groups);
  const roots = { num: new Map<number, Map<number, number>>(), str: new Map<string, number>() };
  for (let g = 0; g < groups; g++) {
    const a = start[g]!;
    const b = start[g + 1]!;
    cls[g] = intern(roots, 0, -1, b - a === 1 ? current.tag[a]! : undefined, () =>
      Array.from(current.tag.subarray(a, b)),
    );
  }
  for (const e of table) e.parent = -1;
  const shared = sets.map(() => 0);
  sets.forEach((s, j) => {
    const maps = { num: new Map<number, Map<number, number>>(), str: new Map<string, number>() };
    let g = 0;
    let i = 0;
    while (g < groups && i < s.n) {
      const a = start[g]!;
      const c = cmp(current.hi[a]!, current.lo[a]!, s.hi[i]!, s.lo[i]!);
      if (c < 0) g++;
      else if (c > 0) i++;
      else {
        const h = s.hi[i]!;
        const l = s.lo[i]!;
        const from = i;
        while (i < s.n && s.hi[i] === h && s.lo[i] === l) i++;
        const to = i;
        cls[g] = intern(maps, cls[g]!, j, to - from === 1 ? s.tag[from]! : undefined, () =>
          Array.from(s.tag.subarray(from, to)),
        );
        shared[j]!++;
        g++;
      }
    }
  });
  const counts = new Map<number, number>();
  for (let g = 0; g < groups; g++) counts.set(cls[g]!, (counts.get(cls[g]!) ?? 0) + 1);
  const classes: RecordClass[] = [];
  for (const [k, records] of counts) {
    const memberships: { set: number; tags: number[] }[] = [];
    let e = table[k]!;
    while (e.parent >= 0) {
      memberships.push({ set: e.set, tags: e.tags });
      e = table[e.parent]!;
    }
    classes.push({ records, tags: e.tags, in: memberships.reverse() });
  }
  return { classes, shared };
}

function cmp(h1: number, l1: number, h2: number, l2: number): number {
  return h1 !== h2 ? h1 - h2 : l1 - l2;
}
