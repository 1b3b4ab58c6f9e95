/**
 * The built-in offline language model: an interpolated modified Kneser–Ney n-gram model (kneser-ney.ts) over the
 * merged counts of two corpora,
 *
 *   c(h, w) = c_background(h_segment, w) + β_h · c_prompt(h, w)      at every order,
 *
 * where the background is the small public corpus in corpus.ts and the prompt is the request's own text (its
 * instruction and in-context examples). The prompt is weighted strongly: β_h is 10 (so its counts are discounted
 * lightly), raised where needed so that at a context both corpora have seen the prompt holds at least 80% of c(h)
 * (not at the unigram level, which would otherwise swamp every context the prompt has not seen). Where the prompt
 * has seen the context its continuations dominate, so examples of one label pull the next token toward their words;
 * where it has not, the background predicts. The background counts are looked up with the current segment only (the
 * text after the last newline, opening quote or colon, BOS-padded, first word without its leading space; right after
 * a colon the sentence-start statistics predict spaced words, " The" rather than "The"), because they were counted
 * on standalone sentences; the prompt counts with the full text. The discounts are the background's
 * modified KN estimates, halved (see DISCOUNT_SCALE).
 *
 * The vocabulary V is the background's tokens, the prompt's tokens and the end-of-text token. The recursion's base
 * distribution is (1 − ε) · unigram_background + ε/|V| (ε = 0.02) rather than the textbook uniform, which keeps the
 * smoothing mass on common tokens instead of rare words: with a corpus this small that matters. The distribution is
 * then restricted to tokens that keep the text's tokenization stable (tokenizer.canFollow) and renormalised.
 *
 * Partial last token (token healing): when the text ends in a word or a run of spaces that is not itself a token of
 * the vocabulary but begins one or more of them (" ca" → " card", " call"; "my " → " my" + " card"), the model backs
 * up one token and predicts only the tokens that extend it; it returns the remainders ("rd", "ll"; "card"), so that
 * text + returned token is the text the model means. A word the vocabulary knows is taken as complete (" car" is
 * followed by " park", never by "d").
 *
 * Topic component: the n-gram model knows a word only from its contexts, so a label name in the prompt
 * ("Label: card_arrival") does not make " card" likely after " my", and a DP few-shot run, whose candidates are the
 * zero-shot prompt's top-K, could never write it. The model therefore mixes in the prompt's topic (topic.ts: the words
 * of its field values, label names split at _, - and camelCase, weighted by idf, plus their inflected forms in the
 * vocabulary): P = (1 − λ) · P_KN + λ · P_topic, λ = 0.1 (TOPIC_WEIGHT), applied before the restriction to tokens
 * that may follow. A prompt without field values has no topic and is predicted by the n-gram model alone. Topic words
 * new to the vocabulary (" arrival") join it.
 *
 * Everything is deterministic: no randomness here, ties are broken by token string.
 */
import { BACKGROUND_CORPUS } from './corpus';
import { MergedKneserNey, NgramCounts, type ContextStats, type Discounts, type Source } from './kneser-ney';
import { END_OF_TEXT, canFollow, startsAlnum, tokenClass, tokenize } from './tokenizer';
import { MIN_RELATED_STEM, promptTopic, stem } from './topic';

/** v2: the topic component (v1 was the n-gram model alone). */
export const BUILTIN_MODEL_ID = 'builtin-ngram-v2';

export interface ModelOptions {
  /** n-gram order (2–6). Default 4. */
  order?: number;
  /** β, the weight of the prompt's counts against the background's (≥ 0). Default 10. */
  promptWeight?: number;
  /**
   * The least share of the merged count the prompt holds at a context (of length ≥ 1) that both corpora have seen
   * (0–1, exclusive of 1). Default 0.8.
   */
  promptShare?: number;
  /** How many prompts keep their fitted counts in memory. Default 64. */
  cacheSize?: number;
  /**
   * λ, the weight of the topic component (0–1, exclusive of 1): P = (1 − λ) P_KN + λ P_topic wherever the prompt has
   * field values (topic.ts). 0 turns it off. Default TOPIC_WEIGHT.
   */
  topicWeight?: number;
}

