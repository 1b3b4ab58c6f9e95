/**
 * The built-in model's tokenizer: GPT-style token strings, cut by one regular expression.
 *
 * Token classes (first match wins, scanning left to right with no gaps):
 * - NEWLINE: one "\n" or "\r" character.
 * - WORD: a run of letters, combining marks and digits, with at most one leading space (" card", "I", " 42").
 * - PUNCT: one other visible character, with at most one leading space ("?", ` "`, " _", "'").
 * - SPACE: a run of spaces or tabs. When a run is followed by a word or punctuation its last space is left to that
 *   token, as in GPT-2 ("a   b" is "a", "  ", " b").
 *
 * Properties the model relies on (tested):
 * - Concatenating the tokens of a text gives the text back exactly.
 * - A token's text tokenizes to that single token.
 * - Appending a token `t` to a text whose last token is `a` keeps every earlier token and adds exactly `t`
 *   whenever `canFollow(a, t)` holds; the model only emits such tokens, so tokenize(prompt + continuation) is the
 *   prompt's tokens followed by the emitted tokens, step after step.
 *
 * The end-of-text token is a special token: no text tokenizes to it.
 */

export const END_OF_TEXT = '<|endoftext|>';

const TOKEN_RE = /[\n\r]| ?[\p{L}\p{M}\p{N}]+| ?[^\s\p{L}\p{M}\p{N}]|[^\S\n\r]+(?=[^\S\n\r]|[\n\r]|$)|[^\S\n\r]+/uy;
const ALNUM_START = /^[\p{L}\p{M}\p{N}]/u;
const ALNUM_END = /[\p{L}\p{M}\p{N}]$/u;

export type TokenClass = 'newline' | 'word' | 'punct' | 'space' | 'special';

/** Splits `text` into tokens; their concatenation is `text`. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  const re = new RegExp(TOKEN_RE.source, TOKEN_RE.flags);
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    // Every character belongs to one of the classes, so a match always exists; guard against an empty one anyway.
    if (!m || m[0].length === 0) throw new Error(`tokenizer made no progress at offset ${pos}`);
    out.push(m[0]);
    pos += m[0].length;
  }
  return out;
}

export function tokenClass(token: string): TokenClass {
  if (token === END_OF_TEXT) return 'special';
  if (token === '\n' || token === '\r') return 'newline';
  if (/^[^\S\n\r]+$/u.test(token)) return 'space';
  if (/^ ?[\p{L}\p{M}\p{N}]/u.test(token)) return 'word';
  return 'punct';
}

/** True when the token begins with a letter, mark or digit (a word piece without a leading space). */
export function startsAlnum(token: string): boolean {
  return ALNUM_START.test(token);
}

/**
 * Whether `next` may follow a text whose last token is `prev` without the two merging when the text is tokenized
 * again. After a newline or a punctuation token anything may follow; after a word, anything that does not begin with
 * a letter or digit; after a run of spaces the answer is computed by tokenizing the pair (rare).
 */
export function canFollow(prev: string | undefined, next: string): boolean {
  if (prev === undefined || next === END_OF_TEXT || prev === END_OF_TEXT) return true;
  switch (tokenClass(prev)) {
    case 'newline':
    case 'punct':
    case 'special':
      return true;
    case 'word':
      return !(ALNUM_END.test(prev) && startsAlnum(next));
    case 'space': {
      const t = tokenize(prev + next);
      return t.length === 2 && t[0] === prev && t[1] === next;
    }
  }
}
