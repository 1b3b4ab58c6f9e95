import { abortReason } from './errors';

/** How the shared request runner retries. The SDKs' own retries are off (maxRetries: 0), so this is the only policy. */
export interface RetryPolicy {
  /** Retries after the first attempt (so at most maxRetries + 1 attempts). */
  maxRetries: number;
  /** First backoff step; step n waits about baseDelayMs · 2^n. */
  baseDelayMs: number;
  /** Upper bound of one exponential backoff step. */
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the error is raised at once, saying how long the server asked.
   * */
  maxRetryAfterMs: number;
  /** Uniform [0, 1) for the jitter (not security-relevant; injectable for tests). */
  random: () => number;
  /** Abortable sleep (injectable for tests). */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxRetries: 4,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 60_000,
  random: Math.random,
  sleep: abortableSleep,
};

/** Resolves after `ms`, or rejects with the abort reason as soon as `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

type HeaderSource = Headers | Record<string, string | string[] | undefined> | undefined | null;

function header(h: HeaderSource, name: string): string | undefined {
  if (!h) return undefined;
  if (typeof (h as Headers).get === 'function') return (h as Headers).get(name) ?? undefined;
  const rec = h as Record<string, string | string[] | undefined>;
  const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : rec[key];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The delay a server asks for, in milliseconds: `retry-after-ms` (Azure, read first as the SDKs do), else
 * `retry-after` as seconds or as an HTTP date. Undefined when absent or unparsable; negative values count as 0.
 */
export function parseRetryAfter(headers: HeaderSource, now: number = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && ms.trim() !== '') {
    const x = Number(ms);
    if (Number.isFinite(x)) return Math.max(0, x);
  }
  const ra = header(headers, 'retry-after');
  if (ra === undefined || ra.trim() === '') return undefined;
  const secs = Number(ra);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const date = Date.parse(ra);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return undefined;
}

/**
 * Backoff before retry number `retry` (0-based): "equal jitter", half fixed and half random, of
 * min(maxDelayMs, baseDelayMs · 2^retry). With a server-given delay, wait that long plus up to 10 % jitter so that
 * parallel requests do not return in lockstep (never less than the server asked).
 */
export function retryDelay(
  retry: number,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'random'>,
  retryAfterMs?: number,
): number {
  if (retryAfterMs !== undefined) return retryAfterMs + retryAfterMs * 0.1 * policy.random();
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return step / 2 + (step / 2) * policy.random();
}
