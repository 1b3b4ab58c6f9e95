import { connectionFailure, connectionHint, retryableFailure } from './endpoint';
import { ProviderError } from './errors';
import { formatBytes, responseTooLarge } from './fetch';
import { keyHint } from './keys';
import type { ProviderKind } from './config';
import { safeServerMessage } from './redact';
import { parseRetryAfter } from './retry';

export interface ClassifyContext {
  kind: ProviderKind;
  /** host[:port] of the endpoint, for messages. */
  host: string;
  /** The base URL, for connection messages ("cannot reach http://127.0.0.1:9/v1: connection refused"). */
  baseURL?: string;
  model: string;
  secrets: readonly (string | undefined)[];
}

interface ErrorFields {
  status?: number;
  headers?: Headers;
  message: string;
  code?: string;
  type?: string;
  param?: string;
}

/**
 * Pulls status, headers and the server's message/code/type/param out of an SDK error (openai-node and
 * @anthropic-ai/sdk share the shape: `status`, `headers`, `error` = parsed body or its `error` member). Handles the
 * envelopes of OpenAI ({error:{message,type,param,code}}), vLLM (integer code, exception-name type; old top-level
 * form), llama.cpp (integer code), Ollama (bare string), Azure (string code "429") and Anthropic
 * ({type:"error", error:{type,message}}).
 */
export function errorFields(e: unknown): ErrorFields {
  const o = (typeof e === 'object' && e !== null ? e : {}) as {
    status?: unknown;
    headers?: unknown;
    error?: unknown;
    message?: unknown;
  };
  const status = typeof o.status === 'number' ? o.status : undefined;
  const headers = o.headers instanceof Headers ? o.headers : undefined;
  const body = o.error;
  let inner: Record<string, unknown> | undefined;
  let text: string | undefined;
  if (typeof body === 'string') text = body;
  else if (typeof body === 'object' && body !== null) {
    const b = body as Record<string, unknown>;
    if (typeof b.error === 'object' && b.error !== null) inner = b.error as Record<string, unknown>;
    else if (typeof b.error === 'string') text = b.error;
    else inner = b;
  }
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  let message = text ?? str(inner?.message);
  if (message === undefined) {
    message = typeof o.message === 'string' ? o.message : String(e);
    if (status !== undefined) message = message.replace(new RegExp(`^${status}\\s+`), '');
  }
  return { status, headers, message, code: str(inner?.code), type: str(inner?.type), param: str(inner?.param) };
}

const CONTEXT_RE =
  /maximum context length|context[_ ]length|context window|context size|prompt is too long|too many (input )?tokens|exceeds? (the )?(model'?s? )?(maximum )?context|input is too long/i;
const NO_LOGPROBS_RE =
  /logprobs?[^.]*\b(not supported|not allowed|unsupported|not available)|(not supported|unsupported|not allowed)[^.]*logprobs|Unrecognized request argument supplied: logprobs/i;
const MODEL_RE = /model|deployment/i;

function isConnectionError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const name = (e as { name?: unknown }).name;
  const ctor = (e as { constructor?: { name?: string } }).constructor?.name ?? '';
  if (/APIConnectionError|APIConnectionTimeoutError/.test(String(name)) || /APIConnection/.test(ctor)) return true;
  if (e instanceof TypeError && /terminated|fetch failed|socket|network/i.test(e.message)) return true;
  const code = (e as { code?: unknown; cause?: { code?: unknown } }).cause?.code ?? (e as { code?: unknown }).code;
  return (
    typeof code === 'string' && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|UND_ERR_\w+)$/.test(code)
  );
}

/**
 * Maps a failed attempt to a typed ProviderError with an actionable message. Returns undefined for errors that do
 * not come from the remote call (they are rethrown as they are).
 */
