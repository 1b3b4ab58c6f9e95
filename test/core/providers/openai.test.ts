import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createProvider, ProviderError, type Capabilities, type ProviderConfig } from '../../../src/core/providers';
import { CONTINUE_SYSTEM, OpenAICompatibleProvider } from '../../../src/core/providers/openai';
import { probeKey } from '../../../src/core/providers/probe';
import { defaultConcurrency } from '../../../src/core/providers/config';
import { DEFAULT_PRICES } from '../../../src/core/providers/usage';
import {
  bigramModel,
  chatContext,
  fakeEmbedding,
  firstN,
  rollout,
  startFakeServer,
  tokenize,
  type FakeServer,
  type FakeServerOptions,
} from '../../support/fake-openai-server';

const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function server(opts: FakeServerOptions): Promise<FakeServer> {
  const s = await startFakeServer(opts);
  servers.push(s);
  return s;
}

const noWait = { sleep: async () => {}, random: () => 0 };

function provider(s: FakeServer, extra: Partial<ProviderConfig> = {}): OpenAICompatibleProvider {
  return createProvider({
    kind: 'openai',
    model: 'm',
    baseURL: s.baseURL,
    probeCache: new Map(),
    retry: noWait,
    ...extra,
  }) as OpenAICompatibleProvider;
}

/** A provider whose capabilities are given (no probe requests), for fault tests. */
function probed(s: FakeServer, caps: Capabilities, extra: Partial<ProviderConfig> = {}) {
  const cfg = { kind: 'openai' as const, model: 'm', baseURL: s.baseURL, retry: noWait, ...extra };
  const cache = new Map([[probeKey('openai', s.baseURL, cfg.model, extra.embeddingModel), Promise.resolve(caps)]]);
  return provider(s, { ...extra, probeCache: cache });
}
const completionsCaps: Capabilities = {
  nextTokenLogprobs: { maxTopK: 20, mode: 'completions', logitBias: false },
  generate: true,
  embed: true,
  notes: [],
};

/** The steps the fake model itself produces for `context`, trimmed to k alternatives. */
function expected(context: string, positions: number, k: number) {
  return rollout(bigramModel(), context, positions).steps.map((s) => ({
    token: s.token,
    top: s.top.slice(0, k).map((t) => ({ token: t.token, logprob: t.logprob })),
  }));
}

const PROMPT = 'Label: card_declined\nText: "my card was declined at the shop"\nLabel: card_declined\nText: "';
const CONT = 'my card';