/**
 * Default λ of the topic component. Chosen by measurement (bench/builtin, label fidelity of DP few-shot
 * demonstrations on the Banking77 sample), not by perplexity.
 */
export const TOPIC_WEIGHT = 0.1;

/** The weight of a related word form ("arrived" for the topic word "arrival") against the topic word itself. */
const RELATED_FORM_WEIGHT = 0.5;

/** The background model and its vocabulary, built once per order and shared by every prompt. */
interface Background {
  tokens: string[];
  index: Map<string, number>;
  counts: NgramCounts;
  /** Sentence-start statistics (context lengths 1..order−1) with spaced first words, for segments after a colon. */
  afterColon: ContextStats[];
  /** The smoothing model, with discounts estimated on the background counts. */
  model: MergedKneserNey;
  /** 1 where the token starts with a letter or digit. */
  alnumStart: Uint8Array;
  /** Token counts of the corpus (end-of-text included), and their sum. */
  unigram: Map<number, number>;
  tokenTotal: number;
  /** The ids of the space-led lower-case words (" arrived"), by stem (topic.ts), for the topic's related forms. */
  stems: Map<string, number[]>;
}

const SPACED_LOWER_WORD = /^ [\p{Ll}\p{M}\p{N}]+$/u;

/**
 * The discounts are the modified KN estimates (Chen & Goodman 1998, eq. 26) on the background corpus, times this
 * factor. On a corpus this small the estimates are close to 1 for singletons, which sends nearly all the mass to the
 * unigram level (greedy text from an empty prompt is then "The."); halving them keeps the corpus's own phrases.
 * Chosen by reading generated text, not by perplexity: this model is for trying the tool.
 */
const DISCOUNT_SCALE = 0.5;

/** ε: the share of the base distribution spread uniformly over the vocabulary. */
const BASE_FLOOR = 0.02;

/** The ids of the spaced lower-case word tokens (" arrival") by stem; stems too short to relate are left out. */
function stemIndex(tokens: Iterable<readonly [token: string, id: number]>): Map<string, number[]> {
  const stems = new Map<string, number[]>();
  for (const [t, id] of tokens) {
    if (!SPACED_LOWER_WORD.test(t)) continue;
    const st = stem(t.slice(1));
    if (st.length < MIN_RELATED_STEM) continue;
    const list = stems.get(st);
    if (list) list.push(id);
    else stems.set(st, [id]);
  }
  return stems;
}

const backgrounds = new Map<number, Background>();

function background(order: number): Background {
  let bg = backgrounds.get(order);
  if (!bg) {
    const tokens: string[] = [END_OF_TEXT];
    const index = new Map<string, number>([[END_OF_TEXT, 0]]);
    /** The id of token `t`, added to the vocabulary if new. */
    const idOf = (t: string): number => {
      let id = index.get(t);
      if (id === undefined) {
        id = tokens.length;
        tokens.push(t);
        index.set(t, id);
      }
      return id;
    };
    const seqs = BACKGROUND_CORPUS.map((s) => [...tokenize(s).map(idOf), 0]);
    const counts = NgramCounts.fromSequences(seqs, order);
    // After a colon ("Text:", "Input:") a segment's first word carries a space: the sentence-start statistics with
    // every word given its leading space (those variants join the vocabulary).
    const spaced = (id: number): number => {
      const t = tokens[id]!;
      return startsAlnum(t) ? idOf(` ${t}`) : id;
    };
    const afterColon = counts.startStatsRenamed(spaced);
    const unigram = counts.tokenCounts();
    let tokenTotal = 0;
    for (const c of unigram.values()) tokenTotal += c;
    const alnumStart = Uint8Array.from(tokens, (t) => (startsAlnum(t) ? 1 : 0));
    const stems = stemIndex(tokens.map((t, id) => [t, id] as const));
    bg = {
      tokens,
      index,
      counts,
      afterColon,
      alnumStart,
      model: new MergedKneserNey(
        order,
        counts.discounts().map((d) => d.map((x) => x * DISCOUNT_SCALE) as unknown as Discounts),
      ),
      unigram,
      tokenTotal,
      stems,
    };
    backgrounds.set(order, bg);
  }
  return bg;
}

