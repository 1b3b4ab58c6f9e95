import { UserError } from '../errors';

/**
 * What went wrong when talking to a model. Callers branch on `code`; users read `message` and `hint`.
 * Messages never contain API keys (they are redacted) nor prompt text (server messages that quote the request are
 * withheld).
 */
export type ProviderErrorCode =
  /** The key was missing or rejected (401/403), or the user has not granted the editor's model consent. */
  | 'auth'
  /** 429 (or 529 overloaded) and still failing after the retries. */
  | 'rate-limit'
  /** 429 insufficient_quota: billing, not pacing. Not retried. */
  | 'quota'
  /** The server does not know the model (or Azure deployment). */
  | 'model-not-found'
  /** The model returns no next-token logprobs, so DP few-shot cannot run on it. */
  | 'no-logprobs'
  /** The provider has no embeddings (Anthropic, editor models) or the model does not embed. */
  | 'no-embeddings'
  /** The prompt does not fit the model's context window. */
  | 'context-too-long'
  /** The server answered with something that is not the expected JSON shape. */
  | 'malformed-response'
  /** No answer within the request timeout (after the retries). */
  | 'timeout'
  /** The connection failed or was dropped (after the retries). */
  | 'connection'
  /** 5xx after the retries. */
  | 'server'
  /** Any other 4xx: the request was rejected as invalid. */
  | 'bad-request'
  /** The provider configuration is incomplete (missing key, model, base URL). */
  | 'config';

export class ProviderError extends UserError {
  constructor(
    readonly code: ProviderErrorCode,
    message: string,
    hint?: string,
    readonly details: {
      /** Provider kind, e.g. "openai". */
      provider?: string;
      status?: number;
      /** Whether the shared retry policy may try again. */
      retryable?: boolean;
      /** The server's Retry-After / retry-after-ms in milliseconds, when it sent one. */
      retryAfterMs?: number;
      /** The base URL the failed request went to, when known (messages and the editor's Check Endpoint). */
      url?: string;
    } = {},
  ) {
    super(message, hint);
    this.name = 'ProviderError';
  }

  get retryable(): boolean {
    return this.details.retryable === true;
  }
}

/** True for the error an aborted AbortSignal produces (DOMException "AbortError" or an Error with that name). */
export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

/** The error to throw when `signal` was aborted: its reason when that is an Error, else a standard AbortError. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  return new DOMException(typeof r === 'string' ? r : 'The operation was aborted.', 'AbortError');
}
