import OpenAI, { AzureOpenAI } from 'openai';
import { UsageError } from '../errors';
import { classifyError, noLogprobsError, type ClassifyContext } from './classify';
import { checkConfig, DEFAULTS, isHostedOpenAI, type ProviderConfig } from './config';
import { decodeEmbedding } from './embeddings';
import { ProviderError } from './errors';
import { cappedFetch } from './fetch';
import { keyHint } from './keys';
import { parseChoiceLogprobs, restrictTop } from './logprobs';
import { continuationMessages, firstChoice, type Json } from './openai-shapes';
import {
  cachedProbe,
  defaultProbeCache,
  PROBE,
  probeCapabilities,
  probeKey,
  raceAbort,
  type ProbeCache,
} from './probe';
import { isRequestRefusal, isSettleable, settleEach } from './refusal';
import { remoteRunner, type RequestRunner } from './runner';
import type {
  Capabilities,
  ChatMessage,
  GenerateRequest,
  GenerateResult,
  NextTokensRequest,
  NextTokensResult,
  NextTokensStep,
  Provider,
  Usage,
} from './types';
import { checkGenerateRequest } from './types';
import { estimateTokens, UsageMeter } from './usage';

/**
 * OpenAI-compatible adapter (openai-node SDK): OpenAI, Azure OpenAI, vLLM, llama.cpp server, Ollama, LM Studio.
 * Differences between these servers are handled by probing behaviour, not by trusting names; see
 * docs/BACKGROUND.md §4 for the shapes and src/core/providers/logprobs.ts for the parsing.
 */

export { CONTINUE_SYSTEM, continuationMessages, detectServer, logprobCap } from './openai-shapes';

type Endpoint = 'chat' | 'completions' | 'embeddings';

interface ChatBodyOptions {
  messages: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  topP?: number;
  n?: number;
  stop?: string[];
  topLogprobs?: number;
}

export class OpenAICompatibleProvider implements Provider {
  readonly kind: 'openai' | 'azure';
  readonly model: string;
  readonly offline = false;
  readonly baseURL: string;
  /** api.openai.com or Azure: no prefill, no vLLM extension fields. */
  readonly hosted: boolean;
  private readonly client: OpenAI;
  private readonly runner: RequestRunner;
  private readonly meter: UsageMeter;
  private readonly ctx: ClassifyContext;
  private readonly embeddingModel: string;
  private embeddingEncoding: 'float' | 'base64';
  private readonly embedBatchSize: number;
  private readonly cache: ProbeCache;
  /** Adaptations learnt from the server's answers. */
  private maxTokensParam: 'max_tokens' | 'max_completion_tokens';
  private sendTemperature = true;
  private maxN: number | undefined;

  constructor(private readonly config: ProviderConfig) {
    checkConfig(config);
    if (config.kind !== 'openai' && config.kind !== 'azure')
      throw new UsageError(`OpenAICompatibleProvider cannot serve kind "${config.kind}"`);
    this.kind = config.kind;
    this.model = config.model!.trim();
    this.embeddingModel = config.embeddingModel?.trim() || this.model;
    this.baseURL = (config.baseURL ?? DEFAULTS.openaiBaseURL).replace(/\/+$/, '');
    this.hosted = this.kind === 'azure' || (config.openaiHosted ?? isHostedOpenAI(this.baseURL));
    this.maxTokensParam = this.hosted ? 'max_completion_tokens' : 'max_tokens';
    this.embeddingEncoding = config.embeddingEncoding ?? (this.hosted ? 'base64' : 'float');
    this.embedBatchSize = config.embedBatchSize ?? DEFAULTS.embedBatchSize;
    this.cache = config.probeCache ?? defaultProbeCache();
    const host = new URL(this.baseURL).host;
    const apiKey = config.apiKey?.trim() || undefined;
    this.ctx = { kind: this.kind, host, baseURL: this.baseURL, model: this.model, secrets: [apiKey] };
    if (!apiKey && this.hosted) {
      throw new ProviderError(
        'auth',
        `${this.kind} (${host}) needs an API key and none was given`,
        keyHint(this.kind),
        { provider: this.kind },
      );
    }
    const timeout = (config.timeoutMs ?? DEFAULTS.timeoutMs) + 5_000; // backstop; the runner's own timeout fires first
    // maxRetries 0: the runner's retry policy is the only one. logLevel off: OPENAI_LOG=debug must not print prompts.
    const common = { maxRetries: 0, timeout, logLevel: 'off' as const, fetch: cappedFetch(config.maxResponseBytes) };
    if (this.kind === 'azure' && !/\/openai\/v1$/.test(this.baseURL)) {
      // No `deployment` option: the SDK then takes the deployment from each body's `model`, so embeddings can go to
      // a different deployment (embeddingModel) than chat.
      this.client = new AzureOpenAI({
        ...common,
        endpoint: this.baseURL,
        apiKey,
        apiVersion: config.apiVersion ?? DEFAULTS.azureApiVersion,
      });
    } else {
      // Local servers accept any key; the SDK insists on one, so send a placeholder rather than reading env vars.
      this.client = new OpenAI({
        ...common,
        baseURL: this.baseURL,
        apiKey: apiKey ?? 'no-key',
        ...(this.kind === 'azure' ? { defaultHeaders: { 'api-key': apiKey } } : {}),
      });
    }
    this.meter = new UsageMeter(config.prices);
    this.runner = remoteRunner(config, this.ctx, this.meter);
  }