/** What the model knows about one prompt: its vocabulary and its fitted n-gram model. */
export class PromptState {
  /** Every token the model predicts over: background tokens first (same ids), then the prompt's new tokens. */
  readonly tokens: string[];
  readonly promptCounts: NgramCounts;
  /** The base distribution over `tokens`, and its value for a token outside them. */
  readonly base: Float64Array;
  readonly baseUnseen: number;
  /** The unigram level of the recursion (it does not depend on the context), and its value for an unseen token. */
  readonly level0: Float64Array;
  readonly level0Unseen: number;
  /** 1 where the token starts with a letter or digit (cannot follow a word). */
  readonly alnumStart: Uint8Array;
  /** The topic distribution P_topic over token ids (sums to 1), empty when the prompt has no topic. */
  readonly topic: Map<number, number>;
  /** λ for this prompt: the model's topic weight, or 0 when the topic is empty. */
  readonly topicWeight: number;
  private readonly extra = new Map<string, number>();
  private fillMask: Uint8Array | undefined;
  private readonly followMasks = new Map<string, Uint8Array>();

  /** 1 for the tokens that may follow `prev` (canFollow), cached per token: used after runs of spaces (rare, slow). */
  followMask(prev: string): Uint8Array {
    let m = this.followMasks.get(prev);
    if (!m) {
      m = Uint8Array.from(this.tokens, (t) => (canFollow(prev, t) ? 1 : 0));
      this.followMasks.set(prev, m);
    }
    return m;
  }

  /** 1 for tokens a blank may not be filled with: end-of-text, newlines, runs of spaces, and blanks themselves. */
  notFillable(): Uint8Array {
    this.fillMask ??= Uint8Array.from(this.tokens, (t) => {
      const cls = tokenClass(t);
      return cls === 'special' || cls === 'newline' || cls === 'space' || t.includes('_') ? 1 : 0;
    });
    return this.fillMask;
  }

  constructor(
    readonly bg: Background,
    prompt: string,
    readonly order: number,
    readonly promptWeight: number,
    readonly promptShare: number,
    topicWeight: number,
  ) {
    this.tokens = bg.tokens.slice();
    const ids = tokenize(prompt).map((t) => this.intern(t));
    this.promptCounts = NgramCounts.fromSequences([ids], order);
    this.topic = topicWeight > 0 ? this.fitTopic(prompt) : new Map();
    this.topicWeight = this.topic.size > 0 ? topicWeight : 0;
    this.alnumStart = new Uint8Array(this.tokens.length);
    this.alnumStart.set(bg.alnumStart);
    for (let i = bg.tokens.length; i < this.tokens.length; i++)
      this.alnumStart[i] = startsAlnum(this.tokens[i]!) ? 1 : 0;
    const n = this.tokens.length;
    this.baseUnseen = BASE_FLOOR / n;
    this.base = new Float64Array(n).fill(this.baseUnseen);
    for (const [w, c] of bg.unigram) this.base[w]! += ((1 - BASE_FLOOR) * c) / bg.tokenTotal;
    this.level0 = Float64Array.from(this.base);
    this.level0Unseen = bg.model.apply(this.sources([], 0), this.level0, this.baseUnseen, 0, 0);
  }

  /**
   * The two corpora for a context: the prompt on the whole text; the background on the current segment only, read
   * as a standalone text (BOS-padded, and a leading space on its first word dropped: " The" after "Input:" is looked
   * up as "The", the way the background's sentences begin).
   */
  sources(ids: readonly number[], segmentStart: number): Source[] {
    const from = Math.max(0, segmentStart, ids.length - (this.order - 1));
    let bgHistory = ids.slice(from);
    if (segmentStart >= 0 && segmentStart === from && bgHistory.length > 0) {
      const first = this.tokens[bgHistory[0]!];
      const bare = first !== undefined && first.startsWith(' ') ? this.id(first.slice(1)) : undefined;
      if (bare !== undefined) bgHistory = [bare, ...bgHistory.slice(1)];
    }
    // Nothing of a segment that began at a colon yet: predict its first word with a leading space.
    const colonStart = bgHistory.length === 0 && segmentStart >= 1 && this.tokens[ids[segmentStart - 1]!] === ':';
    const afterColon = this.bg.afterColon;
    return [
      {
        counts: this.bg.counts,
        history: bgHistory,
        weight: 1,
        ...(colonStart ? { override: (k: number) => (k > 0 ? afterColon[k - 1] : undefined) } : {}),
      },
      { counts: this.promptCounts, history: ids, weight: this.promptWeight, minShare: this.promptShare },
    ];
  }

