import { UsageError } from '../errors';
import type { ProbeCache } from './probe';
import type { RetryPolicy } from './retry';
import type { ContinuationMode } from './types';
import type { PriceTable } from './usage';

export type ProviderKind = 'openai' | 'azure' | 'anthropic' | 'builtin';
export const PROVIDER_KINDS: readonly ProviderKind[] = ['openai', 'azure', 'anthropic', 'builtin'];

export interface ProviderConfig {
  kind: ProviderKind;
  /**
   * The model id (OpenAI-compatible servers, Anthropic) or the Azure deployment name. Not needed for `builtin`;
   * llama.cpp ignores it but it must still be non-empty.
   */
  model?: string;
  /**
   * openai: defaults to https://api.openai.com/v1; for vLLM/llama.cpp/Ollama/LM Studio e.g. http://127.0.0.1:8000/v1.
   * azure: the resource endpoint https://NAME.openai.azure.com (classic deployment API), or …/openai/v1 (v1 API).
   * anthropic: defaults to https://api.anthropic.com.
   */
  baseURL?: string;
  /** The key. Local servers need none. Never logged; redacted from every error message. */
  apiKey?: string;
  /** The model for `embed`, when it differs from `model` (e.g. text-embedding-3-small). */
  embeddingModel?: string;
  /** Azure classic API version (default 2024-10-21). */
  apiVersion?: string;
  /** Requests in flight at once for this provider (default 4; 16 for a server on this machine — see
   * defaultConcurrency). */
  concurrency?: number;
  /** Per-attempt request timeout in ms (default 60 000). */
  timeoutMs?: number;
  /** Retry policy overrides (maxRetries default 4). */
  retry?: Partial<RetryPolicy>;
  /** Largest response body read, in bytes (default 64 MiB, fetch.ts MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number;
  /** Price table for the cost estimate (default: prices.json; see loadPriceTable for user overrides). */
  prices?: PriceTable;
  /**
   * Treat the endpoint as OpenAI's hosted API (no assistant prefill, no vLLM extension fields, legacy completions
   * only for instruct models). Default: true exactly when the base URL's host is api.openai.com. Set it for a proxy
   * in front of OpenAI.
   */
  openaiHosted?: boolean;
  /** Force the way `nextTokens` continues text instead of probing for the best one. */
  nextTokensMode?: Exclude<ContinuationMode, 'native'>;
  /**
   * `encoding_format` sent to /embeddings. Default: "base64" for api.openai.com and Azure (4× smaller bodies),
   * "float" elsewhere (not every local server supports base64). Both encodings are decoded either way.
   */
  embeddingEncoding?: 'float' | 'base64';
  /** Texts per /embeddings request (default 128). */
  embedBatchSize?: number;
  /** Aborting this cancels everything the provider has in flight or queued. */
  signal?: AbortSignal;
  /** Where probe results are cached (default: one process-wide cache). */
  probeCache?: ProbeCache;
}

export const DEFAULTS = {
  concurrency: 4,
  localConcurrency: 16,
  timeoutMs: 60_000,
  embedBatchSize: 128,
  azureApiVersion: '2024-10-21',
  openaiBaseURL: 'https://api.openai.com/v1',
  anthropicBaseURL: 'https://api.anthropic.com',
} as const;

/** Validates the parts of a config that do not need the network. Throws UsageError naming the field. */
export function checkConfig(c: ProviderConfig): void {
  if (!PROVIDER_KINDS.includes(c.kind))
    throw new UsageError(`unknown provider kind "${String(c.kind)}"`, `Use one of: ${PROVIDER_KINDS.join(', ')}.`);
  if (c.kind !== 'builtin' && !c.model?.trim()) {
    const example =
      c.kind === 'anthropic'
        ? 'claude-haiku-4-5'
        : c.kind === 'azure'
          ? 'your deployment name'
          : 'gpt-4.1-mini, or llama3.2 for Ollama';
    throw new UsageError(`provider "${c.kind}" needs a model`, `Set the model (e.g. ${example}).`);
  }
  if (c.kind === 'azure' && !c.baseURL)
    throw new UsageError(
      'provider "azure" needs a base URL',
      'Set it to your resource endpoint, e.g. https://NAME.openai.azure.com',
    );
  if (c.baseURL !== undefined) {
    let u: URL;
    try {
      u = new URL(c.baseURL);
    } catch {
      throw new UsageError(`base URL ${JSON.stringify(c.baseURL)} is not a URL`, 'Example: http://127.0.0.1:8000/v1');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new UsageError(`base URL must be http(s), got ${u.protocol}`, 'Example: http://127.0.0.1:8000/v1');
    if (u.username || u.password)
      throw new UsageError(
        'base URL must not contain credentials',
        'Put the key in the API key setting or environment variable instead.',
      );
  }
  const positiveInt = (name: string, v: number | undefined) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1))
      throw new UsageError(`${name} must be a whole number ≥ 1, got ${v}`);
  };
  positiveInt('concurrency', c.concurrency);
  positiveInt('timeoutMs', c.timeoutMs);
  positiveInt('maxResponseBytes', c.maxResponseBytes);
  positiveInt('embedBatchSize', c.embedBatchSize);
}

/**
 * Requests in flight by default: 4 for a remote API (rate limits are per key), 16 for a server on this machine
 * (vLLM batches concurrent requests; llama.cpp and Ollama queue what exceeds their slots), so that DP few-shot's
 * concurrent demonstrations do not wait on the client's limit.
 */
export function defaultConcurrency(baseURL: string | undefined): number {
  if (!baseURL) return DEFAULTS.concurrency;
  try {
    const host = new URL(baseURL).hostname;
    const loopback = host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
    return loopback ? DEFAULTS.localConcurrency : DEFAULTS.concurrency;
  } catch {
    return DEFAULTS.concurrency;
  }
}

/** True when the base URL is OpenAI's hosted API (no prefill, top_logprobs ≤ 20, legacy completions only for instruct
 * models). */
export function isHostedOpenAI(baseURL: string | undefined): boolean {
  if (!baseURL) return true;
  try {
    return new URL(baseURL).hostname === 'api.openai.com';
  } catch {
    return false;
  }
}
