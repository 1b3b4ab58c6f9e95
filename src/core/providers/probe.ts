import { abortReason } from './errors';
import type { Capabilities } from './types';

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