  usage(): Usage {
    return this.meter.snapshot();
  }

  capabilities(signal?: AbortSignal): Promise<Capabilities> {
    const key = probeKey(this.kind, this.baseURL, this.model, this.embeddingModel);
    return raceAbort(
      cachedProbe(this.cache, key, () => this.probe()),
      signal,
    );
  }

  // ---------------------------------------------------------------------------------------------------------------
  // nextTokens

  async nextTokens(req: NextTokensRequest): Promise<NextTokensResult> {
    if (!Number.isInteger(req.positions) || req.positions < 1)
      throw new RangeError(`positions must be a whole number ≥ 1, got ${req.positions}`);
    if (!Number.isInteger(req.topK) || req.topK < 1)
      throw new RangeError(`topK must be a whole number ≥ 1, got ${req.topK}`);
    const caps = await this.capabilities(req.signal);
    const lp = caps.nextTokenLogprobs;
    if (!lp)
      throw noLogprobsError(
        this.ctx,
        caps.notes.find((n) => /logprob/i.test(n)),
      );
    const k = Math.min(req.topK, lp.maxTopK);
    const texts = [req.prompt, req.continuation];
    let steps: NextTokensStep[] | null;
    if (lp.mode === 'completions') {
      const res = await this.post(
        'completions',
        this.completionsBody(req.prompt + req.continuation, req.positions, k, {
          temperature: lp.logprobTemperature ?? 0,
        }),
        { signal: req.signal, texts, what: 'next tokens' },
      );
      steps = parseChoiceLogprobs(firstChoice(res, this.ctx).logprobs);
    } else {
      const body = this.chatBody({
        messages: continuationMessages(lp.mode, req.prompt, req.continuation),
        maxTokens: req.positions,
        temperature: lp.logprobTemperature ?? 0,
        topP: 1,
        topLogprobs: k,
      });
      const res = await this.post('chat', body, { signal: req.signal, texts, what: 'next tokens' });
      steps = parseChoiceLogprobs(firstChoice(res, this.ctx).logprobs);
    }
    if (steps === null)
      throw noLogprobsError(this.ctx, `the server sent no logprobs for this request (mode ${lp.mode})`);
    steps = trimSteps(steps, req.positions, k);
    if (req.candidates && steps[0])
      steps[0] = { token: steps[0].token, top: restrictTop(steps[0].top, req.candidates) };
    return { steps };
  }

  /** Prompts per batched /v1/completions request. */
  static readonly BATCH_LIMIT = 64;
  /** The server answered a list of prompts at least once. */
  private listAccepted = false;
  /** The server refuses lists of prompts (llama.cpp, Ollama): one request each from then on. */
  private batchRejected = false;

