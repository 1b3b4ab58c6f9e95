import OpenAI, { AzureOpenAI } from 'openai';
import { UsageError } from '../errors';
import { noLogprobsError, type ClassifyContext } from './classify';
import { checkConfig, DEFAULTS, isHostedOpenAI, type ProviderConfig } from './config';
import { ProviderError } from './errors';
import { cappedFetch } from './fetch';
import { keyHint } from './keys';
import { parseChoiceLogprobs, restrictTop } from './logprobs';
import { completionsBody, ServerAdaptations } from './openai-request';
import {
  batchSteps,
  checkAnswer,
  choiceTexts,
  parseEmbeddings,
  trimSteps,
  usageOf,
  type Endpoint,
} from './openai-response';
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
  GenerateRequest,
  GenerateResult,
  NextTokensRequest,
  NextTokensResult,
  NextTokensStep,
  Provider,
  Usage,
} from './types';
import { checkGenerateRequest } from './types';
import { UsageMeter } from './usage';

/**
 * OpenAI-compatible adapter (openai-node SDK): OpenAI, Azure OpenAI, vLLM, llama.cpp server, Ollama, LM Studio.
 * Differences between these servers are handled by probing behaviour, not by trusting names; see
 * docs/BACKGROUND.md §4 for the shapes and src/core/providers/logprobs.ts for the parsing.
 */

export { CONTINUE_SYSTEM, continuationMessages, detectServer, logprobCap } from './openai-shapes';

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
  /** What the server takes, learnt from its answers (openai-request.ts). */
  private readonly server: ServerAdaptations;

  constructor(private readonly config: ProviderConfig) {
    checkConfig(config);
    if (config.kind !== 'openai' && config.kind !== 'azure')
      throw new UsageError(`OpenAICompatibleProvider cannot serve kind "${config.kind}"`);
    this.kind = config.kind;
    this.model = config.model!.trim();
    this.embeddingModel = config.embeddingModel?.trim() || this.model;
    this.baseURL = (config.baseURL ?? DEFAULTS.openaiBaseURL).replace(/\/+$/, '');
    this.hosted = this.kind === 'azure' || (config.openaiHosted ?? isHostedOpenAI(this.baseURL));
    this.server = new ServerAdaptations(this.model, this.hosted);
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
        completionsBody(this.model, req.prompt + req.continuation, req.positions, k, {
          temperature: lp.logprobTemperature ?? 0,
        }),
        { signal: req.signal, texts, what: 'next tokens' },
      );
      steps = parseChoiceLogprobs(firstChoice(res, this.ctx).logprobs);
    } else {
      const body = this.server.chatBody({
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
          ...completionsBody(this.model, '', positions, k, { temperature }),
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
    return batchSteps(res, chunk.length, { positions, k, malformed: this.malformed, ctx: this.ctx });
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
      if (this.server.maxN !== undefined && want > this.server.maxN) {
        const calls = Math.ceil(want / this.server.maxN);
        const parts = await Promise.all(
          Array.from({ length: calls }, (_, i) =>
            this.generateOnce(req, Math.min(this.server.maxN!, want - i * this.server.maxN!), useCompletions),
          ),
        );
        for (const p of parts) texts.push(...p);
        if (parts.some((p) => p.length === 0)) throw this.malformed('returned no choices');
        continue;
      }
      try {
        const got = await this.generateOnce(req, want, useCompletions);
        if (got.length === 0) throw this.malformed('returned no choices');
        // The server ignores n (Ollama): ask for the rest separately.
        if (got.length < want) this.server.maxN = got.length;
        texts.push(...got);
      } catch (e) {
        if (adaptations++ < 3 && e instanceof ProviderError && e.code === 'bad-request' && this.server.learn(e, want))
          continue;
        throw e;
      }
    }
    return { texts: texts.slice(0, n) };
  }

  private async generateOnce(req: GenerateRequest, n: number, useCompletions: boolean): Promise<string[]> {
    const texts = req.messages ? req.messages.map((m) => m.content) : [req.prompt!];
    let res: Json;
    if (useCompletions) {
      res = await this.post(
        'completions',
        completionsBody(this.model, req.prompt!, req.maxTokens, undefined, {
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
        this.server.chatBody({ messages, maxTokens: req.maxTokens, temperature: req.temperature, n, stop: req.stop }),
        { signal: req.signal, texts, what: 'generate' },
      );
    }
    return choiceTexts(res, useCompletions, this.malformed);
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
    return parseEmbeddings(res, input.length, this.malformed);
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
        return checkAnswer(raw, endpoint, { malformed: this.malformed, ctx: this.ctx, texts: o.texts });
      },
      { signal: o.signal, texts: o.texts },
    );
    const u = usageOf(endpoint, res, body, o.model ?? this.model);
    this.meter.record(u.model, u.input, u.output, u.estimated);
    return res;
  }

  /** The 'malformed-response' error, `what` saying what the server did (bound: the response parsers take it). */
  private readonly malformed = (what: string): ProviderError =>
    new ProviderError(
      'malformed-response',
      `${this.kind} (${this.ctx.host}) ${what}`,
      'The server does not speak the OpenAI API as expected. Check the base URL and the server version.',
      {
        provider: this.kind,
        retryable: false,
      },
    );

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
        this.post('completions', completionsBody(this.model, PROBE.prompt, 2, logprobs, { temperature }), opts),
      chat: (messages, topLogprobs, temperature) =>
        this.post('chat', this.server.chatBody({ messages, maxTokens: 2, temperature, topP: 1, topLogprobs }), opts),
      adapt: (e, n) => this.server.learn(e, n),
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