export function classifyError(e: unknown, ctx: ClassifyContext, texts: readonly string[]): ProviderError | undefined {
  if (e instanceof ProviderError) return e;
  const where = `${ctx.kind} (${ctx.host})`;
  const base = { provider: ctx.kind, ...(ctx.baseURL ? { url: ctx.baseURL } : {}) };
  const big = responseTooLarge(e);
  if (big) {
    return new ProviderError(
      'malformed-response',
      `${where} sent a response larger than ${formatBytes(big.limit)}; the tool stopped reading it`,
      'Check that the base URL points at the model API (usually ending in /v1) and not at something else.',
      { ...base, retryable: false },
    );
  }
  if (e instanceof SyntaxError) {
    return new ProviderError(
      'malformed-response',
      `${where} answered with invalid JSON`,
      'The server or a proxy in between returned a broken body. Check the base URL points at the API (usually ending in /v1) and retry.',
      {
        ...base,
        retryable: true,
      },
    );
  }
  const f = errorFields(e);
  if (f.status === undefined) {
    const failure = connectionFailure(e);
    if (failure || isConnectionError(e)) {
      // One line naming the URL and the failure, e.g. "cannot reach http://127.0.0.1:9/v1: connection refused".
      return new ProviderError(
        'connection',
        `${where}: cannot reach ${ctx.baseURL ?? ctx.host}: ${failure?.words ?? 'the connection failed or was dropped'}`,
        connectionHint(failure, ctx.host),
        { ...base, retryable: retryableFailure(failure) },
      );
    }
    return undefined;
  }
  const msg = safeServerMessage(f.message, ctx.secrets, texts);
  const s = f.status;
  const details = { ...base, status: s, retryAfterMs: parseRetryAfter(f.headers) };
  const shouldRetry = f.headers?.get('x-should-retry');
  const retryableDefault = s === 408 || s === 409 || s === 429 || s >= 500;
  const retryable = shouldRetry === 'true' ? true : shouldRetry === 'false' ? false : retryableDefault;
  const lower = `${f.code ?? ''} ${f.type ?? ''}`;

  if (s === 401 || s === 403) {
    return new ProviderError('auth', `${where} refused the request (${s}): ${msg}`, keyHint(ctx.kind), {
      ...details,
      retryable: false,
    });
  }
  if (s === 429 && /insufficient_quota/.test(lower)) {
    return new ProviderError(
      'quota',
      `${where}: quota exhausted: ${msg}`,
      'Check the plan and billing of this API account, or use a local model.',
      { ...details, retryable: false },
    );
  }
  if (s === 429 || s === 529 || /overloaded|rate_limit/.test(lower)) {
    return new ProviderError(
      'rate-limit',
      `${where} is rate-limiting or overloaded (${s}): ${msg}`,
      'Lower the concurrency setting, wait, or raise the rate limit of this API account.',
      { ...details, retryable },
    );
  }
  if (s === 404 || s === 400 || s === 413 || s === 422) {
    if (
      /context_length_exceeded|exceed_context_size|request_too_large/.test(lower) ||
      CONTEXT_RE.test(f.message) ||
      s === 413
    ) {
      return new ProviderError(
        'context-too-long',
        `${where}: the prompt does not fit the context window of ${ctx.model}: ${msg}`,
        'Use fewer or shorter examples per prompt, or a model with a longer context window.',
        { ...details, retryable: false },
      );
    }
    if (
      (f.param === 'logprobs' || f.param === 'top_logprobs') &&
      /unsupported|not supported|not allowed/i.test(`${f.code ?? ''} ${f.message}`)
    ) {
      return noLogprobsError(ctx, msg, details);
    }
    if (NO_LOGPROBS_RE.test(f.message)) return noLogprobsError(ctx, msg, details);
    if (
      /model_not_found|DeploymentNotFound|not_found_error/.test(lower) ||
      (MODEL_RE.test(f.message) &&
        /not (be )?found|does not exist|not exist|unknown model|no such model|try pulling/i.test(f.message))
    ) {
      return new ProviderError(
        'model-not-found',
        `${where} does not know the model "${ctx.model}": ${msg}`,
        modelHint(ctx),
        { ...details, retryable: false },
      );
    }
    if (s === 404) {
      return new ProviderError(
        'bad-request',
        `${where}: endpoint not found (404): ${msg}`,
        'Check the base URL: OpenAI-compatible servers usually want it to end in /v1 (e.g. http://127.0.0.1:11434/v1 for Ollama).',
        { ...details, retryable: false },
      );
    }
    return new ProviderError(
      'bad-request',
      `${where} rejected the request (${s}): ${msg}`,
      'Check the model and its settings; if the server is not OpenAI itself, check that it supports this endpoint.',
      { ...details, retryable: false },
    );
  }
  if (s >= 500 || retryable) {
    return new ProviderError(
      'server',
      `${where} failed (${s}): ${msg}`,
      'The server had a problem; retry later. For a local server, check its log.',
      { ...details, retryable },
    );
  }
  return new ProviderError(
    'bad-request',
    `${where} rejected the request (${s}): ${msg}`,
    'Check the model and the base URL.',
    { ...details, retryable: false },
  );
}

export function noLogprobsError(
  ctx: Pick<ClassifyContext, 'kind' | 'model'>,
  serverMessage?: string,
  details: ProviderError['details'] = {},
): ProviderError {
  return new ProviderError(
    'no-logprobs',
    `${ctx.kind} model "${ctx.model}" returns no next-token logprobs${serverMessage ? `: ${serverMessage}` : ''}`,
    NO_LOGPROBS_FIX,
    { provider: ctx.kind, ...details, retryable: false },
  );
}

/** The fix the probe and the errors name when a model has no logprobs. */
export const NO_LOGPROBS_FIX =
  'DP few-shot needs next-token logprobs: use gpt-4.1-mini, or a local vLLM/Ollama/llama.cpp model. Aug-PE works with this model (it needs only generation and embeddings).';

function modelHint(ctx: ClassifyContext): string {
  if (ctx.kind === 'azure') return 'For Azure the model setting is the deployment name; check it in the Azure portal.';
  if (ctx.kind === 'anthropic') return 'Check the model id, e.g. claude-haiku-4-5 or claude-sonnet-4-5.';
  return 'Check the model id (for Ollama, `ollama pull` it first; for vLLM, use the name given with --served-model-name).';
}
