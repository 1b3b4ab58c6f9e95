import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDemonstration, type DecodeStats } from '../../../src/core/fewshot/decode';
import { DEFAULT_FORMAT } from '../../../src/core/fewshot/prompt';
import type { PoolUnit } from '../../../src/core/runs/pools';
import { createProvider, ProviderError, type Provider } from '../../../src/core/providers';
import type { OpenAICompatibleProvider } from '../../../src/core/providers/openai';
import type { NextTokensRequest } from '../../../src/core/providers/types';
import { BigramProvider } from '../../support/bigram-provider';
import { startFakeServer, type FakeServer } from '../../support/fake-openai-server';
import { testNormal, testRng } from '../../support/rng';

const WORD = 'zanzibarite';
const pool: PoolUnit[] = [
  'my card has not arrived yet and I am still waiting',
  `my card was declined at the shop today ${WORD}`,
  'I am still waiting for my new card to arrive',
  `the card I ordered has not arrived after two weeks ${WORD}`,
  'can I track my card delivery please',
  'my new card still has not arrived',
].map((t, i) => ({ id: `u${i}`, texts: [t] }));

async function decode(provider: Provider, seed: string, units: PoolUnit[] = pool, sigma = 0.3) {
  const stats: DecodeStats = { queries: 0, roundTrips: 0, tokens: 0, reused: 0 };
  const r = await decodeDemonstration({
    provider,
    format: DEFAULT_FORMAT,
    label: 'card_arrival',
    pool: units,
    prompts: 4,
    samplingRate: 0.5,
    sigma,
    maxTokens: 12,
    topK: 10,
    lookahead: 1,
    sampling: testRng(`${seed}:sample`),
    noise: testNormal(testRng(`${seed}:noise`)),
    stats,
  });
  return { ...r, stats };
}

/** The bigram provider, with prompts holding WORD either refused (400) or answered with no candidate at all. */
function wrapped(mode: 'refuse' | 'empty'): Provider {
  const inner = new BigramProvider([' the', ' a', ' card', ' my', '\n']);
  return Object.assign(Object.create(inner) as Provider, {
    nextTokens: async (req: NextTokensRequest) => {
      if (!req.prompt.includes(WORD)) return inner.nextTokens(req);
      if (mode === 'empty') return { steps: [{ token: '', top: [] }] };
      throw new ProviderError('context-too-long', 'refused', undefined, { status: 400, retryable: false });
    },
  });
}

test('a refused private prompt votes exactly the zero vector: the release equals that of an empty distribution', async () => {
  // Mixed pool, and a pool where every private prompt is refused with little noise (there a vote with anything but
  // zero, e.g. the public prompt's distribution, shows in the text).
  const allRefused = pool.map((u) => ({ id: u.id, texts: [`${u.texts[0]} ${WORD}`] }));
  for (const [units, sigma] of [
    [pool, 0.3],
    [allRefused, 0.01],
  ] as const) {
    let refusedSomewhere = 0;
    for (let seed = 0; seed < 8; seed++) {
      const refused = await decode(wrapped('refuse'), `r${seed}`, units, sigma);
      const empty = await decode(wrapped('empty'), `r${seed}`, units, sigma);
      assert.equal(refused.text, empty.text, `seed ${seed}`);
      assert.equal(refused.steps, empty.steps);
      refusedSomewhere += refused.stats.refused ?? 0;
    }
    assert.ok(refusedSomewhere > 0, 'some prompts were refused');
  }
});

const fast = { sleep: async () => {}, random: () => 0, maxRetries: 2 };
function remote(s: FakeServer): OpenAICompatibleProvider {
  return createProvider({
    kind: 'openai',
    model: 'm',
    baseURL: s.baseURL,
    probeCache: new Map(),
    retry: fast,
  }) as OpenAICompatibleProvider;
}
const hasWord = (body: { prompt?: unknown }) => JSON.stringify(body?.prompt ?? '').includes(WORD);

test('batched: a refused list is split until the refused prompts stand alone; the others get their own results', async () => {
  const s = await startFakeServer({ flavour: 'vllm', refuse: (t) => t.includes(WORD) });
  try {
    const p = remote(s);
    await p.capabilities();
    const prompts = Array.from({ length: 8 }, (_, i) => `Prompt ${i}: my card${i === 5 ? ` ${WORD}` : ''} is`);
    const reqs = prompts.map((prompt) => ({ prompt, continuation: '', topK: 5, positions: 2 }));
    s.reset();
    const got = await p.nextTokensBatch(reqs);
    assert.equal(got.length, 8);
    got.forEach((g, i) => {
      if (i === 5) assert.ok(g instanceof ProviderError && g.code === 'context-too-long');
      else assert.ok(!(g instanceof ProviderError));
    });
    // 8 → 4+4 → 2+2 → 1+1: 1 + 2 + 2 + 2 requests, the refused prompt alone in the last one.
    assert.equal(s.requests.length, 7);
    assert.deepEqual(
      s.requests.filter((q) => q.status === 400).map((q) => (Array.isArray(q.body.prompt) ? q.body.prompt.length : 1)),
      [8, 4, 2, 1],
    );
    for (let i = 0; i < 8; i++) {
      if (i === 5) continue;
      const alone = await p.nextTokens(reqs[i]!);
      assert.deepEqual(got[i], alone, `prompt ${i} gets what it gets alone`);
    }
  } finally {
    await s.close();
  }
});

