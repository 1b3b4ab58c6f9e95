/**
 * A fake OpenAI-compatible HTTP server for tests and benchmarks. It listens on 127.0.0.1 (port 0) and reproduces
 * the response shapes and quirks of OpenAI, Azure OpenAI, vLLM, llama.cpp, Ollama and LM Studio, plus Anthropic's
 * /v1/messages, as documented by each server (summary in docs/BACKGROUND.md §4):
 *
 * - openai:   chat logprobs.content[] with bytes; `top_logprobs: []` with logprobs alone; top_logprobs ≤ 20 (400
 * above);
 *             unknown body fields rejected ("Unrecognized request argument"); /v1/completions only for *-instruct
 *             models (legacy arrays, logprobs ≤ 5); embeddings in float or base64.
 * - azure:    /openai/deployments/{deployment}/{op}?api-version=…, `api-key` header, content-filter fields, response
 *             `model` is the underlying model, top_logprobs capped at 5 (400 above, or truncated), 429 body with
 *             string code and retry-after / retry-after-ms.
 * - vllm:     chat adds reasoning_content/tool_calls/stop_reason and a trailing EOS entry (-9999, bytes []);
 *             prefill only with continue_final_message + add_generation_prompt:false; /v1/completions legacy arrays
 *             (text_offset from 0, sampled token first); integer error codes; --max-logprobs 20.
 * - llamacpp: /v1/completions answers in the CHAT shape (content[] with `id`); logprobs:true alone gives 20;
 *             zero probability is -3.4028234663852886e+38; logprobs key absent when not requested; n ≠ 1 rejected;
 *             `timings`; a trailing assistant message is continued.
 * - ollama:   /v1/completions accepts logprobs but returns none; chat entries omit bytes; n ignored (one choice);
 *             system_fingerprint fp_ollama; top_logprobs > 20 → 400; a trailing assistant message is continued.
 * - lmstudio: no logprobs anywhere.
 *
 * The "model" is deterministic and pluggable: `model(context)` returns the next-token distribution for a context
 * string (the prompt for completions; a simple chat template for chat, see `chatContext`). Tokens are produced by
 * `tokenize`. Faults (429 storms, slow answers, dropped connections, malformed JSON, any status) are injected per
 * request through `fault`. `latencyMs` delays every answer (the DP few-shot benchmark uses 100 ms).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { encodeEmbeddingBase64 } from '../../src/core/providers/embeddings';

export type Flavour = 'openai' | 'azure' | 'vllm' | 'llamacpp' | 'ollama' | 'lmstudio';

export interface TokenLp {
  token: string;
  logprob: number;
}

/** Next-token distribution after `context`, as log-probabilities (need not be sorted; -Infinity = impossible). */
export type FakeModel = (context: string) => TokenLp[];

export type Fault =
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'rate-limit'; retryAfter?: string; retryAfterMs?: string }
  | { kind: 'slow'; ms: number }
  | { kind: 'drop' }
  | { kind: 'drop-mid-body' }
  | { kind: 'malformed' }
  /** A 200 JSON body of `bytes` bytes (a huge string field), streamed; without Content-Length when `chunked`. */
  | { kind: 'huge'; bytes: number; chunked?: boolean };

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  /** ms since the server started. */
  at: number;
  /** The status answered (undefined for dropped connections and malformed bodies). */
  status?: number;
  /** The JSON answered with status 200 (its `usage` is what the client must count). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  response?: any;
}

export interface FakeServerOptions {
  flavour?: Flavour;
  /** Known model ids; other models get the flavour's 404. Undefined: every model exists (llama.cpp ignores it anyway).
   * */
  models?: string[];
  /** Models that embed; others get a 400 on /embeddings. Undefined: every model embeds. */
  embeddingModels?: string[];
  /** Required key (Bearer, api-key or x-api-key by flavour). Undefined: no auth. */
  apiKey?: string;
  /** Delay before every answer. */
  latencyMs?: number;
  model?: FakeModel;
  /** Largest top_logprobs accepted (default by flavour: openai 20, azure 5, vllm 20, ollama 20, llama.cpp ∞). */
  maxTopLogprobs?: number;
  /** Above the cap: 'reject' with the flavour's 400 (default) or 'truncate' (newer Azure gpt-4o: accepts 20, returns
   * 5). */
  capBehaviour?: 'reject' | 'truncate';
  /** Shortens top lists (vLLM may return fewer than asked): how many alternatives position `i` gets. */
  topListLength?: (requested: number, position: number) => number;
  /** Accept logprob parameters but never return logprobs (LM Studio always; Ollama before 0.12.11). */
  ignoreLogprobs?: boolean;
  /** Logprobs at the sampling temperature (log-softmax of logits/T; one-hot at T = 0), as some servers do. */
  temperatureScaledLogprobs?: boolean;
  /** Emulate a reasoning model: 400 "Unsupported parameter: 'logprobs'" and no temperature other than 1. */
  noLogprobs?: boolean;
  /** Context window in tokens (prompt + max tokens); above it the flavour's context-length error. */
  contextLimit?: number;
  /**
   * Refuses every request with a prompt (chat context, completions prompt — a list is refused as a whole when one of
   * its prompts is, as OpenAI and vLLM do — or embedding input) for which this returns true, with the flavour's 400
   * context-length error (which names the prompt's token count, as the real servers do).
   */
  refuse?: (text: string) => boolean;
  embeddingDim?: number;
  /** Ignore encoding_format and always answer embeddings this way (some local servers only send floats). */
  embeddingsAlways?: 'float' | 'base64';
  /** Azure: the model name reported in responses (the deployment name is in the URL). */
  azureModelName?: string;
  /** Per-request fault injection; `n` counts requests from 0 (including faulted ones). */
  fault?: (req: RecordedRequest, n: number) => Fault | undefined;
}

