import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { yieldingProvider } from '../../../src/core/providers/yielding';
import type { NextTokensRequest, NextTokensResult, Provider } from '../../../src/core/providers/types';

/** An in-process provider like the built-in model: computes synchronously, resolves as a microtask. */
function syncProvider(withBatch: boolean): Provider & { seen: string[] } {
  const seen: string[] = [];
  const answer = (r: NextTokensRequest): NextTokensResult => ({
    steps: [{ token: `${r.prompt}|${r.continuation}`, top: [{ token: r.prompt, logprob: -1 }] }],
  });
  const p: Provider & { seen: string[] } = {
    kind: 'builtin',
    model: 'fake',
    offline: true,
    seen,
    capabilities: async () => ({ nextTokenLogprobs: null }) as never,
    nextTokens: async (r) => {
      seen.push(r.prompt);
      return answer(r);
    },
    generate: async () => ({ text: 'g' }) as never,
    embed: async (texts) => texts.map(() => new Float32Array(2)),
    usage: () => ({ calls: seen.length, inputTokens: 0, outputTokens: 0, cost: 0 }),
  };
  if (withBatch) p.nextTokensBatch = async (reqs) => reqs.map((r) => (seen.push(r.prompt), answer(r)));
  return p;
}

const req = (prompt: string, signal?: AbortSignal): NextTokensRequest => ({
  prompt,
  continuation: 'c',
  topK: 2,
  positions: 1,
  signal,
});

test('the wrapped provider returns the inner results unchanged, batch only when the inner one batches', async () => {
  for (const withBatch of [false, true]) {
    const inner = syncProvider(withBatch);
    const p = yieldingProvider(inner);
    assert.deepEqual([p.kind, p.model, p.offline], ['builtin', 'fake', true]);
    assert.deepEqual(await p.nextTokens(req('a')), await inner.nextTokens(req('a')));
    assert.equal(typeof p.nextTokensBatch, withBatch ? 'function' : 'undefined');
    if (withBatch)
      assert.deepEqual(
        await p.nextTokensBatch!([req('x'), req('y')]),
        await inner.nextTokensBatch!([req('x'), req('y')]),
      );
    assert.equal(p.usage().calls, inner.seen.length);
  }
});

test('every call lets the event loop turn (a message waiting there, e.g. Cancel, is handled before the next call)', async () => {
  const inner = syncProvider(true);
  // Without the wrapper a chain of calls never gives a queued callback its turn.
  let turned = false;
  setImmediate(() => (turned = true));
  for (let i = 0; i < 5; i++) await inner.nextTokens(req('a'));
  assert.equal(turned, false, 'the inner provider yielded by itself: the wrapper may be unnecessary');
  await new Promise((r) => setImmediate(r));

  const p = yieldingProvider(inner);
  for (const call of [
    () => p.nextTokens(req('a')),
    () => p.nextTokensBatch!([req('a')]),
    () => p.generate({ messages: [], maxTokens: 1 } as never),
    () => p.embed(['t']),
  ]) {
    turned = false;
    setImmediate(() => (turned = true));
    await call();
    assert.equal(turned, true);
  }
});

test('a cancel handled during the yield stops the call before the model runs', async () => {
  const inner = syncProvider(true);
  const p = yieldingProvider(inner);
  const controller = new AbortController();
  setImmediate(() => controller.abort());
  await assert.rejects(p.nextTokens(req('late', controller.signal)), { name: 'AbortError' });
  await assert.rejects(p.nextTokensBatch!([req('late', controller.signal)]), { name: 'AbortError' });
  assert.deepEqual(inner.seen, []);
});

test('a wave of concurrent calls runs one call per turn, so a cancel message posted during the wave stops the rest', async () => {
  /** Starts 20 calls at once; the first one posts a cancel through a message port (as the editor host does). */
  const cancelDuringWave = async (wrap: (p: Provider) => Provider) => {
    const inner = syncProvider(false);
    const controller = new AbortController();
    const { port1, port2 } = new MessageChannel();
    port2.on('message', () => controller.abort());
    const base = inner.nextTokens;
    inner.nextTokens = async (r) => {
      r.signal?.throwIfAborted();
      const out = await base(r);
      if (inner.seen.length === 1) port1.postMessage('cancel');
      return out;
    };
    const p = wrap(inner);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => p.nextTokens(req('p', controller.signal))),
    );
    port1.close();
    return { computed: inner.seen.length, rejected: results.filter((r) => r.status === 'rejected').length };
  };
  const serial = await cancelDuringWave(yieldingProvider);
  assert.ok(serial.computed < 20, `computed ${serial.computed} of 20`);
  assert.equal(serial.rejected, 20 - serial.computed);
  // Teeth: yielding once per call (setImmediate before each) lets every call of the wave run before the message is
  // read.
  const yieldOnce = (p: Provider): Provider => ({
    ...p,
    nextTokens: (r) => new Promise<void>((ok) => setImmediate(ok)).then(() => p.nextTokens(r)),
  });
  assert.equal((await cancelDuringWave(yieldOnce)).computed, 20);
});
