/**
 * Text generation with the built-in n-gram model: temperature sampling, and Aug-PE style fill-in-the-blanks.
 *
 * Chat messages are flattened to a plain prompt: the message contents in order, separated by a blank line, then a
 * blank line (roles are dropped; the model has no notion of turns). A final assistant message is a prefill: the
 * model continues it, and only the new text is returned.
 *
 * Fill-in-the-blanks convention (Aug-PE's VARIATION_API, Xie et al. 2024 §3.2): a blank is a run of "_" characters
 * that is not between two letters or digits (so snake_case is not a blank); each "_" stands for one masked token.
 * The masked sample is the text after the last "Input:" label on a line that has blanks; without such a line, the
 * last line that has blanks. The model fills every "_" from left to right with one token drawn from its next-token
 * distribution after the prompt and the filled text so far, rescored by how well the candidate leads into the
 * known text that follows the blank (the next n−1 tokens), and returns the filled sample: its known text is kept
 * verbatim, so a variation stays close to its source. Word-count targets in the instruction are not enforced.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ChatMessage } from '../types';
import {
  extendContext,
  nextDistribution,
  prepare,
  topK,
  type NgramLanguageModel,
  type Prepared,
  type Scored,
} from './model';
import type { Random } from './rng';
import { END_OF_TEXT, tokenize } from './tokenizer';

export interface SampleOptions {
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  stop: readonly string[];
  signal?: AbortSignal;
}

export interface Generated {
  text: string;
  /** Tokens the model produced (including a final end-of-text or the tokens of a stop sequence). */
  tokens: number;
}

/** How many tokens to produce between checks of the abort signal (each check yields to the event loop). */
const YIELD_EVERY = 64;

export function flattenMessages(messages: readonly ChatMessage[]): { prompt: string; prefill: string } {
  const last = messages[messages.length - 1];
  const hasPrefill = last !== undefined && last.role === 'assistant' && last.content !== '';
  const body = (hasPrefill ? messages.slice(0, -1) : messages).map((m) => m.content).join('\n\n');
  return { prompt: body === '' ? '' : `${body}\n\n`, prefill: hasPrefill ? last.content : '' };
}

/**
 * Picks an index from `weights` (non-negative, need not sum to 1) at temperature `t`: weights^(1/t), renormalised.
 * t = 0 takes the largest weight (ties: the lowest index; callers order candidates deterministically).
 */
export function pick(weights: readonly number[], t: number, rand: Random): number {
  let best = 0;
  for (let i = 1; i < weights.length; i++) if (weights[i]! > weights[best]!) best = i;
  if (t === 0) return best;
  const top = weights[best]!;
  if (!(top > 0)) return best;
  // w^(1/t) computed as exp((ln w − ln w_max)/t) so that small temperatures do not underflow everything.
  const scaled = weights.map((w) => (w > 0 ? Math.exp((Math.log(w) - Math.log(top)) / t) : 0));
  let total = 0;
  for (const w of scaled) total += w;
  let u = rand() * total;
  for (let i = 0; i < scaled.length; i++) {
    u -= scaled[i]!;
    if (u < 0 && scaled[i]! > 0) return i;
  }
  return best;
}

/** Index of the earliest stop sequence in `text` at or after `from`, or −1. */
function findStop(text: string, stop: readonly string[], from: number): number {
  let at = -1;
  for (const s of stop) {
    if (s === '') continue;
    const i = text.indexOf(s, Math.max(0, from - s.length + 1));
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at;
}

async function checkpoint(step: number, signal: AbortSignal | undefined): Promise<void> {
  if (step > 0 && step % YIELD_EVERY === 0) await yieldToEventLoop();
  signal?.throwIfAborted();
}

/** Samples a continuation of prompt + prefix token by token. */
export async function sampleText(
  lm: NgramLanguageModel,
  prompt: string,
  prefix: string,
  opts: SampleOptions,
  rand: Random,
): Promise<Generated> {
  let prep: Prepared = prepare(lm, prompt, prefix);
  let text = '';
  let produced = 0;
  for (let step = 0; step < opts.maxTokens; step++) {
    await checkpoint(step, opts.signal);
    const probs = nextDistribution(lm, prep);
    // Sampling over the whole vocabulary; topK with k = vocabulary size gives a deterministic order.
    const ranked = opts.temperature === 0 ? topK(prep.state, probs, 1) : rankedAll(prep, probs);
    const choice =
      ranked[
        pick(
          ranked.map((r) => r.prob),
          opts.temperature,
          rand,
        )
      ]!;
    produced++;
    if (choice.full === END_OF_TEXT) break;
    const before = text.length;
    text += choice.token;
    const stopAt = findStop(text, opts.stop, before);
    if (stopAt >= 0) {
      text = text.slice(0, stopAt);
      break;
    }
    prep = {
      state: prep.state,
      ctx: extendContext(prep.state, prep.ctx, choice.full),
      partial: '',
      tokenCount: prep.tokenCount + 1,
    };
  }
  return { text, tokens: produced };
}

function rankedAll(prep: Prepared, probs: Float64Array): Scored[] {
  const out: Scored[] = [];
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    if (p > 0) {
      const full = prep.state.tokens[i]!;
      out.push({ token: full.slice(prep.partial.length), full, prob: p });
    }
  }
  return out;
}