test('5xx on private prompts only (after the retries): zero votes once the public prompt answers; the run goes on', async () => {
  const s = await startFakeServer({ flavour: 'vllm' });
  try {
    s.set({
      fault: (q) => (hasWord(q.body) ? { kind: 'status', status: 500 } : undefined),
    });
    const r = await decode(remote(s), 'five');
    assert.ok(r.steps > 0);
    assert.ok((r.stats.refused ?? 0) > 0);
    assert.ok(s.requests.some((q) => q.status === 500));
  } finally {
    await s.close();
  }
});

test('the server going away mid-run stops the run on the public prompt, naming the server and no prompt', async () => {
  const s = await startFakeServer({ flavour: 'vllm' });
  try {
    const p = remote(s);
    await p.capabilities();
    s.set({ fault: () => ({ kind: 'drop' }) });
    await assert.rejects(decode(p, 'down'), (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.code, 'connection');
      assert.match(e.message, /^the public prompt's request failed: openai \(127\.0\.0\.1:\d+\)/);
      assert.ok(!e.message.includes(WORD) && !e.message.includes('card'));
      return true;
    });
  } finally {
    await s.close();
  }
});

test('auth failure mid-run is thrown at once, not settled', async () => {
  const s = await startFakeServer({ flavour: 'vllm' });
  try {
    const p = remote(s);
    await p.capabilities();
    s.set({ fault: (q) => (hasWord(q.body) ? { kind: 'status', status: 401 } : undefined) });
    await assert.rejects(decode(p, 'auth'), (e: unknown) => e instanceof ProviderError && e.code === 'auth');
  } finally {
    await s.close();
  }
});

test('a timeout/5xx on private prompts while the public prompt is served from the cache: the public prompt is asked again, and its failure stops the run', async () => {
  const words = [' one', ' two', ' three', ' four', ' five', ' six', ' seven', ' eight', ' nine', ' ten'];
  const pub =
    'Given a label, write a short text of that kind, in the style of the examples.\n\nLabel: card_arrival\nText:';
  const mixed: PoolUnit[] = [...pool, ...pool.map((u) => ({ id: `${u.id}b`, texts: [`${u.texts[0]} again`] }))];
  let rejected = 0;
  for (let seed = 0; seed < 6; seed++) {
    let pubCalls = 0;
    const provider = Object.assign(Object.create(new BigramProvider([' a'])) as Provider, {
      nextTokensBatch: undefined,
      nextTokens: async (req: NextTokensRequest) => {
        if (req.prompt === pub && ++pubCalls > 1)
          throw new ProviderError('connection', 'server (127.0.0.1:1) down', undefined, { retryable: true });
        if (req.prompt.includes(WORD))
          throw new ProviderError('server', 'failed (500)', undefined, { status: 500, retryable: true });
        const at = req.continuation.split(' ').length - 1;
        return {
          steps: Array.from({ length: req.positions }, (_, j) => ({
            token: words[at + j]!,
            top: [
              { token: words[at + j]!, logprob: 0 },
              { token: ' zzz', logprob: -20 },
            ],
          })),
        };
      },
    });
    const stats: DecodeStats = { queries: 0, roundTrips: 0, tokens: 0, reused: 0 };
    try {
      await decodeDemonstration({
        provider,
        format: DEFAULT_FORMAT,
        label: 'card_arrival',
        pool: mixed,
        prompts: 4,
        samplingRate: 0.5,
        sigma: 0.01,
        maxTokens: 5,
        topK: 2,
        lookahead: 8,
        sampling: testRng(`pc${seed}:sample`),
        noise: testNormal(testRng(`pc${seed}:noise`)),
        stats,
      });
    } catch (e) {
      assert.ok(e instanceof ProviderError && /^the public prompt's request failed: server/.test(e.message), String(e));
      rejected++;
    }
  }
  assert.ok(rejected >= 4, `the public prompt was asked again and failed in ${rejected} of 6 runs`);
});