describe('next tokens on each server', () => {
  test('OpenAI hosted: chat continuation in the user turn, top_logprobs ≤ 20, no prefill fields, no /v1/completions', async () => {
    const s = await server({ flavour: 'openai', apiKey: 'sk-test-key-0001' });
    const p = provider(s, { apiKey: 'sk-test-key-0001', openaiHosted: true, model: 'gpt-4.1-mini' });
    const caps = await p.capabilities();
    assert.deepEqual(caps.nextTokenLogprobs, { maxTopK: 20, mode: 'chat-continuation', logitBias: false });
    assert.equal(caps.server, 'openai');
    assert.ok(caps.notes.some((n) => /chat continuation/.test(n)));
    assert.ok(s.requests.every((r) => r.path !== '/v1/completions' && r.body?.continue_final_message === undefined));
    s.reset();
    const r = await p.nextTokens({ prompt: PROMPT, continuation: CONT, topK: 5, positions: 3 });
    const body = s.requests[0]!.body;
    assert.deepEqual(body.messages, [
      { role: 'system', content: CONTINUE_SYSTEM },
      { role: 'user', content: PROMPT + CONT },
    ]);
    assert.equal(body.logprobs, true);
    assert.equal(body.top_logprobs, 5);
    assert.equal(body.temperature, 0);
    assert.equal(body.top_p, 1);
    assert.equal(body.max_completion_tokens, 3);
    assert.deepEqual(r.steps, expected(chatContext(body.messages, false), 3, 5));
  });

  test('vLLM: /v1/completions with legacy logprob arrays continues prompt + continuation; topK is clamped to 20', async () => {
    const s = await server({ flavour: 'vllm' });
    const p = provider(s);
    const caps = await p.capabilities();
    assert.deepEqual(caps.nextTokenLogprobs, { maxTopK: 20, mode: 'completions', logitBias: false });
    assert.equal(caps.server, 'vllm');
    s.reset();
    const r = await p.nextTokens({ prompt: PROMPT, continuation: CONT, topK: 25, positions: 4 });
    const body = s.requests[0]!.body;
    assert.equal(s.requests[0]!.path, '/v1/completions');
    assert.equal(body.prompt, PROMPT + CONT);
    assert.equal(body.logprobs, 20);
    assert.equal(body.max_tokens, 4);
    assert.equal(body.temperature, 0);
    assert.deepEqual(r.steps, expected(PROMPT + CONT, 4, 20));
  });

  test('vLLM with assistant prefill sends continue_final_message + add_generation_prompt:false and continues the partial message', async () => {
    const s = await server({ flavour: 'vllm' });
    const p = provider(s, { nextTokensMode: 'assistant-prefill' });
    assert.equal((await p.capabilities()).nextTokenLogprobs?.mode, 'assistant-prefill');
    s.reset();
    const r = await p.nextTokens({ prompt: PROMPT, continuation: CONT, topK: 4, positions: 2 });
    const body = s.requests[0]!.body;
    assert.deepEqual(body.messages, [
      { role: 'user', content: PROMPT },
      { role: 'assistant', content: CONT },
    ]);
    assert.equal(body.continue_final_message, true);
    assert.equal(body.add_generation_prompt, false);
    // The fake vLLM only continues the message when both fields are right, so equality proves they were honoured.
    assert.deepEqual(r.steps, expected(chatContext(body.messages, true), 2, 4));
    // Empty continuation: a normal generation prompt, no extension fields.
    await p.nextTokens({ prompt: PROMPT, continuation: '', topK: 4, positions: 1 });
    assert.equal(s.requests[1]!.body.continue_final_message, undefined);
    assert.deepEqual(s.requests[1]!.body.messages, [{ role: 'user', content: PROMPT }]);
  });

  test('llama.cpp: /v1/completions answered in the chat shape; -3.4e38 alternatives are dropped as absent', async () => {
    const model = (ctx: string) => [
      { token: ' yes', logprob: Math.log(0.6) },
      { token: ' no', logprob: Math.log(0.3 + (ctx.length % 2) * 0.05) },
      { token: ' maybe', logprob: Math.log(0.1 - (ctx.length % 2) * 0.05) },
      { token: ' never', logprob: -Infinity },
      { token: ' always', logprob: -Infinity },
    ];
    const s = await server({ flavour: 'llamacpp', model });
    const p = provider(s);
    const caps = await p.capabilities();
    assert.equal(caps.nextTokenLogprobs?.mode, 'completions');
    assert.equal(caps.server, 'llama.cpp');
    s.reset();
    const r = await p.nextTokens({ prompt: 'Q:', continuation: '', topK: 5, positions: 2 });
    const wire = s.requests[0]!.response.choices[0].logprobs.content[0].top_logprobs;
    assert.equal(wire.length, 5);
    assert.equal(wire[4].logprob, -3.4028234663852886e38);
    assert.deepEqual(
      r.steps[0]!.top.map((t) => t.token),
      [' yes', ' no', ' maybe'],
    );
    assert.equal(r.steps[0]!.token, ' yes');
    assert.equal(r.steps.length, 2);
  });

  test('Ollama: /v1/completions returns no logprobs, so next tokens come from chat with the assistant message continued', async () => {
    const s = await server({ flavour: 'ollama' });
    const p = provider(s);
    const caps = await p.capabilities();
    assert.equal(caps.nextTokenLogprobs?.mode, 'assistant-prefill');
    assert.equal(caps.server, 'ollama');
    assert.ok(
      caps.notes.some((n) => /no logprobs.*Ollama/.test(n)),
      caps.notes.join('\n'),
    );
    s.reset();
    const r = await p.nextTokens({ prompt: PROMPT, continuation: CONT, topK: 3, positions: 3 });
    assert.equal(s.requests[0]!.path, '/v1/chat/completions');
    assert.deepEqual(r.steps, expected(chatContext(s.requests[0]!.body.messages, true), 3, 3));
  });

  test('Azure: deployment URL, api-key header, top_logprobs capped at 5 (400 above it), cost from the underlying model', async () => {
    const s = await server({ flavour: 'azure', apiKey: 'azure-key-123456789', azureModelName: 'gpt-4o-2024-11-20' });
    const p = createProvider({
      kind: 'azure',
      model: 'my-deploy',
      baseURL: s.baseURL,
      apiKey: 'azure-key-123456789',
      probeCache: new Map(),
      retry: noWait,
    });
    const caps = await p.capabilities();
    assert.deepEqual(caps.nextTokenLogprobs, { maxTopK: 5, mode: 'chat-continuation', logitBias: false });
    assert.equal(caps.server, 'azure');
    const chatReq = s.requests.find((r) => r.status === 200 && r.path.endsWith('/chat/completions'))!;
    assert.equal(chatReq.path, '/openai/deployments/my-deploy/chat/completions');
    assert.equal(chatReq.query['api-version'], '2024-10-21');
    assert.equal(chatReq.headers['api-key'], 'azure-key-123456789');
    s.reset();
    const r = await p.nextTokens({ prompt: PROMPT, continuation: '', topK: 20, positions: 1 });
    assert.equal(s.requests[0]!.body.top_logprobs, 5);
    assert.equal(r.steps[0]!.top.length, 5);
    const u = s.requests[0]!.response.usage;
    const before = p.usage();
    assert.ok(before.cost > 0);
    // The last call alone: gpt-4o prices (the deployment name is not in the table).
    const price = DEFAULT_PRICES['gpt-4o']!;
    const p2 = createProvider({
      kind: 'azure',
      model: 'my-deploy',
      baseURL: s.baseURL,
      apiKey: 'azure-key-123456789',
      probeCache: new Map([[probeKey('azure', s.baseURL, 'my-deploy'), Promise.resolve(caps)]]),
      retry: noWait,
    });
    await p2.nextTokens({ prompt: PROMPT, continuation: '', topK: 20, positions: 1 });
    assert.ok(
      Math.abs(p2.usage().cost - (u.prompt_tokens * price.input + u.completion_tokens * price.output) / 1e6) < 1e-15,
    );
  });

  test('Azure embeddings go to the embedding deployment, chat to the chat deployment', async () => {
    const s = await server({ flavour: 'azure', apiKey: 'k-123456789' });
    const p = createProvider({
      kind: 'azure',
      model: 'chat-dep',
      embeddingModel: 'emb-dep',
      baseURL: s.baseURL,
      apiKey: 'k-123456789',
      probeCache: new Map(),
      retry: noWait,
    });
    await p.embed(['a', 'b']);
    await p.generate({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 2 });
    assert.deepEqual(
      s.requests.map((r) => r.path),
      ['/openai/deployments/emb-dep/embeddings', '/openai/deployments/chat-dep/chat/completions'],
    );
  });

  test('Azure v1 API (…/openai/v1): plain OpenAI paths with the api-key header', async () => {
    const s = await server({ flavour: 'azure', apiKey: 'k-123456789' });
    const p = createProvider({
      kind: 'azure',
      model: 'dep',
      baseURL: `${s.origin}/openai/v1`,
      apiKey: 'k-123456789',
      probeCache: new Map(),
      retry: noWait,
    });
    const g = await p.generate({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 2 });
    assert.equal(g.texts.length, 1);
    assert.equal(s.requests[0]!.path, '/openai/v1/chat/completions');
    assert.equal(s.requests[0]!.headers['api-key'], 'k-123456789');
    assert.equal(s.requests[0]!.body.model, 'dep');
  });

  test('Azure deployments that accept 20 but return 5: the probe measures the real width', async () => {
    const s = await server({ flavour: 'azure', apiKey: 'k-123456789', capBehaviour: 'truncate' });
    const p = createProvider({
      kind: 'azure',
      model: 'd',
      baseURL: s.baseURL,
      apiKey: 'k-123456789',
      probeCache: new Map(),
      retry: noWait,
    });
    assert.equal((await p.capabilities()).nextTokenLogprobs?.maxTopK, 5);
  });

  test('fewer logprobs than asked are tolerated per position', async () => {
    const s = await server({ flavour: 'vllm', topListLength: (k, i) => (i === 0 ? 2 : k) });
    const p = probed(s, completionsCaps);
    const r = await p.nextTokens({ prompt: PROMPT, continuation: '', topK: 10, positions: 3 });
    assert.deepEqual(
      r.steps.map((x) => x.top.length),
      [2, 10, 10],
    );
    assert.deepEqual(r.steps[0]!.top, expected(PROMPT, 1, 2)[0]!.top);
  });

  test('candidates restrict the first distribution to the tokens found in the top-k', async () => {
    const s = await server({ flavour: 'vllm' });
    const p = probed(s, completionsCaps);
    const full = await p.nextTokens({ prompt: PROMPT, continuation: '', topK: 20, positions: 2 });
    const picks = [full.steps[0]!.top[3]!.token, full.steps[0]!.top[1]!.token, 'not-a-token'];
    const r = await p.nextTokens({ prompt: PROMPT, continuation: '', topK: 20, positions: 2, candidates: picks });
    assert.deepEqual(r.steps[0]!.top, [full.steps[0]!.top[1], full.steps[0]!.top[3]]);
    assert.deepEqual(r.steps[1], full.steps[1]);
  });

  test('LM Studio (no logprobs): capabilities say so and nextTokens fails with the fix', async () => {
    const s = await server({ flavour: 'lmstudio' });
    const p = provider(s);
    const caps = await p.capabilities();
    assert.equal(caps.nextTokenLogprobs, null);
    assert.equal(caps.generate, true);
    await assert.rejects(
      p.nextTokens({ prompt: 'x', continuation: '', topK: 5, positions: 1 }),
      (e: unknown) => e instanceof ProviderError && e.code === 'no-logprobs' && /gpt-4\.1-mini/.test(e.hint ?? ''),
    );
  });

  test('a reasoning model (no logprobs, default temperature only): probe note names the fix; generate still works', async () => {
    const s = await server({ flavour: 'openai', noLogprobs: true });
    const p = provider(s, { openaiHosted: true, apiKey: 'sk-x-12345678', model: 'o4-mini' });
    const caps = await p.capabilities();
    assert.equal(caps.nextTokenLogprobs, null);
    assert.equal(caps.generate, true);
    const note = caps.notes.join('\n');
    assert.match(note, /gpt-4\.1-mini/);
    assert.match(note, /vLLM\/Ollama\/llama\.cpp/);
    assert.match(note, /Aug-PE works with this model/);
    const g = await p.generate({
      messages: [{ role: 'user', content: 'Write a bank question.' }],
      maxTokens: 5,
      temperature: 0.7,
      n: 2,
    });
    assert.equal(g.texts.length, 2);
    assert.equal(s.requests.at(-1)!.body.temperature, undefined);
  });
});

