import { NO_LOGPROBS_FIX, type ClassifyContext } from './classify';
import { abortReason, ProviderError } from './errors';
import { parseChoiceLogprobs, rawTopWidth } from './logprobs';
import { continuationMessages, detectServer, firstChoice, isOneHot, logprobCap, type Json } from './openai-shapes';
import type { Capabilities, ChatMessage, ContinuationMode, NextTokensStep } from './types';

/**
 * Capability probes are cached per (kind, base URL, model, embedding model): a probe costs a few tiny requests and
 * the answer does not change while the server runs. Failed probes are not cached, so a fixed server is re-probed.
 */
export type ProbeCache = Map<string, Promise<Capabilities>>;

const processCache: ProbeCache = new Map();

export function defaultProbeCache(): ProbeCache {
  return processCache;
}

export function probeKey(kind: string, baseURL: string, model: string, embeddingModel?: string): string {
  return JSON.stringify([kind, baseURL.replace(/\/+$/, ''), model, embeddingModel ?? model]);
}

/** Single-flight: concurrent callers share one probe; a rejected probe is dropped from the cache. */
export function cachedProbe(cache: ProbeCache, key: string, probe: () => Promise<Capabilities>): Promise<Capabilities> {
  let p = cache.get(key);
  if (!p) {
    p = probe();
    cache.set(key, p);
    p.catch(() => {
      if (cache.get(key) === p) cache.delete(key);
    });
  }
  return p;
}

/** Resolves like `p`, but rejects as soon as `signal` aborts (the shared work itself continues for other callers). */
export function raceAbort<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Public, fixed texts the probes send (never private data). */
export const PROBE = {
  prompt: 'The days of the week are Monday, Tuesday,',
  user: 'List the days of the week, separated by commas.',
  prefix: 'Monday, Tuesday,',
  embed: 'private-fewshot capability probe',
} as const;

// ---------------------------------------------------------------------------------------------------------------
// The capability probe of an OpenAI-compatible server (OpenAICompatibleProvider.capabilities): a few tiny requests
// with the public PROBE texts, learning which endpoint gives next-token logprobs, whether generation works, and
// whether the model embeds. Differences between servers are found by their behaviour, not trusted from names.

/** What the probe needs of the provider: its identity and the requests it may send. */
export interface ProbeHost {
  readonly kind: 'openai' | 'azure';
  /** api.openai.com or Azure: no prefill, no vLLM extension fields. */
  readonly hosted: boolean;
  readonly model: string;
  readonly embeddingModel: string;
  /** The next-token mode the user set (config.nextTokensMode); undefined: choose by probing. */
  readonly forced: Exclude<ContinuationMode, 'native'> | undefined;
  readonly ctx: ClassifyContext;
  /** POST /v1/completions of PROBE.prompt, 2 tokens, `logprobs` alternatives, at `temperature` (default 0). */
  completions(logprobs: number, temperature?: number): Promise<Json>;
  /** POST chat of `messages`, 2 tokens, `topLogprobs` alternatives (none: undefined), at `temperature`. */
  chat(messages: ChatMessage[], topLogprobs: number | undefined, temperature: number): Promise<Json>;
  /** Learns from a 400 about a request of n choices (the provider's adaptations); true when it changed something. */
  adapt(e: ProviderError, n: number): boolean;
  /** Embeds PROBE.embed. */
  embed(): Promise<Float32Array[]>;
  /** After an embedding error that speaks of the encoding: switches to float vectors when the user did not choose an
   * encoding and base64 was in use; true when it switched. */
  embedAsFloat(e: ProviderError): boolean;
}

interface ProbeState {
  notes: string[];
  server: string | undefined;
}

type Sampled = { maxTopK: number; steps: NextTokensStep[] };
type ChatModeName = Exclude<ContinuationMode, 'native' | 'completions'>;
interface ChatProbe {
  mode: ChatModeName;
  logprobs?: Sampled & { messages: ChatMessage[] };
  generate: boolean;
  noLogprobsMessage?: string;
}

/** Errors that end the probe: anything but a 400-like answer about this request's shape. */
function fatal(e: unknown): boolean {
  return (
    !(e instanceof ProviderError) ||
    !['bad-request', 'model-not-found', 'no-logprobs', 'malformed-response', 'context-too-long'].includes(e.code)
  );
}

