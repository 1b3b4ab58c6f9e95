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