describe('generate', () => {
  test('chat with n, stop and temperature; texts equal the model continuation', async () => {
    const s = await server({ flavour: 'vllm' });
    const p = provider(s);
    const messages = [{ role: 'user' as const, content: 'my card' }];
    const g = await p.generate({ messages, maxTokens: 6, temperature: 0, n: 3, stop: ['?'] });
    const body = s.requests[0]!.body;
    assert.equal(body.n, 3);
    assert.deepEqual(body.stop, ['?']);
    assert.equal(body.max_tokens, 6);
    const want = rollout(bigramModel(), chatContext(messages, false), 6, { stop: ['?'] }).text;
    assert.deepEqual(g.texts, [want, want, want]);
  });

  test('servers that ignore n (Ollama) or reject it (llama.cpp) still yield n texts', async () => {
    for (const flavour of ['ollama', 'llamacpp'] as const) {
      const s = await server({ flavour });
      const p = provider(s);
      const g = await p.generate({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 3, temperature: 1, n: 4 });
      assert.equal(g.texts.length, 4, flavour);
      assert.ok(s.requests.filter((r) => r.status === 200).length >= 4, flavour);
      // Learnt: the next call asks for one completion per request straight away.
      s.reset();
      await p.generate({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 3, n: 2 });
      assert.deepEqual(
        s.requests.map((r) => r.status),
        [200, 200],
        flavour,
      );
    }
  });

  test('a plain prompt uses /v1/completions where next tokens do', async () => {
    const s = await server({ flavour: 'vllm' });
    const p = probed(s, completionsCaps);
    const g = await p.generate({ prompt: 'Text: my', maxTokens: 3, temperature: 0 });
    assert.equal(s.requests[0]!.path, '/v1/completions');
    assert.deepEqual(g.texts, [rollout(bigramModel(), 'Text: my', 3).text]);
  });
});