export interface FakeServer {
  /** What to use as the provider's base URL (…/v1; for azure the origin). */
  baseURL: string;
  origin: string;
  readonly requests: RecordedRequest[];
  /** Requests being answered right now, and the most seen at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Change behaviour between tests. */
  set(opts: Partial<FakeServerOptions>): void;
  /** Forget recorded requests and the in-flight maximum. */
  reset(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------------
// Deterministic tokenizer and model

/** Words with their leading whitespace, single punctuation marks, and runs of trailing whitespace. */
export function tokenize(text: string): string[] {
  return text.match(/\s*(?:[\p{L}\p{N}']+|[^\s\p{L}\p{N}])|\s+/gu) ?? [];
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const DEFAULT_VOCAB = [
  ' the',
  ' a',
  ' my',
  ' card',
  ' account',
  ' money',
  ' transfer',
  ' is',
  ' not',
  ' working',
  ' I',
  ' want',
  ' to',
  ' pay',
  ' help',
  ' please',
  ' why',
  ' did',
  ' get',
  ' charged',
  ' top',
  ' up',
  ' declined',
  ' refund',
  ' pending',
  '.',
  ',',
  '?',
  '"',
  '\n',
];

/**
 * The default fake model: the next token follows the bigram counts of the context's own tokens (so examples in a
 * prompt pull the distribution toward their words), mixed with a hashed, context-dependent background over a
 * fixed vocabulary. Deterministic, normalised.
 */
export function bigramModel(vocab: readonly string[] = DEFAULT_VOCAB, background = 0.2): FakeModel {
  return (context) => {
    const toks = tokenize(context);
    const last = toks.at(-1) ?? '';
    const counts = new Map<string, number>();
    for (let i = 0; i + 1 < toks.length; i++)
      if (toks[i] === last) counts.set(toks[i + 1]!, (counts.get(toks[i + 1]!) ?? 0) + 1);
    const all = [...new Set([...vocab, ...counts.keys()])];
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const weights = all.map((t) => 1 + (fnv1a(`${last}|${t}`) % 1000) / 250); // 1..5, depends on the last token
    const wsum = weights.reduce((a, b) => a + b, 0);
    return all.map((token, i) => {
      const p =
        (total ? (1 - background) * ((counts.get(token) ?? 0) / total) : 0) +
        (total ? background : 1) * (weights[i]! / wsum);
      return { token, logprob: Math.log(p) };
    });
  };
}

/** Sorted by logprob descending; ties by token (so "greedy" is well defined). */
export function sortDist(d: TokenLp[]): TokenLp[] {
  return [...d].sort((a, b) => b.logprob - a.logprob || (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
}

/** What a chat request's context looks like to the fake model. */
export function chatContext(messages: { role: string; content: unknown }[], continueFinal: boolean): string {
  const text = (c: unknown) =>
    typeof c === 'string' ? c : Array.isArray(c) ? c.map((p: { text?: string }) => p?.text ?? '').join('') : '';
  const last = messages[messages.length - 1];
  const head = continueFinal && last?.role === 'assistant' ? messages.slice(0, -1) : messages;
  let ctx = head.map((m) => `<|${m.role}|>\n${text(m.content)}\n`).join('');
  ctx += '<|assistant|>\n';
  if (continueFinal && last?.role === 'assistant') ctx += text(last.content);
  return ctx;
}

export interface Step {
  token: string;
  logprob: number;
  top: TokenLp[];
}

/** The model's own continuation of `context`: greedy at temperature 0, else a deterministic pseudo-random sample. */
export function rollout(
  model: FakeModel,
  context: string,
  maxTokens: number,
  opts: { temperature?: number; seed?: string; stop?: string[] } = {},
): { steps: Step[]; text: string; finish: 'stop' | 'length' } {
  const steps: Step[] = [];
  let text = '';
  let ctx = context;
  for (let i = 0; i < maxTokens; i++) {
    const dist = sortDist(model(ctx));
    let pick = dist[0]!;
    if ((opts.temperature ?? 0) > 0) {
      const u = (fnv1a(`${opts.seed ?? ''}|${ctx}|${i}`) % 1_000_000) / 1_000_000;
      const t = opts.temperature!;
      const ws = dist.map((d) => Math.exp(d.logprob / t));
      const sum = ws.reduce((a, b) => a + b, 0);
      let acc = 0;
      for (let j = 0; j < dist.length; j++) {
        acc += ws[j]! / sum;
        if (u < acc) {
          pick = dist[j]!;
          break;
        }
      }
    }
    steps.push({ token: pick.token, logprob: pick.logprob, top: dist });
    text += pick.token;
    ctx += pick.token;
    const hit = opts.stop?.find((s) => s && text.includes(s));
    if (hit) {
      text = text.slice(0, text.indexOf(hit));
      return { steps, text, finish: 'stop' };
    }
  }
  return { steps, text, finish: 'length' };
}

/** Re-expresses the steps' logprobs at temperature `t` (what temperature-scaling servers report). */
export function scaleSteps(steps: Step[], t: number): Step[] {
  const scale = (top: TokenLp[]) => {
    if (t <= 0) return top.map((x, i) => ({ token: x.token, logprob: i === 0 ? 0 : -Infinity }));
    const z = top.map((x) => x.logprob / t);
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
    return top.map((x, i) => ({ token: x.token, logprob: z[i]! - lse }));
  };
  return steps.map((st) => {
    const top = scale(st.top);
    return { token: st.token, logprob: top.find((x) => x.token === st.token)?.logprob ?? -Infinity, top };
  });
}

/** The deterministic embedding the fake returns: hashed character trigrams, L2-normalised. */
export function fakeEmbedding(text: string, dim = 16): Float32Array {
  const v = new Float32Array(dim);
  const s = ` ${text.toLowerCase()} `;
  for (let i = 0; i + 3 <= s.length; i++) v[fnv1a(s.slice(i, i + 3)) % dim]! += 1;
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < dim; i++) v[i]! /= n;
  return v;
}

// ---------------------------------------------------------------------------------------------------------------------
// Server

const CAPS: Record<Flavour, number> = { openai: 20, azure: 5, vllm: 20, llamacpp: Infinity, ollama: 20, lmstudio: 20 };
const LLAMA_ZERO = -3.4028234663852886e38;

class HttpError {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

export async function startFakeServer(initial: FakeServerOptions = {}): Promise<FakeServer> {
  let opts: FakeServerOptions = { ...initial };
  const started = Date.now();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<{ t: NodeJS.Timeout; done: () => void }>();
  let inFlight = 0;
  let maxInFlight = 0;
  let counter = 0;
  let idSeq = 0;

  const flavour = () => opts.flavour ?? 'openai';
  const model = () => opts.model ?? bigramModel();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const entry = { t: setTimeout(() => (timers.delete(entry), resolve()), ms), done: resolve };
      timers.add(entry);
    });

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let rec: RecordedRequest | undefined;
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = undefined;
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k.toLowerCase()] = v;
      rec = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body,
        at: Date.now() - started,
      };
      requests.push(rec);
      const n = counter++;
      const fault = opts.fault?.(rec, n);
      if (fault?.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'slow') await sleep(fault.ms);
      if (opts.latencyMs) await sleep(opts.latencyMs);
      if (res.destroyed || req.socket.destroyed) return;
      if (fault?.kind === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"id":"chatcmpl-broken","object":"chat.completion","choices":[{"index":0,"message":{"role":"assist');
        return;
      }
      if (fault?.kind === 'huge') {
        await sendHuge(res, fault.bytes, fault.chunked ?? false);
        return;
      }
      if (fault?.kind === 'drop-mid-body') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4000' });
        res.write('{"id":"chatcmpl-cut","object":"chat.completion","choices":[');
        setTimeout(() => req.socket.destroy(), 5);
        return;
      }
      if (fault?.kind === 'rate-limit') throw rateLimit(fault);
      if (fault?.kind === 'status')
        throw new HttpError(
          fault.status,
          fault.body ?? {
            error: { message: `injected ${fault.status}`, type: 'server_error', param: null, code: null },
          },
          fault.headers,
        );
      const out = route(rec);
      rec.status = 200;
      rec.response = out;
      send(res, 200, out);
    } catch (e) {
      if (e instanceof HttpError) {
        if (rec) rec.status = e.status;
        send(res, e.status, e.body, e.headers);
      } else
        send(res, 500, {
          error: { message: `fake server bug: ${(e as Error).message}`, type: 'server_error', param: null, code: null },
        });
    } finally {
      inFlight--;
    }
  }

  async function sendHuge(res: ServerResponse, bytes: number, chunked: boolean) {
    const head = '{"id":"cmpl-huge","object":"text_completion","choices":[],"padding":"';
    const tail = '"}';
    const pad = Math.max(0, bytes - head.length - tail.length);
    res.writeHead(200, {
      'content-type': 'application/json',
      ...(chunked ? {} : { 'content-length': String(head.length + pad + tail.length) }),
    });
    res.write(head);
    const block = 'x'.repeat(64 * 1024);
    for (let left = pad; left > 0 && !res.destroyed; left -= block.length) {
      const ok = res.write(left >= block.length ? block : block.slice(0, left));
      if (!ok)
        await new Promise<void>((r) => {
          const done = () => (res.off('drain', done), res.off('close', done), r());
          res.on('drain', done);
          res.on('close', done);
        });
    }
    if (!res.destroyed) res.end(tail);
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    if (res.destroyed || res.headersSent) return;
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${++idSeq}`, ...headers });
    res.end(JSON.stringify(body));
  }

  // ---- errors in each flavour's envelope -------------------------------------------------------------------------

  function err(
    status: number,
    message: string,
    extra: { type?: string; param?: string | null; code?: string | null } = {},
  ): HttpError {
    const f = flavour();
    if (f === 'vllm')
      return new HttpError(status, {
        error: { message, type: status === 404 ? 'NotFoundError' : 'BadRequestError', param: null, code: status },
      });
    if (f === 'llamacpp')
      return new HttpError(status, {
        error: {
          code: status,
          message,
          type: extra.type ?? (status === 404 ? 'not_found_error' : 'invalid_request_error'),
        },
      });
    if (f === 'ollama')
      return new HttpError(status, {
        error: { message, type: status === 404 ? 'not_found_error' : 'invalid_request_error', param: null, code: null },
      });
    return new HttpError(status, {
      error: {
        message,
        type: extra.type ?? 'invalid_request_error',
        param: extra.param ?? null,
        code: extra.code ?? null,
      },
    });
  }

  function rateLimit(f: { retryAfter?: string; retryAfterMs?: string }): HttpError {
    const headers: Record<string, string> = {
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1s',
    };
    if (f.retryAfter !== undefined) headers['retry-after'] = f.retryAfter;
    if (f.retryAfterMs !== undefined) headers['retry-after-ms'] = f.retryAfterMs;
    if (flavour() === 'azure')
      return new HttpError(
        429,
        { error: { code: '429', message: `Rate limit is exceeded. Try again in ${f.retryAfter ?? 1} seconds.` } },
        headers,
      );
    return new HttpError(
      429,
      {
        error: {
          message:
            'Rate limit reached for requests in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1.',
          type: 'requests',
          param: null,
          code: 'rate_limit_exceeded',
        },
      },
      headers,
    );
  }

  function checkAuth(rec: RecordedRequest) {
    if (!opts.apiKey) return;
    const f = flavour();
    const given =
      f === 'azure'
        ? (rec.headers['api-key'] ?? rec.headers.authorization?.replace(/^Bearer /, ''))
        : rec.headers.authorization?.replace(/^Bearer /, '');
    if (given === opts.apiKey) return;
    if (f === 'azure')
      throw new HttpError(401, {
        error: {
          code: '401',
          message:
            'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
        },
      });
    const shown = given ? `${given.slice(0, 3)}****${given.slice(-4)}` : '';
    throw err(
      401,
      `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      { type: 'invalid_request_error', code: 'invalid_api_key' },
    );
  }

  function checkModel(name: unknown) {
    if (flavour() === 'llamacpp' || !opts.models) return;
    if (typeof name === 'string' && opts.models.includes(name)) return;
    const f = flavour();
    if (f === 'ollama') throw err(404, `model "${String(name)}" not found, try pulling it first`);
    if (f === 'vllm') throw err(404, `The model \`${String(name)}\` does not exist.`);
    throw err(404, `The model \`${String(name)}\` does not exist or you do not have access to it.`, {
      code: 'model_not_found',
    });
  }

  function checkRefusal(text: string, maxTokens: number) {
    if (!opts.refuse?.(text)) return;
    const limit = opts.contextLimit ?? 4096;
    contextError(Math.max(limit + 1, tokenize(text).length), maxTokens, limit);
  }

  function checkContext(contextTokens: number, maxTokens: number) {
    if (opts.contextLimit === undefined || contextTokens + maxTokens <= opts.contextLimit) return;
    contextError(contextTokens, maxTokens, opts.contextLimit);
  }

  function contextError(contextTokens: number, maxTokens: number, limit: number): never {
    const f = flavour();
    if (f === 'llamacpp') {
      throw new HttpError(400, {
        error: {
          code: 400,
          message: `the request exceeds the available context size, try increasing it`,
          type: 'exceed_context_size_error',
          n_prompt_tokens: contextTokens,
          n_ctx: limit,
        },
      });
    }
    throw err(
      400,
      `This model's maximum context length is ${limit} tokens. However, you requested ${contextTokens + maxTokens} tokens (${contextTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`,
      {
        param: 'messages',
        code: 'context_length_exceeded',
      },
    );
  }

  /** How many alternatives to return, or a 400 when the request is above the cap. */
  function topCount(requested: number, endpoint: 'chat' | 'completions'): number {
    const f = flavour();
    const cap = opts.maxTopLogprobs ?? (endpoint === 'completions' && (f === 'openai' || f === 'azure') ? 5 : CAPS[f]);
    if (requested > cap) {
      if (opts.capBehaviour === 'truncate') return cap;
      if (f === 'vllm')
        throw err(400, `Requested sample logprobs of ${requested}, which is greater than max allowed: ${cap}`);
      if (f === 'ollama') throw err(400, `top_logprobs must be between 0 and ${cap}`);
      if (f === 'azure')
        throw err(400, `Invalid value for 'top_logprobs': must be less than or equal to ${cap}.`, {
          param: 'top_logprobs',
        });
      throw err(
        400,
        `Invalid 'top_logprobs': integer above maximum value. Expected a value <= ${cap}, but got ${requested} instead.`,
        { param: 'top_logprobs', code: 'integer_above_max_value' },
      );
    }
    return requested;
  }

  function serialiseLp(x: number): number {
    if (Number.isFinite(x)) return x;
    return flavour() === 'llamacpp' ? LLAMA_ZERO : -9999;
  }

  function bytes(t: string): number[] {
    return [...Buffer.from(t, 'utf8')];
  }

  /** Chat-shape logprob entries for the generated steps. */
  function contentEntries(steps: Step[], k: number): unknown[] {
    const f = flavour();
    const entries = steps.map((s, i) => {
      const n = Math.max(0, Math.min(k, opts.topListLength ? opts.topListLength(k, i) : k));
      const top = s.top.slice(0, n).map((t) => {
        const o: Record<string, unknown> = { token: t.token, logprob: serialiseLp(t.logprob) };
        if (f === 'llamacpp') return { id: fnv1a(t.token) % 32000, ...o, bytes: bytes(t.token) };
        if (f !== 'ollama') o.bytes = bytes(t.token);
        return o;
      });
      const e: Record<string, unknown> = { token: s.token, logprob: serialiseLp(s.logprob) };
      if (f === 'llamacpp') return { id: fnv1a(s.token) % 32000, ...e, bytes: bytes(s.token), top_logprobs: top };
      if (f !== 'ollama') e.bytes = bytes(s.token);
      if (f !== 'ollama' || top.length > 0) e.top_logprobs = top;
      return e;
    });
    if (f === 'vllm' && steps.length > 0) entries.push({ token: '', logprob: -9999.0, bytes: [], top_logprobs: [] });
    return entries;
  }

  function route(rec: RecordedRequest): unknown {
    const f = flavour();
    let p = rec.path;
    if (f === 'azure') {
      if (p.startsWith('/openai/v1/')) p = `/v1/${p.slice('/openai/v1/'.length)}`;
      else {
        const m = /^\/openai\/deployments\/([^/]+)\/(.+)$/.exec(p);
        if (!m) throw new HttpError(404, { error: { code: '404', message: 'Resource not found' } });
        if (!rec.query['api-version'])
          throw new HttpError(400, { error: { code: '400', message: 'api-version query parameter is required.' } });
        rec.body = { ...(typeof rec.body === 'object' && rec.body ? rec.body : {}), model: decodeURIComponent(m[1]!) };
        p = `/v1/${m[2]}`;
      }
    }
    if (p === '/v1/messages') return anthropic(rec);
    checkAuth(rec);
    if (rec.method === 'GET' && p === '/v1/models') {
      const owned = {
        openai: 'openai',
        azure: 'system',
        vllm: 'vllm',
        llamacpp: 'llamacpp',
        ollama: 'library',
        lmstudio: 'organization_owner',
      }[f];
      return {
        object: 'list',
        data: (opts.models ?? ['fake-model']).map((id) => ({ id, object: 'model', created: 0, owned_by: owned })),
      };
    }
    if (rec.method !== 'POST') throw err(404, `Not found: ${rec.method} ${p}`);
    if (p === '/v1/chat/completions') return chat(rec.body);
    if (p === '/v1/completions') return completions(rec.body);
    if (p === '/v1/embeddings') return embeddings(rec.body);
    throw err(404, `Invalid URL (POST ${p})`);
  }

  function baseEnvelope(object: string, modelName: string): Record<string, unknown> {
    const f = flavour();
    const env: Record<string, unknown> = {
      id: `${object === 'text_completion' && f !== 'llamacpp' ? 'cmpl' : 'chatcmpl'}-${++idSeq}`,
      object,
      created: 1_700_000_000,
      model: f === 'azure' ? (opts.azureModelName ?? 'gpt-4o-2024-11-20') : modelName,
    };
    if (f === 'ollama') env.system_fingerprint = 'fp_ollama';
    else if (f === 'llamacpp') env.system_fingerprint = 'b4501-667d7284';
    else if (f === 'openai') env.system_fingerprint = 'fp_fake';
    return env;
  }

  const filters = {
    hate: { filtered: false, severity: 'safe' },
    self_harm: { filtered: false, severity: 'safe' },
    sexual: { filtered: false, severity: 'safe' },
    violence: { filtered: false, severity: 'safe' },
  };

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  function chat(b: any): unknown {
    const f = flavour();
    if (typeof b !== 'object' || b === null || !Array.isArray(b.messages))
      throw err(400, "Missing required parameter: 'messages'.", { param: 'messages' });
    checkModel(b.model);
    if (f === 'openai' || f === 'azure') {
      const known = new Set([
        'model',
        'messages',
        'max_tokens',
        'max_completion_tokens',
        'temperature',
        'top_p',
        'n',
        'stop',
        'logprobs',
        'top_logprobs',
        'stream',
        'seed',
        'logit_bias',
        'user',
        'presence_penalty',
        'frequency_penalty',
        'response_format',
      ]);
      const extra = Object.keys(b).find((k) => !known.has(k));
      if (extra) throw err(400, `Unrecognized request argument supplied: ${extra}`);
      if (b.max_tokens !== undefined && opts.noLogprobs)
        throw err(
          400,
          "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
          { param: 'max_tokens', code: 'unsupported_parameter' },
        );
    }
    if (opts.noLogprobs && (b.logprobs || b.top_logprobs !== undefined)) {
      throw err(400, "Unsupported parameter: 'logprobs' is not supported with this model.", {
        param: 'logprobs',
        code: 'unsupported_parameter',
      });
    }
    if (opts.noLogprobs && b.temperature !== undefined && b.temperature !== 1) {
      throw err(
        400,
        "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported.",
        { param: 'temperature', code: 'unsupported_value' },
      );
    }
    if (b.top_logprobs !== undefined && !b.logprobs)
      throw err(400, "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.", {
        param: 'top_logprobs',
      });
    if (f === 'llamacpp' && (b.n ?? 1) !== 1) throw err(400, 'Only one completion choice is allowed');
    const continueFinal =
      f === 'llamacpp' ||
      f === 'ollama' ||
      (f === 'vllm' && b.continue_final_message === true && b.add_generation_prompt === false);
    if (f === 'vllm' && b.continue_final_message && b.add_generation_prompt !== false)
      throw err(400, 'continue_final_message and add_generation_prompt can not both be true.');
    const ctx = chatContext(b.messages, continueFinal);
    const maxTokens = b.max_completion_tokens ?? b.max_tokens ?? 16;
    checkContext(tokenize(ctx).length, maxTokens);
    checkRefusal(ctx, maxTokens);
    const wantLp = b.logprobs === true && f !== 'lmstudio' && !opts.ignoreLogprobs;
    const k = wantLp ? topCount(b.top_logprobs ?? (f === 'llamacpp' ? 20 : 0), 'chat') : 0;
    const n = f === 'ollama' ? 1 : (b.n ?? 1);
    const seq = ++idSeq;
    const choices = [];
    let completionTokens = 0;
    for (let i = 0; i < n; i++) {
      const r = rollout(model(), ctx, maxTokens, {
        temperature: b.temperature ?? 1,
        seed: `${seq}|${i}`,
        stop: b.stop ? [].concat(b.stop) : undefined,
      });
      if (opts.temperatureScaledLogprobs) r.steps = scaleSteps(r.steps, b.temperature ?? 1);
      completionTokens += r.steps.length;
      const message: Record<string, unknown> = { role: 'assistant', content: r.text };
      if (f === 'openai') Object.assign(message, { refusal: null, annotations: [] });
      if (f === 'vllm') Object.assign(message, { reasoning_content: null, tool_calls: [] });
      const choice: Record<string, unknown> = { index: i, message };
      if (wantLp)
        choice.logprobs = {
          content: contentEntries(r.steps, k),
          ...(f === 'openai' || f === 'azure' ? { refusal: null } : {}),
        };
      else if (f !== 'llamacpp' && f !== 'ollama') choice.logprobs = null;
      choice.finish_reason = r.finish;
      if (f === 'vllm') choice.stop_reason = null;
      if (f === 'azure') choice.content_filter_results = filters;
      choices.push(choice);
    }
    const promptTokens = tokenize(ctx).length;
    const out = baseEnvelope('chat.completion', b.model ?? 'fake-model');
    out.choices = choices;
    out.usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      ...(f === 'openai' ? { completion_tokens_details: { reasoning_tokens: 0 } } : {}),
    };
    if (f === 'azure') out.prompt_filter_results = [{ prompt_index: 0, content_filter_results: filters }];
    if (f === 'llamacpp') out.timings = { prompt_n: promptTokens, predicted_n: completionTokens };
    if (f === 'vllm') out.kv_transfer_params = null;
    return out;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  function completions(b: any): unknown {
    const f = flavour();
    if (typeof b !== 'object' || b === null || (typeof b.prompt !== 'string' && !Array.isArray(b.prompt)))
      throw err(400, "Missing required parameter: 'prompt'.", { param: 'prompt' });
    // A list of prompts in one request (OpenAI legacy completions and vLLM accept it; choice index = prompt × n + i).
    // llama.cpp's OpenAI-compatible route and Ollama take one string only.
    if (
      Array.isArray(b.prompt) &&
      (f === 'ollama' ||
        f === 'llamacpp' ||
        f === 'lmstudio' ||
        !b.prompt.every((x: unknown) => typeof x === 'string') ||
        b.prompt.length === 0)
    ) {
      throw err(400, 'prompt currently only accepts a string', { param: 'prompt' });
    }
    const prompts: string[] = Array.isArray(b.prompt) ? b.prompt : [b.prompt];
    checkModel(b.model);
    if ((f === 'openai' || f === 'azure') && !/instruct|davinci|babbage/.test(String(b.model))) {
      throw err(
        404,
        'This is a chat model and not supported in the v1/completions endpoint. Did you mean to use v1/chat/completions?',
        { param: 'model' },
      );
    }
    if (b.echo && f === 'llamacpp') throw err(400, 'Only no echo is supported');
    if (f === 'llamacpp' && (b.n ?? 1) !== 1) throw err(400, 'Only one completion choice is allowed');
    const maxTokens = b.max_tokens ?? 16;
    for (const prompt of prompts) checkContext(tokenize(prompt).length, maxTokens);
    for (const prompt of prompts) checkRefusal(prompt, maxTokens);
    const wantLp = typeof b.logprobs === 'number' && f !== 'ollama' && f !== 'lmstudio' && !opts.ignoreLogprobs;
    const k = wantLp ? topCount(b.logprobs, 'completions') : 0;
    const n = f === 'ollama' ? 1 : (b.n ?? 1);
    const seq = ++idSeq;
    const choices = [];
    let completionTokens = 0;
    for (let pi = 0; pi < prompts.length; pi++)
      for (let i = 0; i < n; i++) {
        const prompt = prompts[pi]!;
        const r = rollout(model(), prompt, maxTokens, {
          temperature: b.temperature ?? 1,
          seed: pi === 0 ? `${seq}|${i}` : `${seq}|${pi}|${i}`,
          stop: b.stop ? [].concat(b.stop) : undefined,
        });
        if (opts.temperatureScaledLogprobs) r.steps = scaleSteps(r.steps, b.temperature ?? 1);
        completionTokens += r.steps.length;
        const choice: Record<string, unknown> = { text: r.text, index: pi * n + i };
        if (wantLp && f === 'llamacpp') choice.logprobs = { content: contentEntries(r.steps, k) };
        else if (wantLp) {
          let offset = f === 'vllm' ? 0 : prompt.length;
          const text_offset: number[] = [];
          for (const s of r.steps) {
            text_offset.push(offset);
            offset += s.token.length;
          }
          choice.logprobs = {
            tokens: r.steps.map((s) => s.token),
            token_logprobs: r.steps.map((s) => serialiseLp(s.logprob)),
            top_logprobs:
              k === 0 && f !== 'vllm'
                ? null
                : r.steps.map((s, i) => {
                    const n2 = Math.max(0, Math.min(k, opts.topListLength ? opts.topListLength(k, i) : k));
                    // vLLM: the sampled token first, then the top-k (so k or k+1 keys); keys are token strings.
                    const entries =
                      f === 'vllm'
                        ? [{ token: s.token, logprob: s.logprob }, ...s.top.slice(0, n2)]
                        : s.top.slice(0, n2);
                    const dict: Record<string, number> = {};
                    for (const e of entries) if (!(e.token in dict)) dict[e.token] = serialiseLp(e.logprob);
                    return dict;
                  }),
            text_offset,
          };
        } else if (f !== 'ollama') choice.logprobs = null;
        choice.finish_reason = r.finish;
        if (f === 'vllm')
          Object.assign(choice, { stop_reason: null, prompt_logprobs: null, prompt_token_ids: null, token_ids: null });
        choices.push(choice);
      }
    const promptTokens = prompts.reduce((a, x) => a + tokenize(x).length, 0);
    const out = baseEnvelope('text_completion', b.model ?? 'fake-model');
    out.choices = choices;
    out.usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    if (f === 'llamacpp') out.timings = { prompt_n: promptTokens, predicted_n: completionTokens };
    if (f === 'vllm') out.kv_transfer_params = null;
    return out;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  function embeddings(b: any): unknown {
    if (typeof b !== 'object' || b === null || b.input === undefined)
      throw err(400, "Missing required parameter: 'input'.", { param: 'input' });
    checkModel(b.model);
    if (opts.embeddingModels && !opts.embeddingModels.includes(b.model)) {
      throw err(400, `This model does not support embeddings: ${String(b.model)}`, { param: 'model' });
    }
    const inputs: string[] = typeof b.input === 'string' ? [b.input] : b.input;
    for (const text of inputs) checkRefusal(text, 0);
    const encoding = opts.embeddingsAlways ?? (b.encoding_format === 'base64' ? 'base64' : 'float');
    const dim = opts.embeddingDim ?? 16;
    let tokens = 0;
    const data = inputs.map((text, index) => {
      tokens += tokenize(text).length;
      const v = fakeEmbedding(text, dim);
      return {
        object: 'embedding',
        index,
        embedding: encoding === 'base64' ? encodeEmbeddingBase64(v) : Array.from(v),
      };
    });
    return { object: 'list', data, model: b.model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
  }

  function anthropic(rec: RecordedRequest): unknown {
    const aerr = (status: number, type: string, message: string) =>
      new HttpError(status, { type: 'error', error: { type, message }, request_id: `req_${++idSeq}` });
    // The API documents x-api-key; @anthropic-ai/sdk 1.14 sends the key as "Authorization: Bearer". Accept both.
    if (
      opts.apiKey &&
      rec.headers['x-api-key'] !== opts.apiKey &&
      rec.headers.authorization !== `Bearer ${opts.apiKey}`
    )
      throw aerr(401, 'authentication_error', 'invalid x-api-key');
    if (!rec.headers['anthropic-version'])
      throw aerr(400, 'invalid_request_error', 'anthropic-version: header is required');
    const b = rec.body;
    if (typeof b?.max_tokens !== 'number') throw aerr(400, 'invalid_request_error', 'max_tokens: Field required');
    if (opts.models && !opts.models.includes(b.model)) throw aerr(404, 'not_found_error', `model: ${String(b.model)}`);
    const msgs = [...(b.system ? [{ role: 'system', content: b.system }] : []), ...b.messages];
    const last = b.messages[b.messages.length - 1];
    if (last?.role === 'assistant' && typeof last.content === 'string' && /\s$/.test(last.content)) {
      throw aerr(400, 'invalid_request_error', 'messages: final assistant content cannot end with trailing whitespace');
    }
    if (Array.isArray(b.stop_sequences) && b.stop_sequences.some((s: string) => s.trim() === '')) {
      throw aerr(400, 'invalid_request_error', 'stop_sequences: each stop sequence must contain non-whitespace');
    }
    const ctx = chatContext(msgs, true);
    const r = rollout(model(), ctx, b.max_tokens, {
      temperature: b.temperature ?? 1,
      seed: String(requests.length),
      stop: b.stop_sequences,
    });
    return {
      id: `msg_${++idSeq}`,
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: r.text }],
      model: b.model,
      stop_reason: r.finish === 'stop' ? 'stop_sequence' : 'max_tokens',
      stop_sequence: null,
      usage: {
        input_tokens: tokenize(ctx).length,
        output_tokens: r.steps.length,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;

  return {
    get baseURL() {
      return flavour() === 'azure' ? origin : `${origin}/v1`;
    },
    origin,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    set(o) {
      opts = { ...opts, ...o };
    },
    reset() {
      requests.length = 0;
      maxInFlight = inFlight;
      counter = 0;
    },
    close() {
      for (const t of timers) {
        clearTimeout(t.t);
        t.done();
      }
      timers.clear();
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fault for the first `n` requests, then none. */
export function firstN(n: number, fault: Fault): (req: RecordedRequest, i: number) => Fault | undefined {
  return (_req, i) => (i < n ? fault : undefined);
}
