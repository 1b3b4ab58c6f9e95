/**
 * The topic of a prompt, for the topic component of the built-in model (model.ts): which words the prompt is about,
 * read from its field values only — the text after "Key:" on a line ("Label: card_arrival", "Text: Where is my
 * card?", "Example: …"). Instructions and field names ("Given a label, write …", "Label", "Text") are not topic
 * words. A zero-shot DP few-shot prompt's topic is thus its label name; a private prompt's is the label name and its
 * examples.
 *
 * - Words are the tokenizer's word tokens, without the leading space, split at camelCase boundaries
 *   ("cardArrival" → card, arrival; "PINBlocked" → pin, blocked) and at "_" and "-" (which the tokenizer already
 *   separates), lower-cased. One-character words are dropped.
 * - A word's weight is (1 + ln tf) · idf, with tf its count in the field values and idf = ln((1 + N)/(1 + df)) + 1
 *   over the N sentences of the public background corpus (sublinear tf and smoothed idf: Manning, Raghavan &
 *   Schütze, "Introduction to Information Retrieval", 2008, §6.4.1 and §6.2.1; the same form as embed.ts), so a
 *   label's content words outweigh its function words ("top_up_by_card_charge": card and charge more than by).
 * - Related word forms share a stem (see `stem`): a topic word also lends weight to the vocabulary's words with its
 *   stem ("arrival" → arrived, arrive), at half the weight of the word itself.
 *
 * Everything here is a fixed function of the prompt string and the public corpus: no state is shared between
 * prompts, so a public prompt's topic never depends on a private prompt.
 */
import { corpusIdf, type IdfTable } from './corpus';
import { tokenClass, tokenize } from './tokenizer';

/** A field line: a short key that starts with a letter, a colon, and the value. */
const FIELD_RE = /^[^\S\r\n]*\p{L}[\p{L}\p{M}\p{N} _-]{0,39}:(.*)$/u;
/** camelCase pieces: an upper-case run not followed by a lower-case letter, an optionally capitalised lower-case run,
 * digits, other letters. */
const CAMEL_RE = /\p{Lu}+(?!\p{Ll})|\p{Lu}?\p{Ll}+|\p{N}+|[\p{L}\p{M}]+/gu;

/** The lower-cased words of a text (word tokens, camelCase split), one-character words dropped. */
export function topicWords(text: string): string[] {
  const out: string[] = [];
  for (const t of tokenize(text)) {
    if (tokenClass(t) !== 'word') continue;
    for (const piece of t.trimStart().match(CAMEL_RE) ?? []) {
      const w = piece.toLowerCase();
      if (w.length > 1) out.push(w);
    }
  }
  return out;
}

/** The values of the prompt's field lines ("Key: value"), in order; empty values are skipped. */
export function fieldValues(prompt: string): string[] {
  const out: string[] = [];
  for (const line of prompt.split(/\r\n|\r|\n/)) {
    const m = FIELD_RE.exec(line);
    if (m && m[1]!.trim() !== '') out.push(m[1]!);
  }
  return out;
}

const SUFFIXES = [
  'ations',
  'ation',
  'ments',
  'ment',
  'ings',
  'ing',
  'ness',
  'ers',
  'er',
  'ed',
  'es',
  'als',
  'al',
  'ly',
  's',
  'e',
];

/**
 * A light suffix stripper for English word forms (in the spirit of Porter 1980, "An algorithm for suffix stripping",
 * step 1, but not that algorithm): the longest listed suffix that leaves at least 3 letters is removed, then a final
 * doubled consonant is undoubled ("arrival", "arrived", "arrives" → arriv; "cards" → card; "stopped" → stop).
 */
export function stem(word: string): string {
  let s = word;
  for (const suf of SUFFIXES) {
    if (s.length - suf.length >= 3 && s.endsWith(suf)) {
      s = s.slice(0, -suf.length);
      break;
    }
  }
  const n = s.length;
  if (n >= 4 && s[n - 1] === s[n - 2] && !/[aeiouls]/.test(s[n - 1]!)) s = s.slice(0, -1);
  return s;
}

/** Stems shorter than this relate no other word forms ("rate" and "rats" are not one word). */
export const MIN_RELATED_STEM = 4;

let idfTable: IdfTable | undefined;

/** Smoothed idf of a lower-cased word over the background corpus's sentences (see the module comment). */
export function idf(word: string): number {
  idfTable ??= corpusIdf(topicWords);
  return idfTable.idf.get(word) ?? idfTable.unknown;
}

/** The prompt's topic words with their weights (unnormalised), in first-seen order. Empty when it has no field values.
 * */
export function promptTopic(prompt: string): Map<string, number> {
  const tf = new Map<string, number>();
  for (const v of fieldValues(prompt)) for (const w of topicWords(v)) tf.set(w, (tf.get(w) ?? 0) + 1);
  const out = new Map<string, number>();
  for (const [w, c] of tf) out.set(w, (1 + Math.log(c)) * idf(w));
  return out;
}
