/**
 * Aug-PE's two model APIs as chat requests (Xie et al., ICML 2024, §3.2; prompts restated from AI-secure/aug-pe
 * apis/utils.py and microsoft/DPSDA example/text/*_prompt.json, see docs/BACKGROUND.md §2.3).
 *
 * Everything in these prompts is public: the label (named by the user), words from the small lists below, and
 * synthetic candidates the model wrote itself. No private row ever enters a request built here.
 *
 * RANDOM_API asks for one example of a label, with a random style and writer persona (the aug-pe "subcategory" /
 * "writer" trick that diversifies the initial population). VARIATION_API either paraphrases a candidate with a
 * random tone (aug-pe `*_rephrase_tone`) or fills in the blanks of a masked copy with an adaptive target length
 * (aug-pe `*_blank_fill_*`). We ship no tokenizer, so masking is by words (whitespace-separated), not by model
 * tokens as upstream (tiktoken): each word is replaced by "_" independently with probability p.
 */
import type { ChatMessage, GenerateRequest } from '../providers/types';
import { bernoulli, uniform01, uniformInt, type Bits32 } from '../runs/random';
import type { Domain } from './domain';

/** Writing styles and tones (in the spirit of aug-pe's 28 Yelp tones; generic, domain-free). */
export const STYLES: readonly string[] = [
  'in a casual way',
  'concisely',
  'politely',
  'in a worried tone',
  'as a short question',
  'in a formal tone',
  'with a small typo or two',
  'in plain words',
  'impatiently',
  'in a friendly tone',
  'with some detail',
  'in a frustrated tone',
];

/** Writer personas (aug-pe's writers.txt idea, generic). */
export const PERSONAS: readonly string[] = [
  'a student',
  'a retiree',
  'a busy parent',
  'a small-business owner',
  'a traveller',
  'an office worker',
  'a non-native English speaker',
  'a teenager',
  'a nurse',
  'a software developer',
];

export type VariationKind = 'fill-blanks' | 'paraphrase';
export const VARIATION_KINDS: readonly VariationKind[] = ['fill-blanks', 'paraphrase'];

export interface PromptSettings {
  temperature: number;
  /** Max tokens of a RANDOM_API answer, and the cap of an adaptive variation. */
  maxTokens: number;
  variation: VariationKind;
  /** p: probability that a word is masked (fill-blanks). */
  maskProbability: number;
  /** Floor of the adaptive target length, in words (aug-pe min_target_word). */
  minWords: number;
  /** Std of the target-length jitter = p · wordVarScale words (aug-pe word_var_scale). */
  wordVarScale: number;
  /** The user's domain (public by declaration; src/core/augpe/domain.ts). Default: the built-in lists. */
  domain?: Domain;
}

/** The system line's domain sentence, if any. */
function domainLine(d: Domain | undefined): string {
  return d?.sentence ? ` The texts are ${d.sentence.replace(/[.\s]+$/, '')}.` : '';
}

/** "card_arrival" → "card arrival": the label as words (it is public). */
export function humanizeLabel(label: string): string {
  const h = label.replace(/[_-]+/g, ' ').replace(/\s+/g, ' ').trim();
  return h === '' ? label : h;
}

function pickFrom<T>(rng: Bits32, list: readonly T[]): T {
  return list[uniformInt(rng, list.length)]!;
}

/**
 * RANDOM_API: one request for one new example of `label`: a random style and persona, and, when the domain gives the
 * label keywords, a random keyword as its topic (aug-pe's "subcategory" conditioning, Xie et al. 2024 §3.2). The
 * draws happen in that order, and no keyword draw is made when the label has none.
 */
