/**
 * The built-in embedder: hashed bag of word unigrams, word bigrams and character 3–5-grams in a fixed dimension.
 *
 * - Text is NFKC-normalised and lower-cased; words are runs of letters, marks and digits (apostrophes inside kept).
 * - Each feature's weight is sublinear in its count, 1 + ln(tf) (Manning, Raghavan & Schütze, "Introduction to
 *   Information Retrieval", 2008, §6.4.1). Word unigrams are also weighted by an IDF fitted on the public background
 *   corpus only, ln((1 + N)/(1 + df)) + 1 (scikit-learn TfidfTransformer, smooth_idf=True), so function words count
 *   less. Nothing private is fitted: the embedder is a fixed function of the text.
 * - Features go to a bucket by a 32-bit hash and get a sign from a second hash (the "hashing trick" with signed
 *   hashing: Weinberger et al., ICML 2009, "Feature Hashing for Large Scale Multitask Learning", eq. 1–2), which keeps
 *   inner products unbiased under collisions.
 * - The three feature groups are L2-normalised separately, summed with weights (unigrams 1, bigrams 0.5,
 *   character n-grams 1) and the sum is L2-normalised. An empty text maps to a fixed unit vector.
 */
import { corpusIdf, type IdfTable } from './corpus';

export const DEFAULT_EMBED_DIMENSION = 512;

const WORD_RE = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*/gu;
const GROUP_WEIGHTS = { word: 1, bigram: 0.5, char: 1 } as const;

/** FNV-1a over UTF-16 code units, then the murmur3 finaliser for avalanche. */
function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function words(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().match(WORD_RE) ?? [];
}

let idfTable: IdfTable | undefined;

function idf(): IdfTable {
  return (idfTable ??= corpusIdf(words));
}

function addGroup(
  out: Float64Array,
  counts: Map<string, number>,
  weightOf: (f: string) => number,
  groupWeight: number,
  seed: number,
): void {
  const dim = out.length;
  const v = new Float64Array(dim);
  for (const [f, tf] of counts) {
    const h = hash32(f, seed);
    const sign = hash32(f, seed ^ 0x5bd1e995) & 1 ? 1 : -1;
    // sublinear tf: 1 + ln(tf)
    v[h % dim]! += sign * (1 + Math.log(tf)) * weightOf(f);
  }
  let norm = 0;
  for (let i = 0; i < dim; i++) norm += v[i]! * v[i]!;
  if (norm === 0) return;
  const scale = groupWeight / Math.sqrt(norm);
  for (let i = 0; i < dim; i++) out[i]! += v[i]! * scale;
}

function count(map: Map<string, number>, f: string): void {
  map.set(f, (map.get(f) ?? 0) + 1);
}

/** The embedding of one text: a unit-norm Float32Array of length `dimension`. */
export function embedText(text: string, dimension = DEFAULT_EMBED_DIMENSION): Float32Array {
  if (!Number.isInteger(dimension) || dimension < 8)
    throw new RangeError(`embedding dimension must be an integer ≥ 8, got ${dimension}`);
  const ws = words(text);
  const acc = new Float64Array(dimension);
  const unigrams = new Map<string, number>();
  const bigrams = new Map<string, number>();
  const chars = new Map<string, number>();
  for (let i = 0; i < ws.length; i++) {
    count(unigrams, ws[i]!);
    if (i > 0) count(bigrams, `${ws[i - 1]!} ${ws[i]!}`);
  }
  const joined = ` ${ws.join(' ')} `;
  const cps = Array.from(joined);
  for (let n = 3; n <= 5; n++) for (let i = 0; i + n <= cps.length; i++) count(chars, cps.slice(i, i + n).join(''));
  const { idf: table, unknown } = idf();
  addGroup(acc, unigrams, (w) => table.get(w) ?? unknown, GROUP_WEIGHTS.word, 1);
  addGroup(acc, bigrams, () => 1, GROUP_WEIGHTS.bigram, 2);
  if (ws.length > 0) addGroup(acc, chars, () => 1, GROUP_WEIGHTS.char, 3);
  let norm = 0;
  for (let i = 0; i < dimension; i++) norm += acc[i]! * acc[i]!;
  if (norm === 0) {
    // No words (empty or punctuation-only text): a fixed unit vector, the same for all such texts.
    acc[hash32('<empty>', 4) % dimension] = 1;
    norm = 1;
  }
  const out = new Float32Array(dimension);
  const inv = 1 / Math.sqrt(norm);
  for (let i = 0; i < dimension; i++) out[i] = acc[i]! * inv;
  return out;
}