  /**
   * P_topic: each topic word's weight goes to its space-led form (" card", added to the vocabulary if new) and, at
   * RELATED_FORM_WEIGHT, to every space-led vocabulary word with the same stem; normalised to sum to 1.
   */
  private fitTopic(prompt: string): Map<number, number> {
    const words = promptTopic(prompt);
    const mass = new Map<number, number>();
    const add = (id: number, w: number) => mass.set(id, (mass.get(id) ?? 0) + w);
    const exact = [...words].map(([w, weight]) => ({ w, weight, id: this.intern(` ${w}`) }));
    // Related forms among this prompt's own new words, by stem (the background's are indexed once).
    const extraStems = stemIndex(this.extra);
    for (const { w, weight, id } of exact) {
      add(id, weight);
      const st = stem(w);
      if (st.length < MIN_RELATED_STEM) continue;
      for (const related of [this.bg.stems.get(st), extraStems.get(st)])
        for (const r of related ?? []) if (r !== id) add(r, RELATED_FORM_WEIGHT * weight);
    }
    let total = 0;
    for (const v of mass.values()) total += v;
    if (!(total > 0)) return new Map();
    for (const [id, v] of mass) mass.set(id, v / total);
    return mass;
  }

  private intern(t: string): number {
    const known = this.id(t);
    if (known !== undefined) return known;
    const id = this.tokens.length;
    this.tokens.push(t);
    this.extra.set(t, id);
    return id;
  }

  /** The id of a vocabulary token, or undefined when the model has never seen it. */
  id(t: string): number | undefined {
    return this.bg.index.get(t) ?? this.extra.get(t);
  }
}

/**
 * The end of a text as the model sees it: the ids of its last order−1 tokens (−2 for tokens outside the vocabulary;
 * nothing earlier matters to an n-gram model) and its last token string.
 */
export interface Context {
  ids: number[];
  /** The last token's string (undefined for an empty text). */
  last: string | undefined;
  /**
   * Index in `ids` of the first token of the current segment (the text after the last newline, opening quote or
   * colon), for the background counts; negative when the segment began before the kept ids.
   */
  segmentStart: number;
}

const UNKNOWN = -2;

function isSegmentBoundary(token: string, prev: string | undefined): boolean {
  if (token === '\n' || token === '\r' || token === ' "' || token === ':') return true;
  return token === '"' && (prev === undefined || prev === '\n' || prev === '\r');
}

function trim(ctx: Context, keep: number): Context {
  const drop = ctx.ids.length - keep;
  if (drop <= 0) return ctx;
  return { ids: ctx.ids.slice(drop), last: ctx.last, segmentStart: ctx.segmentStart - drop };
}

export function contextOf(state: PromptState, tokens: readonly string[]): Context {
  const keep = state.order - 1;
  const from = Math.max(0, tokens.length - keep);
  let segmentStart = 0;
  for (let i = 0; i < tokens.length; i++) if (isSegmentBoundary(tokens[i]!, tokens[i - 1])) segmentStart = i + 1;
  const ids = tokens.slice(from).map((t) => state.id(t) ?? UNKNOWN);
  return { ids, last: tokens[tokens.length - 1], segmentStart: segmentStart - from };
}

/** Appends one token to a context (the token must satisfy canFollow with the last one). */
export function extendContext(state: PromptState, ctx: Context, token: string): Context {
  const ids = ctx.ids.concat(state.id(token) ?? UNKNOWN);
  const segmentStart = isSegmentBoundary(token, ctx.last) ? ids.length : ctx.segmentStart;
  return trim({ ids, last: token, segmentStart }, state.order - 1);
}

export interface Distribution {
  /** Probabilities over state.tokens (sums to 1 over the tokens allowed after the context). */
  probs: Float64Array;
  /** The raw mixture probability of a token the model has never seen (before the renormalisation). */
  unseen: number;
  /** The sum the raw mixture had over the allowed tokens (probs = raw / mass). */
  mass: number;
}

