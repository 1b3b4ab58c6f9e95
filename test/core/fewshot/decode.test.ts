import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDemonstration, type DecodeStats } from '../../../src/core/fewshot/decode';
import { DEFAULT_FORMAT } from '../../../src/core/fewshot/prompt';
import type { PoolUnit } from '../../../src/core/runs/pools';
import { BigramProvider } from '../../support/bigram-provider';
import { testNormal, testRng } from '../../support/rng';

const pool: PoolUnit[] = [
  'my card has not arrived yet and I am still waiting',
  'my card was declined at the shop today',
  'I am still waiting for my new card to arrive',
  'the card I ordered has not arrived after two weeks',
  'can I track my card delivery please',
  'my new card still has not arrived',
].map((t, i) => ({ id: `u${i}`, texts: [t] }));

async function run(lookahead: number, seed: string, sigma = 0.5, prefetch = 0) {
  const provider = new BigramProvider([' the', ' a', ' card', ' my', '\n']);
  const stats: DecodeStats = { queries: 0, roundTrips: 0, tokens: 0, reused: 0 };
  const r = await decodeDemonstration({
    provider,
    format: DEFAULT_FORMAT,
    label: 'card_arrival',
    pool,
    prompts: 4,
    samplingRate: 0.5,
    sigma,
    maxTokens: 24,
    topK: 10,
    lookahead,
    prefetch,
    sampling: testRng(`${seed}:sample`),
    noise: testNormal(testRng(`${seed}:noise`)),
    stats,
  });
  return { ...r, stats };
}

test('speculative lookahead releases exactly the same text as one-token-at-a-time decoding', async () => {
  let fewerRoundTrips = 0;
  for (let seed = 0; seed < 12; seed++) {
    const plain = await run(1, `s${seed}`);
    assert.ok(plain.steps > 0);
    for (const [lookahead, prefetch] of [
      [2, 0],
      [4, 0],
      [2, 1],
      [4, 3],
      [8, 7],
    ] as const) {
      const spec = await run(lookahead, `s${seed}`, 0.5, prefetch);
      assert.equal(spec.text, plain.text, `seed ${seed}, lookahead ${lookahead}, prefetch ${prefetch}`);
      assert.equal(spec.steps, plain.steps);
      assert.equal(spec.stats.tokens, plain.stats.tokens);
      if (prefetch === 0)
        assert.ok(spec.stats.queries <= plain.stats.queries, 'lookahead without prefetch never adds requests');
      if (spec.stats.roundTrips < plain.stats.roundTrips) fewerRoundTrips++;
    }
    assert.equal(plain.stats.roundTrips, plain.steps, 'plain decoding makes one wave per token');
  }
  assert.ok(fewerRoundTrips > 0, 'speculation saved round trips at least sometimes');
});

test('with little noise the demonstration follows the private examples', async () => {
  const r = await run(1, 'low-noise', 0.01);
  const words = new Set(pool.flatMap((u) => u.texts[0]!.split(' ')));
  const out = r.text.split(' ').filter(Boolean);
  assert.ok(out.length > 0);
  assert.ok(
    out.every((w) => words.has(w)),
    `"${r.text}" uses words from the examples`,
  );
});

test('a demonstration ends at the first newline token and reports the steps that ran', async () => {
  const stats: DecodeStats = { queries: 0, roundTrips: 0, tokens: 0, reused: 0 };
  const r = await decodeDemonstration({
    provider: new BigramProvider([' hello', '\n']),
    format: DEFAULT_FORMAT,
    label: 'greeting',
    pool: [
      { id: 'a', texts: ['hello'] },
      { id: 'b', texts: ['hello'] },
    ],
    prompts: 2,
    samplingRate: 1,
    sigma: 0.01,
    maxTokens: 10,
    topK: 5,
    lookahead: 1,
    sampling: testRng('end'),
    noise: testNormal(testRng('end-noise')),
    stats,
  });
  assert.deepEqual([r.text, r.steps, r.stop], ['hello', 2, 'end']);
  assert.equal(stats.tokens, 2);
});

test('cancellation stops the decoder', async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    decodeDemonstration({
      provider: new BigramProvider([' a']),
      format: DEFAULT_FORMAT,
      label: 'x',
      pool,
      prompts: 2,
      samplingRate: 0.5,
      sigma: 1,
      maxTokens: 5,
      topK: 5,
      lookahead: 1,
      sampling: testRng(1),
      noise: () => 0,
      signal: controller.signal,
      stats: { queries: 0, roundTrips: 0, tokens: 0, reused: 0 },
    }),
    { name: 'AbortError' },
  );
});
