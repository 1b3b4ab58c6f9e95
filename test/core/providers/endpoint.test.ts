import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProvider, ProviderError } from '../../../src/core/providers';
import {
  augPeDataFlow,
  connectionFailure,
  endpointProblem,
  fewShotDataFlow,
  providerEndpoint,
} from '../../../src/core/providers/endpoint';
import { closedPort } from '../../support/ports';

test('an unreachable endpoint fails at once with one line naming the URL and "connection refused"', async () => {
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}/v1`;
  // The backoff's sleep is a spy: a retry shows as a recorded wait (before, the test timed the call against 4 s, which
  // a busy machine could pass without any retry).
  const waits: number[] = [];
  const sleep = async (ms: number) => void waits.push(ms);
  const p = createProvider({
    kind: 'openai',
    model: 'm',
    baseURL: url,
    retry: { maxRetries: 4, baseDelayMs: 5_000, sleep },
  });
  await assert.rejects(p.capabilities(), (e: unknown) => {
    assert.ok(e instanceof ProviderError);
    assert.equal(e.code, 'connection');
    assert.equal(e.message, `openai (127.0.0.1:${port}): cannot reach ${url}: connection refused`);
    assert.match(e.hint ?? '', /start the model server, or correct the base URL/);
    assert.equal(e.details.url, url);
    assert.deepEqual(endpointProblem(e), { code: 'connection', url });
    return true;
  });
  // Refused is not retried: no backoff wait.
  assert.deepEqual(waits, []);
});

test("fetch's blocked ports (127.0.0.1:9) are named as such, not as a generic connection error", async () => {
  const p = createProvider({ kind: 'openai', model: 'm', baseURL: 'http://127.0.0.1:9/v1' });
  await assert.rejects(p.capabilities(), (e: unknown) => {
    assert.ok(e instanceof ProviderError);
    assert.match(
      e.message,
      /cannot reach http:\/\/127\.0\.0\.1:9\/v1: the port is on the fetch standard's blocked list/,
    );
    assert.match(e.hint ?? '', /another port/);
    return true;
  });
});

test('connectionFailure finds DNS, TLS and reset codes in the cause chain and in AggregateErrors', () => {
  const wrap = (code: string) =>
    Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code }) });
  assert.equal(connectionFailure(wrap('ENOTFOUND'))?.words, 'host not found');
  assert.equal(connectionFailure(wrap('CERT_HAS_EXPIRED'))?.kind, 'tls');
  assert.equal(
    connectionFailure(wrap('DEPTH_ZERO_SELF_SIGNED_CERT'))?.words,
    'TLS: the server uses a self-signed certificate',
  );
  assert.equal(connectionFailure(wrap('ECONNRESET'))?.kind, 'dropped');
  const agg = Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), {});
  assert.equal(connectionFailure({ cause: agg })?.words, 'connection refused');
  assert.equal(connectionFailure(new Error('something else')), undefined);
});

test('endpointProblem: provider errors a setting can fix; other errors are not endpoint problems', () => {
  const auth = new ProviderError('auth', 'openai (api.openai.com) refused the request (401)', undefined, {
    url: 'https://api.openai.com/v1',
  });
  assert.deepEqual(endpointProblem(auth), { code: 'auth', url: 'https://api.openai.com/v1' });
  assert.deepEqual(endpointProblem(new ProviderError('model-not-found', 'x'), 'http://h/v1'), {
    code: 'model-not-found',
    url: 'http://h/v1',
  });
  assert.equal(endpointProblem(new Error('bug')), undefined);
  assert.equal(endpointProblem(new ProviderError('context-too-long', 'x')), undefined);
});

test('data-flow sentences: prompts to the host for DP few-shot; only the embedder sees private text in Aug-PE', () => {
  const remote = createProvider({ kind: 'openai', model: 'gpt-4.1-mini', baseURL: 'http://127.0.0.1:8000/v1' });
  const endpoint = providerEndpoint(remote);
  assert.equal(endpoint, 'http://127.0.0.1:8000/v1');
  const r = { kind: remote.kind, model: remote.model, offline: false, endpoint };
  assert.deepEqual(fewShotDataFlow(r), {
    offline: false,
    endpoint,
    sentence: 'Private examples are sent to 127.0.0.1:8000 inside prompts.',
  });
  const builtin = { kind: 'builtin', model: 'builtin-ngram', offline: true };
  assert.equal(fewShotDataFlow(builtin).sentence, 'Built-in model: nothing leaves this machine.');
  assert.equal(augPeDataFlow(r, r).sentence, 'Private text goes only to the embedder 127.0.0.1:8000.');
  assert.match(augPeDataFlow(r, builtin).sentence, /^Private text stays on this machine/);
  assert.equal(augPeDataFlow(builtin, builtin).offline, true);
  assert.equal(providerEndpoint(createProvider({ kind: 'builtin' })), undefined);
});