export function randomApiRequest(label: string, s: PromptSettings, rng: Bits32): GenerateRequest {
  const d = s.domain;
  const style = pickFrom(rng, d?.styles ?? STYLES);
  // Own keys only: a domain that crossed a structured clone (the worker) has an ordinary prototype again.
  const ld = d && Object.hasOwn(d.labels, label) ? d.labels[label] : undefined;
  const persona = pickFrom(rng, ld?.personas ?? d?.personas ?? PERSONAS);
  const keyword = ld?.keywords.length ? pickFrom(rng, ld.keywords) : undefined;
  const messages: ChatMessage[] = [
    {
      role: 'system',
      content: `You write realistic example texts for a text-classification dataset.${domainLine(d)} Reply with one example text only: no quotes, no label, no explanation.`,
    },
    {
      role: 'user',
      content: `Label: ${humanizeLabel(label)}\nWrite one example text with this label${keyword ? `, about ${keyword}` : ''}, ${style}, as if written by ${persona}.`,
    },
  ];
  return { messages, maxTokens: s.maxTokens, temperature: s.temperature };
}

export function wordsOf(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

/** Each word replaced by "_" with probability p; at least one word is masked so that the variation can differ. */
export function maskWords(text: string, p: number, rng: Bits32): string {
  const ws = wordsOf(text);
  if (ws.length === 0) return '_';
  const masked = ws.map(() => bernoulli(rng, p));
  if (!masked.some(Boolean)) masked[uniformInt(rng, ws.length)] = true;
  return ws.map((w, i) => (masked[i] ? '_' : w)).join(' ');
}

/** A standard normal draw (Box & Muller 1958) from public randomness: only the target length uses it, not privacy. */
function standardNormal(rng: Bits32): number {
  const u = 1 - uniform01(rng); // (0, 1]
  const v = uniform01(rng);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Adaptive length (aug-pe azure_api.py, `--dynamic_len`): target = max(minWords, words + trunc(N(0, p·scale))).
 * Returns the target in words and the max tokens to request: min(cap, ⌈2·target⌉ + 8) (two tokens per word leaves
 * room for punctuation; upstream uses max_token_word_scale 1.2–5 with a 1200 cap).
 */
export function targetLength(sample: string, s: PromptSettings, rng: Bits32): { words: number; maxTokens: number } {
  const jitter = Math.trunc(standardNormal(rng) * s.maskProbability * s.wordVarScale);
  const words = Math.max(s.minWords, wordsOf(sample).length + jitter);
  return { words, maxTokens: Math.min(Math.max(s.maxTokens, 16), Math.ceil(2 * words) + 8) };
}

/** VARIATION_API: one request for one variation of a synthetic candidate. */
export function variationRequest(label: string, sample: string, s: PromptSettings, rng: Bits32): GenerateRequest {
  const style = pickFrom(rng, s.domain?.styles ?? STYLES);
  const h = humanizeLabel(label);
  if (s.variation === 'paraphrase') {
    return {
      messages: [
        {
          role: 'system',
          content: `You rewrite example texts for a text-classification dataset.${domainLine(s.domain)} Reply with the new text only.`,
        },
        {
          role: 'user',
          content: `Label: ${h}\nRephrase the following text ${style}, keeping it a realistic example of this label.\nText: ${sample}`,
        },
      ],
      maxTokens: s.maxTokens,
      temperature: s.temperature,
    };
  }
  const masked = maskWords(sample, s.maskProbability, rng);
  const len = targetLength(sample, s, rng);
  return {
    messages: [
      { role: 'system', content: `You are a helpful, pattern-following assistant.${domainLine(s.domain)}` },
      {
        role: 'user',
        content: `Label: ${h}\nFill in the blanks (_) in the input ${style}, so that it reads as a realistic example of this label. Your answer MUST be exactly ${len.words} words. Reply with the completed text only.\nInput: ${masked}`,
      },
    ],
    maxTokens: len.maxTokens,
    temperature: s.temperature,
  };
}

/**
 * Clean a model answer (aug-pe post-processing): drop "(… words)" notes and double quotes, collapse whitespace. An
 * empty answer becomes `fallback` (upstream keeps the input sample of a variation).
 */
export function cleanOutput(text: string, fallback: string): string {
  const t = text
    .replace(/\(\s*\d+\s*words?\s*\)/gi, ' ')
    .replace(/["“”]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return t === '' ? fallback : t;
}
