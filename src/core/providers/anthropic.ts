import Anthropic from '@anthropic-ai/sdk';
import { UsageError } from '../errors';
import { NO_LOGPROBS_FIX, type ClassifyContext } from './classify';
import { checkConfig, DEFAULTS, type ProviderConfig } from './config';
import { ProviderError } from './errors';
import { cappedFetch } from './fetch';
import { generateOnly } from './generate-only';
import { keyHint } from './keys';
import { cachedProbe, defaultProbeCache, PROBE, probeKey, raceAbort, type ProbeCache } from './probe';
import { remoteRunner, type RequestRunner } from './runner';
import type { Capabilities, GenerateRequest, GenerateResult, Provider, Usage } from './types';
import { checkGenerateRequest } from './types';
import { UsageMeter } from './usage';

/**
 * Anthropic Messages API (@anthropic-ai/sdk): generation only, with assistant prefill. The API has no logprobs and
 * no embeddings, and the adapter says so (typed errors naming the fix) instead of failing obscurely.
 */
export class AnthropicProvider implements Provider {
  readonly kind = 'anthropic';
  readonly model: string;
  readonly offline = false;
  readonly baseURL: string;
  private readonly client: Anthropic;
  private readonly runner: RequestRunner;
  private readonly meter: UsageMeter;
  private readonly ctx: ClassifyContext;
  private readonly cache: ProbeCache;

  constructor(config: ProviderConfig) {
    checkConfig(config);
    if (config.kind !== 'anthropic') throw new UsageError(`AnthropicProvider cannot serve kind "${config.kind}"`);
    this.model = config.model!.trim();
    this.baseURL = (config.baseURL ?? DEFAULTS.anthropicBaseURL).replace(/\/+$/, '');
    const apiKey = config.apiKey?.trim() || undefined;
    const host = new URL(this.baseURL).host;
    this.ctx = { kind: 'anthropic', host, baseURL: this.baseURL, model: this.model, secrets: [apiKey] };
    if (!apiKey)
      throw new ProviderError('auth', `anthropic (${host}) needs an API key and none was given`, keyHint('anthropic'), {
        provider: 'anthropic',
      });
    this.cache = config.probeCache ?? defaultProbeCache();
    // maxRetries 0: the shared runner retries. logLevel off: ANTHROPIC_LOG=debug must not print prompts.
    this.client = new Anthropic({
      apiKey,
      baseURL: this.baseURL,
      maxRetries: 0,
      timeout: (config.timeoutMs ?? DEFAULTS.timeoutMs) + 5_000,
      logLevel: 'off',
      fetch: cappedFetch(config.maxResponseBytes),
    });
    this.meter = new UsageMeter(config.prices);
    this.runner = remoteRunner(config, this.ctx, this.meter);
  }

  usage(): Usage {
    return this.meter.snapshot();
  }

  /** One 1-token request with a public probe text checks the key and the model; the capabilities are fixed. */
  capabilities(signal?: AbortSignal): Promise<Capabilities> {
    return raceAbort(
      cachedProbe(this.cache, probeKey('anthropic', this.baseURL, this.model), async () => {
        await this.send(
          { messages: [{ role: 'user', content: PROBE.user }], maxTokens: 1 },
          undefined,
          'capability probe',
        );
        return {
          nextTokenLogprobs: null,
          generate: true,
          embed: false,
          server: 'anthropic',
          notes: [
            `Anthropic's API returns no logprobs. ${NO_LOGPROBS_FIX}`,
            'Anthropic has no embeddings: Aug-PE needs another embedder (an OpenAI-compatible embedding model or the built-in one).',
          ],
        };
      }),
      signal,
    );
  }

  // A generate-only model: both refuse with a ProviderError that says what to use instead.
  private readonly refuses = generateOnly('anthropic', () => ({
    logprobs: `anthropic model "${this.model}" returns no next-token logprobs (the Messages API has none)`,
    embeddings: 'anthropic has no embeddings API',
  }));
  readonly nextTokens = this.refuses.nextTokens;
  readonly embed = this.refuses.embed;

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const n = checkGenerateRequest(req);
    const messages = req.messages ?? [{ role: 'user' as const, content: req.prompt! }];
    // The API has no `n`: one request per completion (the runner's concurrency limit applies).
    const texts = await Promise.all(
      Array.from({ length: n }, () =>
        this.send(
          { messages, maxTokens: req.maxTokens, temperature: req.temperature, stop: req.stop },
          req.signal,
          'generate',
        ),
      ),
    );
    return { texts };
  }

  private async send(
    o: {
      messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
      maxTokens: number;
      temperature?: number;
      stop?: string[];
    },
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<string> {
    const system = o.messages
      .filter((m) => m.role === 'system')
      .map((m) => m.content)
      .join('\n\n');
    const turns = o.messages
      .filter((m) => m.role !== 'system')
      .map((m) => ({ role: m.role as 'user' | 'assistant', content: m.content }));
    const last = turns[turns.length - 1];
    // Prefill: the API continues a final assistant turn but rejects one that ends in whitespace.
    if (last?.role === 'assistant') last.content = last.content.trimEnd();
    // Whitespace-only stop sequences are rejected by the API; they are applied below, after the answer arrives.
    const stops = o.stop ?? [];
    const apiStops = stops.filter((s) => s.trim() !== '');
    const body = {
      model: this.model,
      max_tokens: o.maxTokens,
      messages: turns,
      ...(system ? { system } : {}),
      ...(o.temperature !== undefined ? { temperature: Math.min(1, Math.max(0, o.temperature)) } : {}),
      ...(apiStops.length ? { stop_sequences: apiStops } : {}),
    };
    const texts = o.messages.map((m) => m.content);
    const res = await this.runner.run(
      what,
      (s) => this.client.messages.create(body as never, { signal: s }) as Promise<unknown>,
      { signal, texts },
    );
    const msg = (res ?? {}) as { content?: unknown; usage?: Record<string, unknown>; model?: unknown };
    if (!Array.isArray(msg.content)) {
      throw new ProviderError(
        'malformed-response',
        `anthropic (${this.ctx.host}) returned a message without content`,
        'Check the base URL (https://api.anthropic.com).',
        { provider: 'anthropic' },
      );
    }
    const u = msg.usage ?? {};
    const num = (v: unknown) => (typeof v === 'number' ? v : 0);
    this.meter.record(
      typeof msg.model === 'string' ? msg.model : this.model,
      num(u.input_tokens) + num(u.cache_creation_input_tokens) + num(u.cache_read_input_tokens),
      num(u.output_tokens),
      typeof u.input_tokens !== 'number',
    );
    let text = (msg.content as { type?: unknown; text?: unknown }[])
      .filter((b) => b?.type === 'text' && typeof b.text === 'string')
      .map((b) => b.text as string)
      .join('');
    for (const s of stops) {
      const i = text.indexOf(s);
      if (i >= 0) text = text.slice(0, i);
    }
    return text;
  }
}
