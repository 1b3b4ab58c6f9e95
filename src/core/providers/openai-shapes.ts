/**
 * Request and response shapes of the OpenAI-compatible API that both the provider (openai.ts) and its capability probe
 * (probe.ts) rely on: chat continuation messages, the first choice of a response, the logprob cap a 400 states, and
 * the server software recognised from response details. See docs/BACKGROUND.md §4.
 */
import type { ClassifyContext } from './classify';
import { ProviderError } from './errors';
import type { ChatMessage, ContinuationMode, NextTokensStep } from './types';

export type Json = Record<string, unknown>;

/** System instruction for "chat continuation" (hosted chat models without assistant prefill). */
export const CONTINUE_SYSTEM =
  'Continue the text the user sends from exactly where it stops, as if you were its author. Reply with the continuation only: do not repeat the text, and add no quotes, preamble or commentary.';

/** The messages that make a chat model continue `prompt + continuation`. */
export function continuationMessages(mode: ContinuationMode, prompt: string, continuation: string): ChatMessage[] {
  if (mode === 'assistant-prefill') {
    return continuation
      ? [
          { role: 'user', content: prompt },
          { role: 'assistant', content: continuation },
        ]
      : [{ role: 'user', content: prompt }];
  }
  return [
    { role: 'system', content: CONTINUE_SYSTEM },
    { role: 'user', content: prompt + continuation },
  ];
}

export function firstChoice(res: Json, ctx: ClassifyContext): { logprobs?: unknown; text?: unknown } {
  const c = (res.choices as unknown[])[0];
  if (typeof c !== 'object' || c === null) {
    throw new ProviderError(
      'malformed-response',
      `${ctx.kind} (${ctx.host}) returned no choices`,
      'Check the base URL and the server version.',
      { provider: ctx.kind },
    );
  }
  return c as { logprobs?: unknown };
}

/** The top_logprobs / logprobs cap a 400 states ("must be less than or equal to 5", "max allowed: 20", "between 0 and
 * 20"). */
export function logprobCap(e: ProviderError): number | undefined {
  if (!/logprob/i.test(e.message)) return undefined;
  const m =
    /(?:less than or equal to|<=|max(?:imum)?(?: value)?(?: allowed)?(?: is)?:?|between 0 and|up to)\s*(\d+)/i.exec(
      e.message,
    );
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}

/** Recognises the server software from response details (see docs/BACKGROUND.md §4). */
export function detectServer(raw: Json): string | undefined {
  if ('timings' in raw) return 'llama.cpp';
  if (raw.system_fingerprint === 'fp_ollama') return 'ollama';
  if ('prompt_filter_results' in raw) return 'azure';
  const c = Array.isArray(raw.choices) ? (raw.choices[0] as Json | undefined) : undefined;
  if ('kv_transfer_params' in raw || (c && ('stop_reason' in c || 'prompt_logprobs' in c))) return 'vllm';
  return undefined;
}

/** A position whose distribution is all on one token: logprob ≈ 0 and no alternative above -100 (real models at
 * temperature 0 still report alternatives; temperature-scaled logprobs at 0 do not). */
export function isOneHot(s: NextTokensStep): boolean {
  return s.top[0]!.logprob > -1e-6 && (s.top.length === 1 || s.top[1]!.logprob < -100);
}
