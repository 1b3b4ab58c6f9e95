/**
 * The request side of the OpenAI-compatible adapter (openai.ts): the bodies of /v1/completions and
 * /v1/chat/completions, and what a server takes, learnt from its 400s (which max-tokens field, whether it accepts
 * temperature and top_p, how many choices one request may ask for). See docs/BACKGROUND.md §4.
 */
import type { ProviderError } from './errors';
import type { Json } from './openai-shapes';
import type { ChatMessage } from './types';

export interface ChatBodyOptions {
  messages: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  topP?: number;
  n?: number;
  stop?: string[];
  topLogprobs?: number;
}

/** A /v1/completions body (greedy unless a temperature is given; one choice unless n is). */
export function completionsBody(
  model: string,
  prompt: string,
  maxTokens: number,
  logprobs: number | undefined,
  extra: { temperature?: number; n?: number; stop?: string[] } = {},
): Json {
  return {
    model,
    prompt,
    max_tokens: maxTokens,
    temperature: extra.temperature ?? 0,
    top_p: 1,
    n: extra.n ?? 1,
    ...(logprobs !== undefined ? { logprobs } : {}),
    ...(extra.stop?.length ? { stop: extra.stop } : {}),
    stream: false,
  };
}

/**
 * What one server takes, starting from what its host suggests (api.openai.com and Azure: `max_completion_tokens`,
 * no prefill, no vLLM extension fields) and adapted by `learn` from its answers, for the provider's lifetime.
 */
export class ServerAdaptations {
  maxTokensParam: 'max_tokens' | 'max_completion_tokens';
  sendTemperature = true;
  /** The most choices one request returns (a server that ignores n, or refuses n > 1). */
  maxN: number | undefined;

  constructor(
    private readonly model: string,
    private readonly hosted: boolean,
  ) {
    this.maxTokensParam = hosted ? 'max_completion_tokens' : 'max_tokens';
  }

  /** A /v1/chat/completions body as this server takes it. */
  chatBody(o: ChatBodyOptions): Json {
    const last = o.messages[o.messages.length - 1];
    // vLLM continues a trailing assistant message only when told to; llama.cpp and Ollama do it by themselves and
    // ignore these fields. OpenAI/Azure reject unknown fields, and take no prefill anyway.
    const prefill =
      !this.hosted && last?.role === 'assistant' ? { continue_final_message: true, add_generation_prompt: false } : {};
    return {
      model: this.model,
      messages: o.messages.map((m) => ({ role: m.role, content: m.content })),
      [this.maxTokensParam]: o.maxTokens,
      ...(o.temperature !== undefined && this.sendTemperature ? { temperature: o.temperature } : {}),
      ...(o.topP !== undefined && this.sendTemperature ? { top_p: o.topP } : {}),
      ...(o.n !== undefined && o.n !== 1 ? { n: o.n } : {}),
      ...(o.stop?.length ? { stop: o.stop } : {}),
      ...(o.topLogprobs !== undefined ? { logprobs: true, top_logprobs: o.topLogprobs } : {}),
      ...prefill,
      stream: false,
    };
  }

  /** Learns from a 400 about a parameter this server does not take; true when a retry with the change makes sense. */
  learn(e: ProviderError, n: number): boolean {
    const m = e.message;
    if (n > 1 && /\bn\b'?\s*(must|should|is)|only one completion choice|'n'/i.test(m)) {
      this.maxN = 1;
      return true;
    }
    if (this.maxTokensParam === 'max_tokens' && /max_tokens/.test(m) && /max_completion_tokens/.test(m)) {
      this.maxTokensParam = 'max_completion_tokens';
      return true;
    }
    if (
      this.maxTokensParam === 'max_completion_tokens' &&
      /max_completion_tokens/.test(m) &&
      /unsupported|unrecognized|unknown|not supported/i.test(m)
    ) {
      this.maxTokensParam = 'max_tokens';
      return true;
    }
    if (this.sendTemperature && /temperature|top_p/.test(m) && /unsupported|not supported|only the default/i.test(m)) {
      // Reasoning models accept only their default sampling settings.
      this.sendTemperature = false;
      return true;
    }
    return false;
  }
}