describe('failures', () => {
  const chat = [{ role: 'user' as const, content: 'hello' }];

  test('a 429 storm with Retry-After: waits what the server asks, then succeeds', async () => {
    const s = await server({ flavour: 'openai', fault: firstN(3, { kind: 'rate-limit', retryAfter: '1' }) });
    const waits: number[] = [];
    const p = provider(s, { retry: { sleep: async (ms) => void waits.push(ms), random: () => 0.5 } });
    const g = await p.generate({ messages: chat, maxTokens: 2 });
    assert.equal(g.texts.length, 1);
    assert.deepEqual(waits, [1050, 1050, 1050]); // 1 s + 10 % × 0.5 jitter
    assert.equal(s.requests.length, 4);
    assert.deepEqual(p.usage().retries, 3);
    assert.equal(p.usage().calls, 1);
  });

  test('retry-after-ms is honoured in real time', async () => {
    const s = await server({
      flavour: 'azure',
      apiKey: 'k-123456789',
      fault: firstN(2, { kind: 'rate-limit', retryAfterMs: '60', retryAfter: '5' }),
    });
    const p = createProvider({
      kind: 'azure',
      model: 'd',
      baseURL: s.baseURL,
      apiKey: 'k-123456789',
      probeCache: new Map(),
    });
    await p.generate({ messages: chat, maxTokens: 2 });
    assert.equal(s.requests.length, 3);
    assert.ok(s.requests[1]!.at - s.requests[0]!.at >= 55, `${s.requests[1]!.at - s.requests[0]!.at}`);
    assert.ok(s.requests[2]!.at - s.requests[1]!.at >= 55);
  });

  test('a storm longer than the retry budget ends in a rate-limit error; a huge Retry-After is not waited for', async () => {
    const s = await server({ flavour: 'openai', fault: () => ({ kind: 'rate-limit', retryAfter: '1' }) });
    const p = provider(s, { retry: { ...noWait, maxRetries: 2 } });
    await assert.rejects(
      p.generate({ messages: chat, maxTokens: 2 }),
      (e: unknown) =>
        e instanceof ProviderError &&
        e.code === 'rate-limit' &&
        /after 3 attempts/.test(e.message) &&
        /concurrency/.test(e.hint ?? ''),
    );
    assert.equal(s.requests.length, 3);
    s.reset();
    s.set({ fault: () => ({ kind: 'rate-limit', retryAfter: '3600' }) });
    await assert.rejects(p.generate({ messages: chat, maxTokens: 2 }), /asks to wait 3600 s/);
    assert.equal(s.requests.length, 1);
  });

  test('a slow response times out and is retried; a server that never answers in time ends in a timeout error', async () => {
    // The retry must answer within the timeout: 2 s (800 ms before) for a request the server answers at once. The
    // first is held 5 s: below the SDK's backstop (timeout + 5 s), so only the runner's timeout ends it.
    const s = await server({ flavour: 'vllm', fault: firstN(1, { kind: 'slow', ms: 5000 }) });
    const p = provider(s, { timeoutMs: 2_000 });
    const g = await p.generate({ messages: chat, maxTokens: 2 });
    assert.equal(g.texts.length, 1);
    assert.equal(s.requests.length, 2);
    s.reset();
    s.set({ fault: () => ({ kind: 'slow', ms: 2000 }) });
    const p2 = provider(s, { timeoutMs: 100, retry: { ...noWait, maxRetries: 1 } });
    await assert.rejects(
      p2.generate({ messages: chat, maxTokens: 2 }),
      (e: unknown) => e instanceof ProviderError && e.code === 'timeout' && /100 ms/.test(e.message),
    );
    assert.equal(s.requests.length, 2);
  });

  test('a dropped connection (before or during the body) is retried; persistent drops end in a connection error', async () => {
    const s = await server({
      flavour: 'vllm',
      fault: (_r, i) => (i === 0 ? { kind: 'drop' } : i === 1 ? { kind: 'drop-mid-body' } : undefined),
    });
    const p = provider(s);
    assert.equal((await p.generate({ messages: chat, maxTokens: 2 })).texts.length, 1);
    assert.equal(s.requests.length, 3);
    s.reset();
    s.set({ fault: () => ({ kind: 'drop' }) });
    await assert.rejects(
      provider(s, { retry: { ...noWait, maxRetries: 1 } }).generate({ messages: chat, maxTokens: 2 }),
      (e: unknown) => e instanceof ProviderError && e.code === 'connection',
    );
    assert.equal(s.requests.length, 2);
  });

  test('malformed JSON is retried, then reported; a JSON body of the wrong shape is reported at once', async () => {
    const s = await server({ flavour: 'vllm', fault: firstN(1, { kind: 'malformed' }) });
    assert.equal((await provider(s).generate({ messages: chat, maxTokens: 2 })).texts.length, 1);
    s.reset();
    s.set({ fault: () => ({ kind: 'malformed' }) });
    await assert.rejects(
      provider(s, { retry: { ...noWait, maxRetries: 1 } }).generate({ messages: chat, maxTokens: 2 }),
      (e: unknown) => e instanceof ProviderError && e.code === 'malformed-response',
    );
    s.reset();
    s.set({ fault: () => ({ kind: 'status', status: 200, body: { id: 'x', object: 'chat.completion' } }) });
    await assert.rejects(
      provider(s).generate({ messages: chat, maxTokens: 2 }),
      (e: unknown) =>
        e instanceof ProviderError && e.code === 'malformed-response' && /without choices/.test(e.message),
    );
    assert.equal(s.requests.length, 1);
  });

  test('the SDK does not retry on its own: with maxRetries 0 one 500 means one request', async () => {
    const s = await server({ flavour: 'vllm', fault: () => ({ kind: 'status', status: 500 }) });
    await assert.rejects(
      provider(s, { retry: { ...noWait, maxRetries: 0 } }).generate({ messages: chat, maxTokens: 2 }),
      (e: unknown) => e instanceof ProviderError && e.code === 'server',
    );
    assert.equal(s.requests.length, 1);
  });

  test('a wrong key: auth error with the key redacted and a hint naming the variables', async () => {
    const key = 'sk-wrong-key-abcdef987654';
    const s = await server({ flavour: 'openai', apiKey: 'sk-right' });
    const p = provider(s, { apiKey: key });
    await assert.rejects(p.generate({ messages: chat, maxTokens: 2 }), (e: unknown) => {
      assert.ok(e instanceof ProviderError && e.code === 'auth');
      assert.ok(!e.message.includes('7654') && !e.message.includes(key), e.message);
      assert.match(e.hint ?? '', /OPENAI_API_KEY/);
      return true;
    });
    assert.equal(s.requests.length, 1, 'auth errors are not retried');
    assert.throws(
      () => createProvider({ kind: 'openai', model: 'gpt-4.1-mini' }),
      (e: unknown) => e instanceof ProviderError && e.code === 'auth',
    );
  });

  test('unknown model, context too long, and server messages that quote the prompt', async () => {
    const s = await server({ flavour: 'ollama', models: ['llama3.2'] });
    await assert.rejects(
      provider(s, { model: 'llama9' }).generate({ messages: chat, maxTokens: 2 }),
      (e: unknown) => e instanceof ProviderError && e.code === 'model-not-found' && /ollama pull/.test(e.hint ?? ''),
    );
    const s2 = await server({ flavour: 'llamacpp', contextLimit: 20 });
    await assert.rejects(
      provider(s2).generate({ messages: [{ role: 'user', content: 'word '.repeat(40) }], maxTokens: 2 }),
      (e: unknown) => e instanceof ProviderError && e.code === 'context-too-long',
    );
    const secret = 'my private account number is 9988776655 and my card was declined';
    const s3 = await server({
      flavour: 'vllm',
      fault: () => ({
        kind: 'status',
        status: 400,
        body: { error: { message: `invalid request: ${secret}`, type: 'BadRequestError', code: 400 } },
      }),
    });
    await assert.rejects(
      provider(s3).generate({ messages: [{ role: 'user', content: secret }], maxTokens: 2 }),
      (e: unknown) => e instanceof ProviderError && !e.message.includes('9988776655') && /withheld/.test(e.message),
    );
  });
});