/** The logprob alternatives of a response's first choice, when it has at least one position with one. */
function sampled(h: ProbeHost, res: Json, ask: number): Sampled | undefined {
  const lp = firstChoice(res, h.ctx).logprobs;
  const width = parseChoiceLogprobs(lp)?.length ? rawTopWidth(lp) : 0;
  return width >= 1 ? { maxTopK: Math.min(ask, width), steps: parseChoiceLogprobs(lp)! } : undefined;
}

export async function probeCapabilities(h: ProbeHost): Promise<Capabilities> {
  const st: ProbeState = { notes: [], server: h.kind === 'azure' ? 'azure' : h.hosted ? 'openai' : undefined };
  const completions = await probeCompletions(h, st);
  const chat = await probeChat(h, st, completions.works);
  const nextTokenLogprobs = chooseNextTokens(h, st, completions.logprobs, chat);
  if (nextTokenLogprobs) await checkLogprobTemperature(h, st, nextTokenLogprobs, completions.logprobs, chat);
  if (nextTokenLogprobs && nextTokenLogprobs.maxTopK < 20) {
    st.notes.push(
      `The server returns at most ${nextTokenLogprobs.maxTopK} alternatives per position; requests for more are clamped.`,
    );
  }
  if (nextTokenLogprobs)
    st.notes.push(
      'logit_bias is not used (the tokenizer is unknown); candidate restriction filters the returned top-k.',
    );
  const { embed, embedDimensions } = await probeEmbeddings(h, st);
  return {
    nextTokenLogprobs,
    generate: completions.works || chat.generate,
    embed,
    notes: st.notes,
    ...(st.server ? { server: st.server } : {}),
    ...(embedDimensions ? { embedDimensions } : {}),
  };
}

/** 1. /v1/completions with logprobs: the natural way to continue a prefix on vLLM and llama.cpp. */
async function probeCompletions(h: ProbeHost, st: ProbeState): Promise<{ works: boolean; logprobs?: Sampled }> {
  const tryIt = h.forced ? h.forced === 'completions' : !h.hosted || /instruct|davinci|babbage/i.test(h.model);
  if (!tryIt) return { works: false };
  let ask = h.hosted ? 5 : 20;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const res = await h.completions(ask);
      st.server ??= detectServer(res);
      const logprobs = sampled(h, res, ask);
      if (!logprobs)
        st.notes.push(
          `/v1/completions answers but returns no logprobs${st.server === 'ollama' ? ' (Ollama drops them there)' : ''}; next tokens come from the chat endpoint instead.`,
        );
      return { works: true, ...(logprobs ? { logprobs } : {}) };
    } catch (e) {
      if (fatal(e)) throw e;
      const cap = logprobCap(e as ProviderError);
      if (cap !== undefined && cap < ask && attempt === 0) {
        ask = cap;
        continue;
      }
      st.notes.push(`/v1/completions is not usable here (${(e as ProviderError).message}).`);
      break;
    }
  }
  return { works: false };
}

/** 2. Chat with logprobs (prefill on local servers, continuation in the user turn on hosted models). */
async function probeChat(h: ProbeHost, st: ProbeState, completionsWork: boolean): Promise<ChatProbe> {
  const forced = h.forced;
  const out: ChatProbe = {
    mode:
      forced === 'chat-continuation' || (forced !== 'assistant-prefill' && h.hosted)
        ? 'chat-continuation'
        : 'assistant-prefill',
    generate: false,
  };
  let ask: number | undefined = 20; // OpenAI's documented maximum; servers with a lower cap say so in a 400
  for (let attempt = 0; attempt < 5; attempt++) {
    const prefill = out.mode === 'assistant-prefill';
    const messages = continuationMessages(out.mode, prefill ? PROBE.user : PROBE.prompt, prefill ? PROBE.prefix : '');
    try {
      const res = await h.chat(messages, ask, 0);
      st.server ??= detectServer(res);
      out.generate = true;
      if (ask !== undefined) {
        const logprobs = sampled(h, res, ask);
        if (logprobs) out.logprobs = { ...logprobs, messages };
        else out.noLogprobsMessage = 'the chat endpoint answers without logprobs';
      }
      break;
    } catch (e) {
      if (fatal(e)) throw e;
      const pe = e as ProviderError;
      const cap = logprobCap(pe);
      if (ask !== undefined && cap !== undefined && cap < ask) {
        ask = cap;
        continue;
      }
      if (ask !== undefined && pe.code === 'no-logprobs') {
        out.noLogprobsMessage = pe.message;
        ask = undefined; // does generation work without logprobs?
        continue;
      }
      if (pe.code === 'bad-request' && h.adapt(pe, 1)) continue;
      if (prefill && !forced && pe.code === 'bad-request') {
        st.notes.push(
          `The server rejected a continued assistant message (${pe.message}); using chat continuation instead.`,
        );
        out.mode = 'chat-continuation';
        continue;
      }
      if (completionsWork) {
        st.notes.push(`The chat endpoint is not usable here (${pe.message}); generation uses /v1/completions.`);
        break;
      }
      throw e;
    }
  }
  return out;
}