export class NgramLanguageModel {
  readonly order: number;
  readonly promptWeight: number;
  readonly promptShare: number;
  readonly topicWeight: number;
  private readonly cacheSize: number;
  private readonly cache = new Map<string, PromptState>();

  constructor(options: ModelOptions = {}) {
    this.order = options.order ?? 4;
    this.promptWeight = options.promptWeight ?? 10;
    this.promptShare = options.promptShare ?? 0.8;
    this.cacheSize = options.cacheSize ?? 64;
    this.topicWeight = options.topicWeight ?? TOPIC_WEIGHT;
    if (!Number.isInteger(this.order) || this.order < 2 || this.order > 6)
      throw new RangeError(`order must be an integer in 2..6, got ${this.order}`);
    if (!(this.promptWeight >= 0 && Number.isFinite(this.promptWeight)))
      throw new RangeError(`promptWeight must be a finite number ≥ 0, got ${this.promptWeight}`);
    if (!(this.promptShare >= 0 && this.promptShare < 1))
      throw new RangeError(`promptShare must be in [0, 1), got ${this.promptShare}`);
    if (!(this.topicWeight >= 0 && this.topicWeight < 1))
      throw new RangeError(`topicWeight must be in [0, 1), got ${this.topicWeight}`);
    if (!Number.isInteger(this.cacheSize) || this.cacheSize < 1)
      throw new RangeError(`cacheSize must be a positive integer, got ${this.cacheSize}`);
  }

  /** The fitted state for a prompt, from an LRU cache keyed by the prompt string. */
  state(prompt: string): PromptState {
    const hit = this.cache.get(prompt);
    if (hit) {
      this.cache.delete(prompt);
      this.cache.set(prompt, hit);
      return hit;
    }
    const st = new PromptState(
      background(this.order),
      prompt,
      this.order,
      this.promptWeight,
      this.promptShare,
      this.topicWeight,
    );
    this.cache.set(prompt, st);
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return st;
  }

  /**
   * The model's distribution over state.tokens (sums to 1 over the whole vocabulary), and the probability of a token
   * outside the vocabulary.
   */
  rawDistribution(state: PromptState, ctx: Context): { probs: Float64Array; unseen: number } {
    const probs = Float64Array.from(state.level0);
    const unseen = state.bg.model.apply(
      state.sources(ctx.ids, ctx.segmentStart),
      probs,
      state.level0Unseen,
      1,
      this.order - 1,
    );
    const lambda = state.topicWeight;
    if (lambda === 0) return { probs, unseen };
    // Linear interpolation with the topic, as a cache model is mixed in (Kuhn & De Mori 1990, "A cache-based natural
    // language model for speech recognition", IEEE PAMI 12(6)): P_KN and P_topic each sum to 1 over the vocabulary,
    // so the mixture does too; a token outside the vocabulary keeps (1 − λ) of its P_KN.
    for (let i = 0; i < probs.length; i++) probs[i]! *= 1 - lambda;
    for (const [id, p] of state.topic) probs[id]! += lambda * p;
    return { probs, unseen: (1 - lambda) * unseen };
  }

  /** The probability of one token (the pointwise form of rawDistribution; undefined id = outside the vocabulary). */
  rawProb(state: PromptState, ctx: Context, id: number | undefined): number {
    // Start from the cached unigram level (the context-free part of the recursion).
    const level0 = id === undefined ? state.level0Unseen : state.level0[id]!;
    const p = state.bg.model.prob(state.sources(ctx.ids, ctx.segmentStart), id ?? UNKNOWN, level0, 1);
    const lambda = state.topicWeight;
    if (lambda === 0) return p;
    return (1 - lambda) * p + lambda * (id === undefined ? 0 : (state.topic.get(id) ?? 0));
  }

  /** The next-token distribution after `ctx`, restricted to tokens that may follow its last token. */
  distribution(state: PromptState, ctx: Context): Distribution {
    const { probs, unseen } = this.rawDistribution(state, ctx);
    this.restrict(state, ctx.last, probs);
    let mass = 0;
    for (let i = 0; i < probs.length; i++) mass += probs[i]!;
    for (let i = 0; i < probs.length; i++) probs[i] = probs[i]! / mass;
    return { probs, unseen, mass };
  }