describe('cancellation, concurrency, usage', () => {
  test('aborting in the middle of a batch cancels queued and in-flight requests; nothing is sent afterwards', async () => {
    // 400 ms (100 ms before): a third success needs the second request to reach the server two latencies late.
    const s = await server({ flavour: 'vllm', latencyMs: 400 });
    const p = probed(s, completionsCaps, { concurrency: 2 });
    const ac = new AbortController();
    let done = 0;
    const calls = Array.from({ length: 8 }, (_, i) =>
      p
        .nextTokens({ prompt: `${PROMPT}${i}`, continuation: '', topK: 3, positions: 1, signal: ac.signal })
        .then((r) => {
          if (++done === 2) ac.abort();
          return r;
        }),
    );
    const results = await Promise.allSettled(calls);
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const aborted = results.filter((r) => r.status === 'rejected' && (r.reason as Error).name === 'AbortError').length;
    assert.equal(ok + aborted, 8);
    assert.ok(ok >= 2 && ok <= 3, `ok=${ok}`);
    // At the abort at most 2 requests were on the wire (a request handed to fetch just before the abort may still
    // reach the server); the 4+ queued calls must never be sent.
    await new Promise((r) => setTimeout(r, 250));
    const sent = s.requests.length;
    assert.ok(sent <= 4, `sent=${sent}`);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(s.requests.length, sent, 'nothing is sent later');
    assert.equal(s.inFlight, 0);
  });

  test('the provider-wide signal cancels a request sleeping in backoff', async () => {
    const s = await server({ flavour: 'vllm', fault: () => ({ kind: 'rate-limit', retryAfter: '30' }) });
    const ac = new AbortController();
    const p = createProvider({
      kind: 'openai',
      model: 'm',
      baseURL: s.baseURL,
      probeCache: new Map(),
      signal: ac.signal,
    });
    const pending = p.generate({ messages: [{ role: 'user', content: 'x' }], maxTokens: 2 });
    setTimeout(() => ac.abort(), 50);
    const t0 = Date.now();
    await assert.rejects(pending, { name: 'AbortError' });
    // The server asked for 30 s: a sleep the signal did not end takes that long. 20 s leaves a stalled machine room.
    assert.ok(Date.now() - t0 < 20_000, `${Date.now() - t0} ms`);
    assert.equal(s.requests.length, 1);
  });

  // These two count the requests the server holds at once: the limit is reached when a wave's requests all arrive
  // within the server's latency. 400 ms (80 ms before) leaves room for a busy machine to open the wave's connections.
  test('the concurrency limit holds on the wire', async () => {
    const s = await server({ flavour: 'vllm', latencyMs: 400 });
    const p = provider(s, { concurrency: 3, embedBatchSize: 1 });
    await p.embed(Array.from({ length: 10 }, (_, i) => `text ${i}`));
    assert.equal(s.requests.length, 10);
    assert.equal(s.maxInFlight, 3);
  });

  test('without a concurrency setting, a server on this machine gets 16 requests at once (a remote API 4)', async () => {
    const s = await server({ flavour: 'vllm', latencyMs: 400 });
    const p = provider(s, { embedBatchSize: 1 });
    await p.embed(Array.from({ length: 40 }, (_, i) => `text ${i}`));
    assert.equal(s.requests.length, 40);
    assert.equal(s.maxInFlight, 16);
    assert.equal(defaultConcurrency('https://api.openai.com/v1'), 4);
    assert.equal(defaultConcurrency('https://example.com:8000/v1'), 4);
    assert.equal(defaultConcurrency('http://localhost:11434/v1'), 16);
    assert.equal(defaultConcurrency('http://[::1]:8080/v1'), 16);
    assert.equal(defaultConcurrency('http://127.0.0.1.example.com/v1'), 4);
  });

  test('usage counts are exactly what the server reported, probes included; cost uses the price table', async () => {
    const s = await server({ flavour: 'openai', fault: firstN(1, { kind: 'status', status: 503 }) });
    const p = provider(s, {
      openaiHosted: true,
      apiKey: 'sk-k-12345678',
      model: 'gpt-4.1-mini',
      embeddingModel: 'text-embedding-3-small',
    });
    await p.nextTokens({ prompt: 'I want to pay', continuation: '', topK: 2, positions: 3 });
    await p.generate({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 4, n: 2 });
    await p.embed(['one two', 'three']);
    const ok = s.requests.filter((r) => r.status === 200);
    const sum = (f: (u: { prompt_tokens: number; completion_tokens?: number }) => number) =>
      ok.reduce((a, r) => a + f(r.response.usage), 0);
    const u = p.usage();
    assert.equal(u.calls, ok.length);
    assert.equal(
      u.inputTokens,
      sum((x) => x.prompt_tokens),
    );
    assert.equal(
      u.outputTokens,
      sum((x) => x.completion_tokens ?? 0),
    );
    assert.equal(u.retries, 1);
    assert.equal(u.estimated, undefined);
    // Independent count for the embeddings call: "one two" + "three" = 3 fake tokens.
    assert.equal(ok.at(-1)!.response.usage.prompt_tokens, tokenize('one two').length + tokenize('three').length);
    assert.equal(tokenize('one two').length + tokenize('three').length, 3);
    const chatCalls = ok.filter((r) => r.path === '/v1/chat/completions');
    const mini = DEFAULT_PRICES['gpt-4.1-mini']!;
    const emb = DEFAULT_PRICES['text-embedding-3-small']!;
    const want =
      chatCalls.reduce(
        (a, r) =>
          a + (r.response.usage.prompt_tokens * mini.input + r.response.usage.completion_tokens * mini.output) / 1e6,
        0,
      ) +
      ok
        .filter((r) => r.path === '/v1/embeddings')
        .reduce((a, r) => a + (r.response.usage.prompt_tokens * emb.input) / 1e6, 0);
    assert.ok(Math.abs(u.cost - want) < 1e-15, `${u.cost} vs ${want}`);
  });

  test('the probe is cached per endpoint and model, and a failed probe is not', async () => {
    const s = await server({ flavour: 'vllm' });
    const cache = new Map();
    const a = provider(s, { probeCache: cache });
    const b = provider(s, { probeCache: cache });
    const [x, y] = await Promise.all([a.capabilities(), b.capabilities()]);
    assert.deepEqual(x, y);
    const n = s.requests.length;
    await b.capabilities();
    assert.equal(s.requests.length, n);
    await provider(s, { probeCache: cache, model: 'other' }).capabilities();
    assert.ok(s.requests.length > n);
    s.set({ fault: () => ({ kind: 'status', status: 401, body: { error: { message: 'bad key' } } }) });
    const c = provider(s, { probeCache: cache, model: 'third' });
    await assert.rejects(c.capabilities(), (e: unknown) => e instanceof ProviderError && e.code === 'auth');
    s.set({ fault: undefined });
    assert.equal((await c.capabilities()).nextTokenLogprobs?.mode, 'completions');
  });
});

