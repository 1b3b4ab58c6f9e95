import { classifyError, type ClassifyContext } from './classify';
import { DEFAULTS, defaultConcurrency, type ProviderConfig } from './config';
import { abortReason, ProviderError } from './errors';
import { Limiter } from './limiter';
import { DEFAULT_RETRY, retryDelay, type RetryPolicy } from './retry';
import type { UsageMeter } from './usage';

export interface RunnerOptions {
  /** Provider kind (error details). */
  provider: string;
  /** How messages name the endpoint, e.g. "openai (127.0.0.1:8000)". Default: the provider kind. */
  label?: string;
  /** The base URL, carried on timeout errors (the editor's Check Endpoint names it). */
  url?: string;
  concurrency: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
  retry: RetryPolicy;
  /** Provider-wide cancellation: aborting it cancels every queued, sleeping and in-flight request. */
  signal?: AbortSignal;
  /**
   * Maps an error thrown by one attempt to a ProviderError (with `retryable` and `retryAfterMs` set), or returns
   * undefined for errors that are not about the remote call (programming errors are rethrown unchanged).
   */
  classify: (e: unknown, texts: readonly string[]) => ProviderError | undefined;
  /** Called before each retry (usage accounting). */
  onRetry?: (e: ProviderError) => void;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** The request's private texts: server messages quoting them are withheld. */
  texts?: readonly string[];
}

class Timeout extends Error {
  constructor() {
    super('request timed out');
    this.name = 'Timeout';
  }
}

/**
 * The shared machinery every remote adapter goes through: a per-provider concurrency limit (a slot is held only
 * while a request is on the wire, not while backing off), a per-attempt timeout, retries with exponential backoff
 * and jitter that honour Retry-After on 429/5xx, and cancellation through AbortSignal at every stage.
 */
export class RequestRunner {
  readonly limiter: Limiter;

  constructor(private readonly o: RunnerOptions) {
    this.limiter = new Limiter(o.concurrency);
  }

  async run<T>(what: string, fn: (signal: AbortSignal) => Promise<T>, opts: RunOptions = {}): Promise<T> {
    const signals = [opts.signal, this.o.signal].filter((s): s is AbortSignal => s !== undefined);
    const cancel =
      signals.length === 0
        ? new AbortController().signal
        : signals.length === 1
          ? signals[0]!
          : AbortSignal.any(signals);
    const texts = opts.texts ?? [];
    const { retry } = this.o;
    for (let attempt = 0; ; attempt++) {
      if (cancel.aborted) throw abortReason(cancel);
      const release = await this.limiter.acquire(cancel);
      const timer = new AbortController();
      const handle = setTimeout(() => timer.abort(new Timeout()), this.o.timeoutMs);
      let err: ProviderError;
      try {
        return await fn(AbortSignal.any([cancel, timer.signal]));
      } catch (e) {
        if (cancel.aborted) throw abortReason(cancel);
        if (timer.signal.aborted) {
          err = new ProviderError(
            'timeout',
            `${this.o.label ?? this.o.provider}: no answer within ${formatMs(this.o.timeoutMs)} (${what})`,
            'The server may be overloaded or still loading the model. Try again later, lower the concurrency, or raise the request timeout.',
            { provider: this.o.provider, retryable: true, ...(this.o.url ? { url: this.o.url } : {}) },
          );
        } else {
          const c = this.o.classify(e, texts);
          if (!c) throw e;
          err = c;
        }
      } finally {
        clearTimeout(handle);
        release();
      }
      if (!err.retryable || attempt >= retry.maxRetries) throw attempt > 0 ? withAttempts(err, attempt + 1) : err;
      const asked = err.details.retryAfterMs;
      if (asked !== undefined && asked > retry.maxRetryAfterMs) {
        throw new ProviderError(
          err.code,
          `${err.message} (the server asks to wait ${formatMs(asked)}, longer than the ${formatMs(retry.maxRetryAfterMs)} the tool waits)`,
          err.hint,
          err.details,
        );
      }
      this.o.onRetry?.(err);
      await retry.sleep(retryDelay(attempt, retry, asked), cancel);
    }
  }
}

function withAttempts(e: ProviderError, attempts: number): ProviderError {
  return new ProviderError(e.code, `${e.message} (after ${attempts} attempts)`, e.hint, e.details);
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms)} ms`;
}

/** The runner every remote adapter builds the same way: config limits, shared error classification, retries metered. */
export function remoteRunner(
  config: Pick<ProviderConfig, 'baseURL' | 'concurrency' | 'timeoutMs' | 'retry' | 'signal'>,
  ctx: ClassifyContext,
  meter: UsageMeter,
): RequestRunner {
  return new RequestRunner({
    provider: ctx.kind,
    label: `${ctx.kind} (${ctx.host})`,
    url: ctx.baseURL,
    concurrency: config.concurrency ?? defaultConcurrency(config.baseURL),
    timeoutMs: config.timeoutMs ?? DEFAULTS.timeoutMs,
    retry: { ...DEFAULT_RETRY, ...config.retry },
    signal: config.signal,
    classify: (e, texts) => classifyError(e, ctx, texts),
    onRetry: () => meter.recordRetry(),
  });
}