  /**
   * Batches next-token requests into /v1/completions calls with a list of prompts (choice index = prompt index),
   * where the backend returns logprobs there (completions mode), settled per request (see Provider.nextTokensBatch).
   * A list is refused as a whole when one of its prompts is (context length, content filter): the list is then split
   * in halves until the refused prompts stand alone, so every prompt's outcome is the one it gets on its own, whatever
   * the other prompts of the wave hold. Falls back to one request each when the mode is not completions or the
   * server refuses lists (remembered for the provider's lifetime).
   */
  async nextTokensBatch(reqs: NextTokensRequest[]): Promise<(NextTokensResult | ProviderError)[]> {
    if (reqs.length === 0) return [];
    const signal = reqs[0]!.signal;
    const caps = await this.capabilities(signal);
    const lp = caps.nextTokenLogprobs;
    const uniform = reqs.every(
      (r) => r.positions === reqs[0]!.positions && r.topK === reqs[0]!.topK && r.signal === signal && !r.candidates,
    );
    if (!lp || lp.mode !== 'completions' || this.batchRejected || reqs.length === 1 || !uniform)
      return settleEach(reqs, (r) => this.nextTokens(r));
    const { positions, topK } = reqs[0]!;
    if (!Number.isInteger(positions) || positions < 1)
      throw new RangeError(`positions must be a whole number ≥ 1, got ${positions}`);
    const k = Math.min(topK, lp.maxTopK);
    const out: (NextTokensResult | ProviderError)[] = [];
    for (let from = 0; from < reqs.length; from += OpenAICompatibleProvider.BATCH_LIMIT) {
      const chunk = reqs.slice(from, from + OpenAICompatibleProvider.BATCH_LIMIT);
      out.push(...(await this.batchChunk(chunk, positions, k, lp.logprobTemperature ?? 0)));
    }
    return out;
  }

  private async batchChunk(
    chunk: NextTokensRequest[],
    positions: number,
    k: number,
    temperature: number,
  ): Promise<(NextTokensResult | ProviderError)[]> {
    if (chunk.length === 1 || this.batchRejected) return settleEach(chunk, (r) => this.nextTokens(r));
    let res: Json;
    try {
      res = await this.post(
        'completions',
        {
          ...this.completionsBody('', positions, k, { temperature }),
          prompt: chunk.map((r) => r.prompt + r.continuation),
        },
        { signal: chunk[0]!.signal, texts: chunk.flatMap((r) => [r.prompt, r.continuation]), what: 'next tokens' },
      );
    } catch (e) {
      if (!isSettleable(e)) throw e;
      if (!isRequestRefusal(e) || (!this.listAccepted && e.code === 'bad-request')) {
        // A timeout or 5xx after the retries: ask one by one (one more round of retries, not one per halving). Or the
        // server may take no lists: if every prompt then passes alone, the list was the problem.
        const each = await settleEach(chunk, (r) => this.nextTokens(r));
        if (e.code === 'bad-request' && each.every((x) => !(x instanceof ProviderError))) this.batchRejected = true;
        return each;
      }
      const mid = Math.ceil(chunk.length / 2);
      const [a, b] = await Promise.all([
        this.batchChunk(chunk.slice(0, mid), positions, k, temperature),
        this.batchChunk(chunk.slice(mid), positions, k, temperature),
      ]);
      return [...a, ...b];
    }
    this.listAccepted = true;
    const choices = Array.isArray(res.choices) ? (res.choices as { index?: unknown; logprobs?: unknown }[]) : [];
    return chunk.map((_, i) => {
      const c = choices.find((x) => x?.index === i) ?? (choices.length === chunk.length ? choices[i] : undefined);
      if (!c) throw this.malformed(`answered a list of ${chunk.length} prompts with ${choices.length} choices`);
      const steps = parseChoiceLogprobs(c.logprobs);
      if (steps === null) throw noLogprobsError(this.ctx, 'the server sent no logprobs for a batched request');
      return { steps: trimSteps(steps, positions, k) };
    });
  }

