import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProvider, ProviderError } from '../../../src/core/providers';
import { cappedFetch, MAX_RESPONSE_BYTES, ResponseTooLargeError } from '../../../src/core/providers/fetch';
import { startFakeServer } from '../../support/fake-openai-server';

const noWait = { sleep: async () => {}, random: () => 0, maxRetries: 0 };

test(
  'a response body over the cap fails with one clear line, not retried, whether or not its length is declared',
  { timeout: 30_000 },
  async () => {
    const s = await startFakeServer({ flavour: 'vllm' });
    try {
      for (const chunked of [true, false]) {
        const p = createProvider({
          kind: 'openai',
          model: 'm',
          baseURL: s.baseURL,
          probeCache: new Map(),
          retry: noWait,
          maxResponseBytes: 1024 * 1024,
          timeoutMs: 10_000,
        });
        // 8 MB declared in Content-Length; 4 MB streamed without one (a 300 MB body: see the next test).
        s.set({ fault: () => ({ kind: 'huge', bytes: (chunked ? 4 : 8) * 1024 * 1024, chunked }) });
        s.reset();
        await assert.rejects(p.capabilities(), (e: unknown) => {
          assert.ok(e instanceof ProviderError, String(e));
          assert.equal(e.code, 'malformed-response');
          assert.match(
            e.message,
            /^openai \(127\.0\.0\.1:\d+\) sent a response larger than 1 MB; the tool stopped reading it$/,
          );
          return true;
        });
        // Not retried: the probe tries /completions, then /chat/completions, once each.
        assert.deepEqual(
          s.requests.map((q) => q.path),
          ['/v1/completions', '/v1/chat/completions'],
        );
      }
      // Below the cap: answered as usual.
      s.set({ fault: undefined });
      const p = createProvider({
        kind: 'openai',
        model: 'm',
        baseURL: s.baseURL,
        probeCache: new Map(),
        retry: noWait,
      });
      assert.ok((await p.capabilities()).nextTokenLogprobs);
    } finally {
      await s.close();
    }
  },
);

test('cappedFetch: the default cap is 64 MiB and a stream is cut as soon as it passes the cap', async () => {
  assert.equal(MAX_RESPONSE_BYTES, 64 * 1024 * 1024);
  let pulled = 0;
  const long = new ReadableStream<Uint8Array>({
    pull(c) {
      if (++pulled > 500) c.close();
      else c.enqueue(new Uint8Array(1000));
    },
  });
  const f = cappedFetch(10_000, async () => new Response(long));
  const res = await f('http://127.0.0.1/');
  await assert.rejects(res.arrayBuffer(), (e: unknown) => e instanceof ResponseTooLargeError);
  assert.ok(pulled <= 13, `read ${pulled} chunks`);
  // A declared 300 MB body is refused before a byte of it is read.
  pulled = 0;
  const declared = new ReadableStream<Uint8Array>({
    pull(c) {
      if (++pulled > 500) c.close();
      else c.enqueue(new Uint8Array(1000));
    },
  });
  const g = cappedFetch(
    undefined,
    async () => new Response(declared, { headers: { 'content-length': String(300 * 1024 * 1024) } }),
  );
  await assert.rejects(
    g('http://127.0.0.1/'),
    (e: unknown) => e instanceof ResponseTooLargeError && /64 MB/.test(e.message),
  );
  assert.ok(pulled <= 1, `read ${pulled} chunks`);
});