describe('embeddings', () => {
  const texts = [
    'my card was declined',
    'how do I top up',
    'refund pending',
    'transfer failed',
    'pin blocked',
    'fee charged',
    'exchange rate',
  ];

  test('floats (local default) and base64 (hosted default) decode to the same vectors, in input order, across batches', async () => {
    const want = texts.map((t) => Array.from(fakeEmbedding(t, 12)));
    const s = await server({ flavour: 'vllm', embeddingDim: 12 });
    const local = provider(s, { embedBatchSize: 3 });
    const a = await local.embed(texts);
    assert.deepEqual(
      s.requests.map((r) => r.body.encoding_format),
      ['float', 'float', 'float'],
    );
    assert.deepEqual(
      s.requests.map((r) => r.body.input.length),
      [3, 3, 1],
    );
    assert.equal(typeof s.requests[0]!.response.data[0].embedding[0], 'number');
    s.reset();
    const hosted = provider(s, { openaiHosted: true, apiKey: 'sk-k-12345678', model: 'text-embedding-3-small' });
    const b = await hosted.embed(texts);
    assert.equal(s.requests[0]!.body.encoding_format, 'base64');
    assert.equal(typeof s.requests[0]!.response.data[0].embedding, 'string');
    assert.deepEqual(
      a.map((v) => Array.from(v)),
      want,
    );
    assert.deepEqual(
      b.map((v) => Array.from(v)),
      want,
    );
    assert.ok(a.every((v) => v instanceof Float32Array));
  });

  test('a server that sends floats although base64 was asked is still decoded', async () => {
    const s = await server({ flavour: 'ollama', embeddingsAlways: 'float' });
    const v = await provider(s, { embeddingEncoding: 'base64' }).embed(['x y']);
    assert.deepEqual(Array.from(v[0]!), Array.from(fakeEmbedding('x y')));
  });

  test('a chat model that does not embed: probe says so with the fix; embed fails with no-embeddings', async () => {
    const s = await server({ flavour: 'vllm', embeddingModels: ['nomic-embed-text'] });
    const caps = await provider(s, { model: 'chat-model' }).capabilities();
    assert.equal(caps.embed, false);
    assert.ok(caps.notes.some((n) => /built-in embedder/.test(n)));
    await assert.rejects(
      provider(s, { model: 'chat-model' }).embed(['x']),
      (e: unknown) => e instanceof ProviderError && e.code === 'no-embeddings',
    );
    const withEmb = await provider(s, { model: 'chat-model', embeddingModel: 'nomic-embed-text' }).capabilities();
    assert.equal(withEmb.embed, true);
    assert.equal(withEmb.embedDimensions, 16);
  });
});