  private completionsBody(
    prompt: string,
    maxTokens: number,
    logprobs: number | undefined,
    extra: { temperature?: number; n?: number; stop?: string[] } = {},
  ): Json {
    return {
      model: this.model,
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

  private chatBody(o: ChatBodyOptions): Json {
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

  // ---------------------------------------------------------------------------------------------------------------
  // generate

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const n = checkGenerateRequest(req);
    let useCompletions = false;
    if (req.prompt !== undefined) {
      const caps = await this.capabilities(req.signal);
      useCompletions = caps.nextTokenLogprobs?.mode === 'completions';
    }
    const texts: string[] = [];
    for (let adaptations = 0; texts.length < n;) {
      const want = n - texts.length;
      if (this.maxN !== undefined && want > this.maxN) {
        const calls = Math.ceil(want / this.maxN);
        const parts = await Promise.all(
          Array.from({ length: calls }, (_, i) =>
            this.generateOnce(req, Math.min(this.maxN!, want - i * this.maxN!), useCompletions),
          ),
        );
        for (const p of parts) texts.push(...p);
        if (parts.some((p) => p.length === 0)) throw this.malformed('returned no choices');
        continue;
      }
      try {
        const got = await this.generateOnce(req, want, useCompletions);
        if (got.length === 0) throw this.malformed('returned no choices');
        if (got.length < want) this.maxN = got.length; // the server ignores n (Ollama): ask for the rest separately
        texts.push(...got);
      } catch (e) {
        if (adaptations++ < 3 && e instanceof ProviderError && e.code === 'bad-request' && this.adapt(e, want))
          continue;
        throw e;
      }
    }
    return { texts: texts.slice(0, n) };
  }

  /** Learns from a 400 about a parameter this server does not take; true when a retry with the change makes sense. */
  private adapt(e: ProviderError, n: number): boolean {
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

  private async generateOnce(req: GenerateRequest, n: number, useCompletions: boolean): Promise<string[]> {
    const texts = req.messages ? req.messages.map((m) => m.content) : [req.prompt!];
    let res: Json;
    if (useCompletions) {
      res = await this.post(
        'completions',
        this.completionsBody(req.prompt!, req.maxTokens, undefined, {
          temperature: req.temperature ?? 1,
          n,
          stop: req.stop,
        }),
        { signal: req.signal, texts, what: 'generate' },
      );
    } else {
      const messages = req.messages ?? [{ role: 'user' as const, content: req.prompt! }];
      res = await this.post(
        'chat',
        this.chatBody({ messages, maxTokens: req.maxTokens, temperature: req.temperature, n, stop: req.stop }),
        { signal: req.signal, texts, what: 'generate' },
      );
    }
    const choices = res.choices as unknown[];
    return choices.map((c) => {
      const o = (c ?? {}) as { text?: unknown; message?: { content?: unknown } };
      const t = useCompletions ? o.text : o.message?.content;
      if (t === null || t === undefined) return '';
      if (typeof t !== 'string') throw this.malformed('returned a choice without text');
      return t;
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // embed

  async embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const batches: string[][] = [];
    for (let i = 0; i < texts.length; i += this.embedBatchSize) batches.push(texts.slice(i, i + this.embedBatchSize));
    const parts = await Promise.all(batches.map((b) => this.embedBatch(b, signal)));
    return parts.flat();
  }

  private async embedBatch(input: string[], signal?: AbortSignal, what = 'embed'): Promise<Float32Array[]> {
    let res: Json;
    try {
      res = await this.post(
        'embeddings',
        { model: this.embeddingModel, input, encoding_format: this.embeddingEncoding },
        { signal, texts: input, what, model: this.embeddingModel },
      );
    } catch (e) {
      // A 400 in the probe, or one that speaks of embeddings, means the model does not embed. Any other 400 is about
      // that request (e.g. a private row the server refuses) and is settled per text by the caller (refusal.ts).
      if (
        e instanceof ProviderError &&
        e.code === 'bad-request' &&
        (what === 'capability probe' || /embed/i.test(e.message))
      ) {
        throw new ProviderError(
          'no-embeddings',
          `${e.message}`,
          `Aug-PE needs an embedding model: set one (e.g. text-embedding-3-small, nomic-embed-text for Ollama) or use the built-in embedder.`,
          e.details,
        );
      }
      throw e;
    }
    const data = res.data;
    if (!Array.isArray(data) || data.length !== input.length)
      throw this.malformed(`returned ${Array.isArray(data) ? data.length : 'no'} embeddings for ${input.length} texts`);
    const out: (Float32Array | undefined)[] = new Array(input.length);
    data.forEach((item: unknown, i) => {
      const o = (item ?? {}) as { index?: unknown; embedding?: unknown };
      const idx = typeof o.index === 'number' ? o.index : i;
      const v = decodeEmbedding(o.embedding);
      if (!v || idx < 0 || idx >= input.length || out[idx])
        throw this.malformed('returned an embedding that is neither a float array nor base64 float32');
      out[idx] = v;
    });
    const dim = out[0]!.length;
    if (out.some((v) => v!.length !== dim)) throw this.malformed('returned embeddings of different lengths');
    return out as Float32Array[];
  }

  // ---------------------------------------------------------------------------------------------------------------
  // transport

  /** One API call through the runner (limit, timeout, retries, cancellation), with shape check and usage. */
  private async post(
    endpoint: Endpoint,
    body: Json,
    o: { signal?: AbortSignal; texts: readonly string[]; what: string; model?: string },
  ): Promise<Json> {
    const res = await this.runner.run(
      o.what,
      async (signal) => {
        const opts = { signal };
        const raw: unknown =
          endpoint === 'chat'
            ? await this.client.chat.completions.create(body as never, opts)
            : endpoint === 'completions'
              ? await this.client.completions.create(body as never, opts)
              : await this.client.embeddings.create(body as never, opts);
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
          throw this.malformed(`answered ${endpoint} with something that is not a JSON object`);
        const json = raw as Json;
        if (json.error !== undefined && json.error !== null) {
          // Some servers send errors with status 200 (and streaming-style error objects).
          const m =
            typeof json.error === 'string'
              ? json.error
              : String((json.error as { message?: unknown }).message ?? 'unknown error');
          throw classifyError({ status: 400, error: json.error, message: m }, this.ctx, o.texts)!;
        }
        const list = endpoint === 'embeddings' ? json.data : json.choices;
        if (!Array.isArray(list))
          throw this.malformed(`answered ${endpoint} without ${endpoint === 'embeddings' ? 'data' : 'choices'}`);
        return json;
      },
      { signal: o.signal, texts: o.texts },
    );
    this.recordUsage(endpoint, res, body, o.model ?? this.model);
    return res;
  }

  private recordUsage(endpoint: Endpoint, res: Json, body: Json, model: string): void {
    const u = (res.usage ?? {}) as { prompt_tokens?: unknown; completion_tokens?: unknown };
    const answered = typeof res.model === 'string' && res.model ? res.model : model;
    let input = typeof u.prompt_tokens === 'number' ? u.prompt_tokens : undefined;
    let output =
      typeof u.completion_tokens === 'number'
        ? u.completion_tokens
        : endpoint === 'embeddings' && input !== undefined
          ? 0
          : undefined;
    const estimated = input === undefined || output === undefined;
    if (input === undefined) {
      const src = body.messages ?? body.prompt ?? body.input;
      input = estimateTokens(JSON.stringify(src ?? ''));
    }
    if (output === undefined) {
      output = 0;
      for (const c of (res.choices ?? []) as {
        text?: unknown;
        message?: { content?: unknown };
        logprobs?: unknown;
      }[]) {
        const steps = parseChoiceLogprobs(c?.logprobs);
        const text =
          typeof c?.text === 'string' ? c.text : typeof c?.message?.content === 'string' ? c.message.content : '';
        output += steps ? steps.length : estimateTokens(text);
      }
    }
    this.meter.record(answered, input, output, estimated);
  }

  private malformed(what: string): ProviderError {
    return new ProviderError(
      'malformed-response',
      `${this.kind} (${this.ctx.host}) ${what}`,
      'The server does not speak the OpenAI API as expected. Check the base URL and the server version.',
      {
        provider: this.kind,
        retryable: false,
      },
    );
  }

  /** The capability probe (probe.ts), sending its requests through this provider. */
  private probe(): Promise<Capabilities> {
    const opts = { texts: [], what: 'capability probe' } as const;
    return probeCapabilities({
      kind: this.kind,
      hosted: this.hosted,
      model: this.model,
      embeddingModel: this.embeddingModel,
      forced: this.config.nextTokensMode,
      ctx: this.ctx,
      completions: (logprobs, temperature = 0) =>
        this.post('completions', this.completionsBody(PROBE.prompt, 2, logprobs, { temperature }), opts),
      chat: (messages, topLogprobs, temperature) =>
        this.post('chat', this.chatBody({ messages, maxTokens: 2, temperature, topP: 1, topLogprobs }), opts),
      adapt: (e, n) => this.adapt(e, n),
      embed: () => this.embedBatch([PROBE.embed], undefined, 'capability probe'),
      embedAsFloat: (e) => {
        if (this.embeddingEncoding !== 'base64' || this.config.embeddingEncoding !== undefined) return false;
        if (!/encoding|base64/i.test(e.message)) return false;
        this.embeddingEncoding = 'float';
        return true;
      },
    });
  }
}

/**
 * Keeps `positions` steps with k alternatives each, plus the emitted token when it falls outside them (only possible
 * when sampling at logprobTemperature 1), so that `top` always includes `token`.
 */
function trimSteps(steps: NextTokensStep[], positions: number, k: number): NextTokensStep[] {
  return steps.slice(0, positions).map((s) => {
    const top = s.top.slice(0, k);
    const own = s.top.find((t) => t.token === s.token);
    return { token: s.token, top: own && !top.includes(own) ? [...top, own] : top };
  });
}