/** Which endpoint gives next tokens: completions unless a chat mode was forced, else chat, else none (with advice). */
function chooseNextTokens(
  h: ProbeHost,
  st: ProbeState,
  completions: Sampled | undefined,
  chat: ChatProbe,
): Capabilities['nextTokenLogprobs'] {
  if (completions && h.forced !== 'assistant-prefill' && h.forced !== 'chat-continuation')
    return { maxTopK: completions.maxTopK, mode: 'completions', logitBias: false };
  if (chat.logprobs) {
    if (chat.mode === 'chat-continuation') {
      st.notes.push(
        'This model takes no assistant prefill, so DP few-shot asks for the continuation inside the user turn ("chat continuation"). The DP guarantee does not depend on it; fidelity is higher with a local vLLM/Ollama/llama.cpp model.',
      );
    }
    return { maxTopK: chat.logprobs.maxTopK, mode: chat.mode, logitBias: false };
  }
  st.notes.push(
    `No next-token logprobs${chat.noLogprobsMessage ? ` (${chat.noLogprobsMessage})` : ''}. ${NO_LOGPROBS_FIX}`,
  );
  if (st.server === 'ollama')
    st.notes.push(
      'Ollama returns logprobs from version 0.12.11 on (not on Ollama Cloud models): update Ollama, or use a local model.',
    );
  return null;
}

/**
 * Some servers compute logprobs at the sampling temperature: at 0 they answer a one-hot distribution. If the probe saw
 * that, check at temperature 1 and, when real alternatives appear there, ask for logprobs at temperature 1.
 */
async function checkLogprobTemperature(
  h: ProbeHost,
  st: ProbeState,
  next: NonNullable<Capabilities['nextTokenLogprobs']>,
  completions: Sampled | undefined,
  chat: ChatProbe,
): Promise<void> {
  const probed = next.mode === 'completions' ? completions : chat.logprobs;
  if (!probed || !probed.steps.every(isOneHot)) return;
  try {
    const res =
      next.mode === 'completions'
        ? await h.completions(next.maxTopK, 1)
        : await h.chat(chat.logprobs!.messages, next.maxTopK, 1);
    const steps = parseChoiceLogprobs(firstChoice(res, h.ctx).logprobs);
    if (steps?.length && !steps.every(isOneHot)) {
      next.logprobTemperature = 1;
      st.notes.push(
        "This server scales logprobs by the sampling temperature (at 0 it returns a one-hot distribution), so next tokens are requested at temperature 1: the distributions are the model's, and the lookahead tokens are samples rather than greedy.",
      );
    }
  } catch (e) {
    if (fatal(e)) throw e;
  }
}

/** 3. Embeddings. */
async function probeEmbeddings(h: ProbeHost, st: ProbeState): Promise<{ embed: boolean; embedDimensions?: number }> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const v = await h.embed();
      return { embed: true, embedDimensions: v[0]!.length };
    } catch (e) {
      if (fatal(e) && !(e instanceof ProviderError && e.code === 'no-embeddings')) throw e;
      if (attempt === 0 && e instanceof ProviderError && h.embedAsFloat(e)) continue;
      st.notes.push(
        `"${h.embeddingModel}" does not embed (${(e as ProviderError).message}). For Aug-PE set an embedding model (e.g. text-embedding-3-small; nomic-embed-text on Ollama) or use the built-in embedder.`,
      );
      break;
    }
  }
  return { embed: false };
}