describe('servers that scale logprobs by temperature', () => {
  test('one-hot logprobs at temperature 0 are detected; next tokens are then asked at temperature 1 and are the model distribution', async () => {
    const s = await server({ flavour: 'vllm', temperatureScaledLogprobs: true });
    const p = provider(s);
    const caps = await p.capabilities();
    assert.equal(caps.nextTokenLogprobs?.logprobTemperature, 1);
    assert.ok(caps.notes.some((n) => /scales logprobs by the sampling temperature/.test(n)));
    s.reset();
    const r = await p.nextTokens({ prompt: PROMPT, continuation: '', topK: 5, positions: 1 });
    assert.equal(s.requests[0]!.body.temperature, 1);
    const want = expected(PROMPT, 1, 5)[0]!.top;
    assert.deepEqual(
      r.steps[0]!.top.map((t) => t.token),
      want.map((t) => t.token),
    );
    r.steps[0]!.top.forEach((t, i) => assert.ok(Math.abs(t.logprob - want[i]!.logprob) < 1e-12));
    // Sampled lookahead tokens can fall outside the top-k; `top` still includes them.
    const r2 = await p.nextTokens({ prompt: PROMPT, continuation: '', topK: 1, positions: 6 });
    for (const st of r2.steps) {
      assert.ok(st.top.some((t) => t.token === st.token));
      assert.ok(st.top.length <= 2);
    }
    assert.ok(
      r2.steps.some((st) => st.top.length === 2),
      'at least one sample outside the top-1 (deterministic fake sampling)',
    );
    // A normal server keeps temperature 0.
    const plain = await server({ flavour: 'vllm' });
    assert.equal((await provider(plain).capabilities()).nextTokenLogprobs?.logprobTemperature, undefined);
  });
});

