import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createProvider, type Capabilities, type NextTokensRequest } from '../../../src/core/providers';
import type { OpenAICompatibleProvider } from '../../../src/core/providers/openai';
import { probeKey } from '../../../src/core/providers/probe';
import { startFakeServer, type FakeServer, type Flavour } from '../../support/fake-openai-server';

const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});
const completionsCaps: Capabilities = {
  nextTokenLogprobs: { maxTopK: 20, mode: 'completions', logitBias: false },
  generate: true,
  embed: true,
  notes: [],
};

async function setup(flavour: Flavour) {
  const s = await startFakeServer({ flavour });
  servers.push(s);
  const cache = new Map([[probeKey('openai', s.baseURL, 'm', undefined), Promise.resolve(completionsCaps)]]);
  const p = createProvider({
    kind: 'openai',
    model: 'm',
    baseURL: s.baseURL,
    probeCache: cache,
    retry: { sleep: async () => {}, random: () => 0 },
  }) as OpenAICompatibleProvider;
  return { s, p };
}

const reqs: NextTokensRequest[] = ['my card was', 'where is my', 'the shop said'].map((c, i) => ({
  prompt: `Label: x\nText: example ${i}\n\nLabel: x\nText:`,
  continuation: ` ${c}`,
  topK: 5,
  positions: 3,
}));

test('a list of prompts goes out in one /v1/completions request and gives the same steps as one request each', async () => {
  const { s, p } = await setup('vllm');
  const before = s.requests.length;
  const batched = await p.nextTokensBatch(reqs);
  assert.equal(s.requests.length - before, 1, 'one HTTP request');
  assert.deepEqual(
    s.requests.at(-1)!.body.prompt,
    reqs.map((r) => r.prompt + r.continuation),
  );
  const single = await Promise.all(reqs.map((r) => p.nextTokens(r)));
  assert.deepEqual(batched, single);
  assert.equal(batched[0]!.steps.length, 3);
  assert.equal(p.usage().calls, 1 + reqs.length);
});

test('a server that refuses a list falls back to one request each, and remembers it', async () => {
  const { s, p } = await setup('llamacpp');
  const single = await Promise.all(reqs.map((r) => p.nextTokens(r)));
  const start = s.requests.length;
  const batched = await p.nextTokensBatch(reqs);
  assert.deepEqual(batched, single);
  assert.equal(s.requests.length - start, 1 + reqs.length, 'the refused list, then one each');
  const again = s.requests.length;
  await p.nextTokensBatch(reqs);
  assert.equal(s.requests.length - again, reqs.length, 'no second attempt at a list');
});

test('a refused prompt inside a list is isolated by halving; the others keep their own answers and lists go on', async () => {
  const { s, p } = await setup('vllm');
  const WORD = 'zanzibarite';
  s.set({ refuse: (t) => t.includes(WORD) });
  const six: NextTokensRequest[] = Array.from({ length: 6 }, (_, i) => ({
    prompt: `Label: x\nText: example ${i}${i === 4 ? ` ${WORD}` : ''}\n\nLabel: x\nText:`,
    continuation: ' my card',
    topK: 5,
    positions: 2,
  }));
  const alone = (i: number) => p.nextTokens(six[i]!);
  // A list is accepted first (as after the probe of a real run): from then on a refused list is split.
  await p.nextTokensBatch(reqs);
  const start = s.requests.length;
  const out = await p.nextTokensBatch(six);
  const count = (prompt: unknown) => (Array.isArray(prompt) ? prompt.length : 1);
  const sent = s.requests.slice(start).map((q) => ({ n: count(q.body.prompt), status: q.status }));
  // [0..5] refused → [0,1,2] ok, [3,4,5] refused → [3,4] refused, [5] ok → [3] ok, [4] refused (halves go
  // concurrently, so compared as a set).
  const key = (x: { n: number; status?: number }) => `${x.n}:${x.status}`;
  assert.deepEqual(sent.map(key).sort(), ['1:200', '1:200', '1:400', '2:400', '3:200', '3:400', '6:400']);
  assert.ok(out[4] instanceof Error, 'the refused prompt fails alone');
  for (const i of [0, 1, 2, 3, 5]) assert.deepEqual(out[i], await alone(i), `prompt ${i} gets its own answer`);
  // Lists go on after the refusal.
  const next = s.requests.length;
  await p.nextTokensBatch(reqs);
  assert.deepEqual(
    s.requests.slice(next).map((q) => [count(q.body.prompt), q.status]),
    [[3, 200]],
  );
});