  /** Zeroes the tokens that would merge with `last` when the text is tokenized again. */
  restrict(state: PromptState, last: string | undefined, probs: Float64Array): void {
    if (last === undefined) return;
    const cls = tokenClass(last);
    if (cls === 'word') {
      for (let i = 0; i < probs.length; i++) if (state.alnumStart[i]) probs[i] = 0;
    } else if (cls === 'space') {
      const mask = state.followMask(last);
      for (let i = 0; i < probs.length; i++) if (!mask[i]) probs[i] = 0;
    }
  }
}

/** A text split for prediction: the context to predict from and, when the last token is partial, that prefix. */
export interface Prepared {
  state: PromptState;
  ctx: Context;
  /** The partial last token that the next token must extend ("" when the text ends on a token boundary). */
  partial: string;
  /** How many tokens the text has (the partial one included). */
  tokenCount: number;
}

/**
 * Tokenizes prompt + continuation and decides whether the last token is partial (see the module comment). The model
 * is fitted on `prompt`; the text it continues is `context` (default: the prompt itself) + continuation.
 */
export function prepare(
  lm: NgramLanguageModel,
  prompt: string,
  continuation: string,
  context: string = prompt,
): Prepared {
  const state = lm.state(prompt);
  const tokens = tokenize(context + continuation);
  const last = tokens[tokens.length - 1];
  if (last !== undefined && state.id(last) === undefined) {
    const cls = tokenClass(last);
    const prev = tokens[tokens.length - 2];
    const extends_ = (t: string): boolean => t.length > last.length && t.startsWith(last) && canFollow(prev, t);
    if ((cls === 'word' || cls === 'space') && state.tokens.some(extends_)) {
      return { state, ctx: contextOf(state, tokens.slice(0, -1)), partial: last, tokenCount: tokens.length };
    }
  }
  return { state, ctx: contextOf(state, tokens), partial: '', tokenCount: tokens.length };
}

export interface Scored {
  /** The token string as returned to callers (the vocabulary token minus a partial prefix). */
  token: string;
  /** The vocabulary token. */
  full: string;
  prob: number;
}

/** True when a ranks below b: lower probability, or equal probability and a later token string. */
function ranksBelow(state: PromptState, a: number, pa: number, b: number, pb: number): boolean {
  return pa < pb || (pa === pb && state.tokens[a]! > state.tokens[b]!);
}

/**
 * The k most likely tokens, most likely first (ties by token string), with `strip` (a partial token) removed from
 * the front of each token string. Tokens with probability 0 are never listed.
 */
export function topK(state: PromptState, probs: Float64Array, k: number, strip = ''): Scored[] {
  const ids: number[] = [];
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    if (!(p > 0)) continue;
    if (ids.length === k && !ranksBelow(state, ids[k - 1]!, probs[ids[k - 1]!]!, i, p)) continue;
    let j = ids.length;
    while (j > 0 && ranksBelow(state, ids[j - 1]!, probs[ids[j - 1]!]!, i, p)) j--;
    ids.splice(j, 0, i);
    if (ids.length > k) ids.pop();
  }
  return ids.map((i) => ({ token: state.tokens[i]!.slice(strip.length), full: state.tokens[i]!, prob: probs[i]! }));
}

/**
 * The next-token distribution after a prepared text: over the vocabulary, or when the last token is partial over the
 * tokens that extend it (renormalised). Returns probabilities aligned with state.tokens (zeros where disallowed).
 */
export function nextDistribution(lm: NgramLanguageModel, p: Prepared): Float64Array {
  if (!p.partial) return lm.distribution(p.state, p.ctx).probs;
  const { probs } = lm.rawDistribution(p.state, p.ctx);
  lm.restrict(p.state, p.ctx.last, probs);
  let mass = 0;
  for (let i = 0; i < probs.length; i++) {
    const t = p.state.tokens[i]!;
    if (!(t.length > p.partial.length && t.startsWith(p.partial))) probs[i] = 0;
    mass += probs[i]!;
  }
  if (!(mass > 0)) throw new Error('no allowed token extends the partial last token');
  for (let i = 0; i < probs.length; i++) probs[i] = probs[i]! / mass;
  return probs;
}
