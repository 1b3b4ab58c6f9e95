import { UserError } from '../errors';
import { ProviderError, type ProviderErrorCode } from './errors';
import type { NextTokensRequest, NextTokensResult, Provider } from './types';

/**
 * Which provider failures may stop a run, and which are settled per request.
 *
 * A request that carries private data (a DP few-shot prompt with private examples, a private row sent to the
 * embedder) can fail because of what is in it: the context window is exceeded, a content filter trips, the server
 * rejects that one request (any 4xx about it), or it keeps timing out. Such a failure is a function of the private
 * data, so letting it stop the run would change how much is released and how much ε is charged: a side channel.
 * Instead the request is *settled*: the caller receives the error in place of the result and counts the request as
 * a zero vote (the DP bound covers that; see fewshot/aggregate.ts and augpe/histogram.ts).
 *
 * Failures that say nothing about one request — the key, the quota, the model, missing logprobs or embeddings, the
 * configuration — are thrown as before and stop the run. So do failures of public requests (the public prompt, the
 * probe, synthetic text), which callers check themselves.
 */

/** Failures about the configuration, never about one request's content: always thrown. */
const STOP_CODES: ReadonlySet<ProviderErrorCode> = new Set([
  'auth',
  'quota',
  'model-not-found',
  'no-logprobs',
  'no-embeddings',
  'config',
]);

/** Codes that mean "the server refused this request because of what is in it" (not retried: the answer is final). */
const REFUSAL_CODES: ReadonlySet<ProviderErrorCode> = new Set(['context-too-long', 'bad-request']);

/** A ProviderError that is settled per request (returned in place of the result) rather than thrown. */
export function isSettleable(e: unknown): e is ProviderError {
  return e instanceof ProviderError && !STOP_CODES.has(e.code);
}

/**
 * A settled failure that is the server's final answer about this request's content (context length, content
 * filter, other 4xx). The others (timeouts, 5xx, rate limits, dropped connections, broken bodies after the
 * retries) may be the server's state rather than the request: callers check a public request before going on.
 */
export function isRequestRefusal(e: ProviderError): boolean {
  return REFUSAL_CODES.has(e.code) && !e.retryable;
}

/** One outcome per request: its result, or the settleable error that request got on its own. */
export type Settled<T> = T | ProviderError;

/**
 * Runs `fn` on every item in parallel and settles each: settleable ProviderErrors take the item's place; anything
 * else (abort, configuration failures, programming errors) is rethrown (the first one, in item order).
 */
export async function settleEach<I, T>(items: readonly I[], fn: (item: I) => Promise<T>): Promise<Settled<T>[]> {
  const all = await Promise.allSettled(items.map(fn));
  for (const r of all) if (r.status === 'rejected' && !isSettleable(r.reason)) throw r.reason;
  return all.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as ProviderError)));
}

/**
 * Next-token requests, settled per request: through the provider's batch call when it has one (the adapter isolates
 * a refused prompt inside a failed list by splitting it), else one call each.
 */
export function settleNextTokens(provider: Provider, reqs: NextTokensRequest[]): Promise<Settled<NextTokensResult>[]> {
  if (reqs.length === 0) return Promise.resolve([]);
  if (provider.nextTokensBatch) return provider.nextTokensBatch(reqs);
  return settleEach(reqs, (r) => provider.nextTokens(r));
}

/**
 * Embeddings, settled per text: a batch that fails with a settleable error is split in halves until the failing
 * texts are isolated (a list is refused when any of its inputs is, so every text's outcome equals the outcome of
 * asking for it alone). Costs about 2·log₂(n) extra requests per refused text.
 */
export async function settleEmbeddings(
  provider: Provider,
  texts: readonly string[],
  signal?: AbortSignal,
): Promise<Settled<Float32Array>[]> {
  if (texts.length === 0) return [];
  try {
    const vs = await provider.embed([...texts], signal);
    if (vs.length !== texts.length)
      throw new UserError(`the embedder returned ${vs.length} vectors for ${texts.length} texts`);
    return vs;
  } catch (e) {
    if (!isSettleable(e)) throw e;
    if (texts.length === 1) return [e];
    const mid = Math.ceil(texts.length / 2);
    const [a, b] = await Promise.all([
      settleEmbeddings(provider, texts.slice(0, mid), signal),
      settleEmbeddings(provider, texts.slice(mid), signal),
    ]);
    return [...a, ...b];
  }
}