test('an Ollama older than 0.12.11 (logprobs silently ignored): the probe names the version to update to', async () => {
  const s = await server({ flavour: 'ollama', ignoreLogprobs: true });
  const caps = await provider(s).capabilities();
  assert.equal(caps.nextTokenLogprobs, null);
  assert.equal(caps.server, 'ollama');
  assert.ok(
    caps.notes.some((n) => /0\.12\.11/.test(n)),
    caps.notes.join('\n'),
  );
  const lm = await server({ flavour: 'lmstudio' });
  assert.ok(!(await provider(lm).capabilities()).notes.some((n) => /0\.12\.11/.test(n)));
});

describe('probe fallbacks (providers/probe.ts)', () => {
  test('vLLM capped below the asked logprobs on /v1/completions: the probe retries at the stated cap', async () => {
    const s = await server({ flavour: 'vllm', maxTopLogprobs: 7 });
    const caps = await provider(s).capabilities();
    assert.deepEqual(caps.nextTokenLogprobs, { maxTopK: 7, mode: 'completions', logitBias: false });
    const asked = s.requests.filter((r) => r.path === '/v1/completions').map((r) => r.body.logprobs);
    assert.deepEqual(asked.slice(0, 2), [20, 7]);
  });

  test('a server that rejects a continued assistant message: the probe falls back to chat continuation', async () => {
    const s = await server({
      flavour: 'ollama',
      fault: (req) => {
        const msgs = req.body?.messages as { role: string }[] | undefined;
        return req.path === '/v1/chat/completions' && msgs?.[msgs.length - 1]?.role === 'assistant'
          ? { kind: 'status', status: 400, body: { error: { message: 'assistant prefill is not supported' } } }
          : undefined;
      },
    });
    const caps = await provider(s).capabilities();
    assert.equal(caps.nextTokenLogprobs?.mode, 'chat-continuation');
    assert.ok(
      caps.notes.some((n) => /rejected a continued assistant message/.test(n)),
      caps.notes.join('\n'),
    );
  });

  test('a server that rejects base64 embeddings: the probe switches to float vectors and embedding works', async () => {
    const s = await server({
      flavour: 'vllm',
      fault: (req) =>
        req.path === '/v1/embeddings' && req.body?.encoding_format === 'base64'
          ? { kind: 'status', status: 400, body: { error: { message: 'encoding_format base64 is not supported' } } }
          : undefined,
    });
    const p = provider(s, { openaiHosted: true, apiKey: 'sk-test-123456789' });
    const caps = await p.capabilities();
    assert.equal(caps.embed, true, caps.notes.join('\n'));
    const formats = s.requests.filter((r) => r.path === '/v1/embeddings').map((r) => r.body.encoding_format);
    assert.deepEqual(formats, ['base64', 'float']);
  });
});
