import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createProvider, ProviderError, type ProviderConfig } from '../../../src/core/providers';
import { bigramModel, chatContext, rollout, startFakeServer, type FakeServer } from '../../support/fake-openai-server';

const KEY = 'sk-ant-api03-test-key-000111222';
let s: FakeServer;
const servers: FakeServer[] = [];
after(async () => Promise.all(servers.map((x) => x.close())));

async function setup(extra: Parameters<typeof startFakeServer>[0] = {}) {
  s = await startFakeServer({ apiKey: KEY, ...extra });
  servers.push(s);
  return s;
}
const noWait = { sleep: async () => {}, random: () => 0 };
function provider(extra: Partial<ProviderConfig> = {}) {
  return createProvider({
    kind: 'anthropic',
    model: 'claude-haiku-4-5',
    baseURL: s.origin,
    apiKey: KEY,
    probeCache: new Map(),
    retry: noWait,
    ...extra,
  });
}

test('generation with a system prompt and assistant prefill, through /v1/messages with Anthropic headers', async () => {
  await setup();
  const p = provider();
  const messages = [
    { role: 'system' as const, content: 'You write short bank questions.' },
    { role: 'user' as const, content: 'Write one about a declined card.' },
    { role: 'assistant' as const, content: 'my card ' },
  ];
  const g = await p.generate({ messages, maxTokens: 5, temperature: 0 });
  const req = s.requests[0]!;
  assert.equal(req.path, '/v1/messages');
  assert.ok(req.headers['x-api-key'] === KEY || req.headers.authorization === `Bearer ${KEY}`);
  assert.ok(req.headers['anthropic-version']);
  assert.equal(req.body.system, 'You write short bank questions.');
  assert.deepEqual(req.body.messages, [
    { role: 'user', content: 'Write one about a declined card.' },
    { role: 'assistant', content: 'my card' }, // trailing whitespace is rejected by the API, so trimmed
  ]);
  const ctx = chatContext([{ role: 'system', content: req.body.system }, ...req.body.messages], true);
  assert.deepEqual(g.texts, [rollout(bigramModel(), ctx, 5).text]);
  assert.deepEqual(p.usage(), {
    calls: 1,
    inputTokens: req.response.usage.input_tokens,
    outputTokens: 5,
    cost: (req.response.usage.input_tokens * 1 + 5 * 5) / 1e6,
    retries: 0,
  });
});

test('n completions are n requests; whitespace-only stops are applied locally, others sent as stop_sequences', async () => {
  await setup();
  const p = provider();
  const g = await p.generate({ prompt: 'hello', maxTokens: 8, temperature: 1, n: 3, stop: ['\n', ' card'] });
  assert.equal(g.texts.length, 3);
  assert.equal(s.requests.length, 3);
  assert.deepEqual(s.requests[0]!.body.stop_sequences, [' card']);
  for (const t of g.texts) assert.ok(!t.includes('\n') && !t.includes(' card'), JSON.stringify(t));
  assert.equal(s.requests[0]!.body.temperature, 1);
  await p.generate({ prompt: 'x', maxTokens: 2, temperature: 1.7 });
  assert.equal(s.requests.at(-1)!.body.temperature, 1, 'clamped to the API range [0, 1]');
});

test('no logprobs and no embeddings, said plainly; the probe checks key and model with one public request', async () => {
  await setup({ models: ['claude-haiku-4-5'] });
  const p = provider();
  const caps = await p.capabilities();
  assert.equal(caps.nextTokenLogprobs, null);
  assert.equal(caps.generate, true);
  assert.equal(caps.embed, false);
  assert.match(caps.notes.join('\n'), /Aug-PE works with this model/);
  assert.equal(s.requests.length, 1);
  assert.equal(s.requests[0]!.body.max_tokens, 1);
  await assert.rejects(
    p.nextTokens({ prompt: 'x', continuation: '', topK: 5, positions: 1 }),
    (e: unknown) => e instanceof ProviderError && e.code === 'no-logprobs' && /gpt-4\.1-mini/.test(e.hint ?? ''),
  );
  await assert.rejects(p.embed(['x']), (e: unknown) => e instanceof ProviderError && e.code === 'no-embeddings');
  await assert.rejects(
    provider({ model: 'claude-nope' }).capabilities(),
    (e: unknown) => e instanceof ProviderError && e.code === 'model-not-found',
  );
});

test('429 with retry-after and 529 overloaded are retried; a bad key is an auth error naming ANTHROPIC_API_KEY', async () => {
  await setup({
    fault: (_r, i) =>
      i === 0
        ? {
            kind: 'status',
            status: 429,
            body: {
              type: 'error',
              error: { type: 'rate_limit_error', message: 'This request would exceed the rate limit' },
            },
            headers: { 'retry-after': '2' },
          }
        : i === 1
          ? {
              kind: 'status',
              status: 529,
              body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
            }
          : undefined,
  });
  const waits: number[] = [];
  const p = provider({ retry: { sleep: async (ms) => void waits.push(ms), random: () => 0 } });
  assert.equal((await p.generate({ prompt: 'x', maxTokens: 2 })).texts.length, 1);
  assert.equal(s.requests.length, 3);
  assert.equal(waits[0], 2000);
  assert.equal(p.usage().retries, 2);
  s.set({ fault: undefined });
  const bad = provider({ apiKey: 'sk-ant-wrong-999888777' });
  await assert.rejects(
    bad.generate({ prompt: 'x', maxTokens: 2 }),
    (e: unknown) =>
      e instanceof ProviderError &&
      e.code === 'auth' &&
      /ANTHROPIC_API_KEY/.test(e.hint ?? '') &&
      !e.message.includes('999888777'),
  );
  assert.throws(
    () => createProvider({ kind: 'anthropic', model: 'claude-haiku-4-5' }),
    (e: unknown) => e instanceof ProviderError && e.code === 'auth',
  );
});