type Part = { kind: 'text'; text: string } | { kind: 'blank'; count: number };

const BLANK_RUN = /_+/g;
const ALNUM = /[\p{L}\p{M}\p{N}]/u;

/** Splits a masked sample into known text and blanks (runs of "_" not flanked by alphanumerics on both sides). */
export function splitBlanks(masked: string): Part[] {
  const parts: Part[] = [];
  let pos = 0;
  for (const m of masked.matchAll(BLANK_RUN)) {
    const start = m.index;
    const end = start + m[0].length;
    const before = masked[start - 1];
    const after = masked[end];
    if (before !== undefined && after !== undefined && ALNUM.test(before) && ALNUM.test(after)) continue;
    if (start > pos) parts.push({ kind: 'text', text: masked.slice(pos, start) });
    parts.push({ kind: 'blank', count: m[0].length });
    pos = end;
  }
  if (pos < masked.length) parts.push({ kind: 'text', text: masked.slice(pos) });
  return parts;
}

/** Where the masked sample of a fill-in-the-blanks prompt is (see the module comment), or undefined. */
export interface MaskedSample {
  text: string;
  /** Offset of the sample in the prompt: the text before it is the left context of its first blank. */
  start: number;
}

export function findMaskedSample(prompt: string): MaskedSample | undefined {
  const lines: { text: string; start: number }[] = [];
  const re = /[^\n]*/g;
  for (let m = re.exec(prompt); m; m = re.exec(prompt)) {
    lines.push({ text: m[0].endsWith('\r') ? m[0].slice(0, -1) : m[0], start: m.index });
    if (re.lastIndex >= prompt.length) break;
    re.lastIndex++; // skip the newline
  }
  const hasBlank = (s: string): boolean => splitBlanks(s).some((p) => p.kind === 'blank');
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^(\s*input\s*:\s?)(.*)$/i.exec(lines[i]!.text);
    if (m && hasBlank(m[2]!)) return { text: m[2]!, start: lines[i]!.start + m[1]!.length };
  }
  for (let i = lines.length - 1; i >= 0; i--) if (hasBlank(lines[i]!.text)) return lines[i]!;
  return undefined;
}

/** Candidates considered for one blank. */
const FILL_CANDIDATES = 30;

/**
 * Fills the blanks of the masked sample, with the model fitted on the whole prompt and each blank predicted from the
 * prompt text before the sample plus the sample filled so far (so "Input: My _" is read as it appears in the prompt).
 */
export async function fillBlanks(
  lm: NgramLanguageModel,
  prompt: string,
  masked: MaskedSample,
  opts: SampleOptions,
  rand: Random,
): Promise<Generated> {
  const parts = splitBlanks(masked.text);
  const before = prompt.slice(0, masked.start);
  const state = lm.state(prompt);
  let out = '';
  let produced = 0;
  for (let pi = 0; pi < parts.length; pi++) {
    const part = parts[pi]!;
    if (part.kind === 'text') {
      out += part.text;
      continue;
    }
    for (let j = 0; j < part.count; j++) {
      await checkpoint(produced, opts.signal);
      // A blank after a space takes a token that brings its own leading space.
      const needSpace = out.endsWith(' ');
      const left = needSpace ? out.slice(0, -1) : out;
      const prep = prepare(lm, prompt, left, before);
      const probs = nextDistribution(lm, prep);
      const excluded = state.notFillable();
      for (let i = 0; i < probs.length; i++) {
        if (probs[i] === 0) continue;
        if (excluded[i] || (needSpace && state.tokens[i]![prep.partial.length] !== ' ')) probs[i] = 0;
      }
      let cands = topK(state, probs, FILL_CANDIDATES, prep.partial);
      if (cands.length === 0) cands = topK(state, nextDistribution(lm, prep), FILL_CANDIDATES, prep.partial);
      // The known text right after this blank (only for the last "_" of a run; otherwise another blank follows).
      const next = parts[pi + 1];
      const right =
        j === part.count - 1 && next?.kind === 'text' && next.text.trim() !== ''
          ? tokenize(next.text).slice(0, lm.order - 1)
          : [];
      const scores = cands.map((c) => {
        let logp = Math.log(c.prob);
        if (right.length > 0) {
          let ctx = extendContext(state, prep.ctx, prep.partial + c.token);
          for (const r of right) {
            logp += Math.log(lm.rawProb(state, ctx, state.id(r)));
            ctx = extendContext(state, ctx, r);
          }
        }
        return logp;
      });
      // pick() takes weights; exp(score − max) keeps them in range.
      const maxScore = Math.max(...scores);
      const chosen =
        cands[
          pick(
            scores.map((s) => Math.exp(s - maxScore)),
            opts.temperature,
            rand,
          )
        ]!;
      out = left + chosen.token;
      produced++;
    }
  }
  return { text: truncate(out, opts), tokens: produced };
}

function truncate(text: string, opts: SampleOptions): string {
  let t = text;
  const stopAt = findStop(t, opts.stop, 0);
  if (stopAt >= 0) t = t.slice(0, stopAt);
  const toks = tokenize(t);
  return toks.length > opts.maxTokens ? toks.slice(0, opts.maxTokens).join('') : t;
}
