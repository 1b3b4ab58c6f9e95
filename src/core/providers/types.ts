import { UsageError } from '../errors';
import type { ProviderError } from './errors';

/**
 * The one interface both algorithms use to talk to models. Adapters (OpenAI-compatible, Anthropic, the editor's
 * language models, the built-in offline model) implement it and declare what they can do.
 *
 * Privacy note: DP few-shot puts private examples inside `nextTokens` prompts (the provider sees them; DP covers
 * only what is released). Aug-PE sends only synthetic text to `generate`; private text goes only to `embed`.
 * Adapters never log prompt text, completions or keys.
 */

/** A token string and its natural-log probability. */
export interface TokenLogprob {
  token: string;
  logprob: number;
}

export type ContinuationMode =
  /** Plain-prompt completions endpoint (/v1/completions): prompt + continuation is the text to extend. */
  | 'completions'
  /** Chat endpoint that continues a partial assistant message (prefill: vLLM, llama.cpp, Ollama). */
  | 'assistant-prefill'
  /** Chat endpoint without prefill (OpenAI hosted): the continuation is requested inside the user turn. */
  | 'chat-continuation'
  /** The built-in model extends the text directly. */
  | 'native';

export interface Capabilities {
  /** Next-token log-probabilities, or null when the backend returns none. */
  nextTokenLogprobs: null | {
    /** The largest top-k this backend returns (20 on OpenAI, maybe 5 on Azure). */
    maxTopK: number;
    mode: ContinuationMode;
    /** Whether `candidates` can be enforced exactly with logit_bias (tokenizer known). */
    logitBias: boolean;
    /**
     * Optional, adapter-internal: the sampling temperature sent with logprob requests. Absent means 0 (greedy). It is
     * 1 for servers that scale logprobs by the sampling temperature (at 0 they would return a one-hot distribution);
     * then the lookahead tokens are samples, not greedy, but the distributions are the model's.
     */
    logprobTemperature?: number;
  };
  generate: boolean;
  embed: boolean;
  /** Human-readable notes from the probe, e.g. why logprobs are missing and what to use instead. */
  notes: string[];
  /** Optional: the server software the probe recognised ("openai", "azure", "vllm", "llama.cpp", "ollama", …). */
  server?: string;
  /** Optional: the embedding dimension seen by the probe, when `embed` is true. */
  embedDimensions?: number;
}

export interface NextTokensRequest {
  /** The prompt (instruction + examples + label header) as plain text. */
  prompt: string;
  /** The demonstration text released so far; the model continues prompt + continuation. */
  continuation: string;
  /** How many alternatives per position (clamped to the backend's maxTopK). */
  topK: number;
  /**
   * How many positions of the model's own greedy continuation to return (speculative lookahead). 1 means only the
   * next-token distribution.
   */
  positions: number;
  /**
   * Optional: restrict the first position's distribution to these token strings. With `logitBias` the adapter
   * enforces it through logit_bias; otherwise steps[0].top keeps only the candidates found in the returned top-k
   * (a missing candidate is simply absent; callers treat it as below the smallest returned logprob).
   */
  candidates?: string[];
  signal?: AbortSignal;
}

export interface NextTokensStep {
  /** The greedy token the model emitted at this position. */
  token: string;
  /** The top alternatives at this position (including `token`), most likely first. */
  top: TokenLogprob[];
}

export interface NextTokensResult {
  /** steps[0] is the next-token distribution after prompt + continuation; steps[i] follows steps[0..i-1].token. */
  steps: NextTokensStep[];
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface GenerateRequest {
  /** Either chat messages or a plain prompt. */
  messages?: ChatMessage[];
  prompt?: string;
  n?: number;
  maxTokens: number;
  temperature?: number;
  stop?: string[];
  signal?: AbortSignal;
}

export interface GenerateResult {
  texts: string[];
}

export interface Usage {
  /** Successful API calls (capability probes included). */
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Estimated cost in USD from the price table, or 0 when the model is not in it. */
  cost: number;
  /** Optional: attempts that failed and were retried (429, 5xx, timeouts, dropped connections). */
  retries?: number;
  /** Optional: true when some token counts were estimated because the server reported no usage. */
  estimated?: boolean;
}

export interface Provider {
  /** e.g. "openai", "anthropic", "vscode-lm", "builtin". */
  readonly kind: string;
  readonly model: string;
  /** True for the built-in offline model: outputs must be labelled as such. */
  readonly offline: boolean;
  /** Probed once per model and endpoint, then cached. Sends no private data. */
  capabilities(signal?: AbortSignal): Promise<Capabilities>;
  nextTokens(req: NextTokensRequest): Promise<NextTokensResult>;
  /**
   * Optional: several nextTokens requests in as few HTTP requests as the backend allows (a list of prompts in one
   * /v1/completions request on OpenAI legacy completions and vLLM). Settled per request, in order: each entry is
   * what calling nextTokens on that request alone gives — its result, or the settleable ProviderError it fails with
   * (see refusal.ts: a failed list is split until the refused prompts are isolated). Failures that are not about one
   * request (auth, model, no logprobs, abort) are thrown. Adapters that cannot batch simply do not implement it.
   */
  nextTokensBatch?(reqs: NextTokensRequest[]): Promise<(NextTokensResult | ProviderError)[]>;
  generate(req: GenerateRequest): Promise<GenerateResult>;
  embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]>;
  usage(): Usage;
}

/** Checks a generate request's shape (n, maxTokens, exactly one of messages and prompt); returns n. */
export function checkGenerateRequest(req: GenerateRequest): number {
  const n = req.n ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a whole number ≥ 1, got ${n}`);
  if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1)
    throw new RangeError(`maxTokens must be a whole number ≥ 1, got ${req.maxTokens}`);
  if ((req.messages === undefined) === (req.prompt === undefined))
    throw new UsageError('generate needs either messages or a prompt (not both)');
  return n;
}
