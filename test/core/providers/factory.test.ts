import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AnthropicProvider,
  createProvider,
  OpenAICompatibleProvider,
  type ProviderConfig,
} from '../../../src/core/providers';
import { UsageError } from '../../../src/core/errors';

test('createProvider builds each kind; builtin delegates to the offline model and needs no key or network', async () => {
  assert.ok(
    createProvider({ kind: 'openai', model: 'llama3.2', baseURL: 'http://127.0.0.1:11434/v1' }) instanceof
      OpenAICompatibleProvider,
  );
  assert.ok(
    createProvider({ kind: 'azure', model: 'dep', baseURL: 'https://r.openai.azure.com', apiKey: 'k' }) instanceof
      OpenAICompatibleProvider,
  );
  assert.ok(createProvider({ kind: 'anthropic', model: 'claude-haiku-4-5', apiKey: 'k' }) instanceof AnthropicProvider);
  const b = createProvider({ kind: 'builtin' });
  assert.equal(b.offline, true);
  const caps = await b.capabilities();
  assert.ok(caps.nextTokenLogprobs);
  const r = await b.nextTokens({ prompt: 'my card was declined. my card', continuation: '', topK: 3, positions: 1 });
  assert.equal(r.steps.length, 1);
});

test('createProvider rejects incomplete or unsafe configs with a usage error naming the field', () => {
  const bad: [ProviderConfig, RegExp][] = [
    [{ kind: 'nope' } as unknown as ProviderConfig, /unknown provider kind/],
    [{ kind: 'openai' }, /needs a model/],
    [{ kind: 'anthropic', model: ' ' }, /needs a model/],
    [{ kind: 'azure', model: 'd' }, /needs a base URL/],
    [{ kind: 'openai', model: 'm', baseURL: 'localhost:8000' }, /not a URL|must be http/],
    [{ kind: 'openai', model: 'm', baseURL: 'file:///etc/passwd' }, /must be http/],
    [{ kind: 'openai', model: 'm', baseURL: 'http://user:pw@127.0.0.1/v1' }, /credentials/],
    [{ kind: 'openai', model: 'm', baseURL: 'http://127.0.0.1/v1', concurrency: 0 }, /concurrency/],
  ];
  for (const [cfg, re] of bad)
    assert.throws(
      () => createProvider(cfg),
      (e: unknown) => e instanceof UsageError && re.test(e.message),
      JSON.stringify(cfg),
    );
});

test('the built-in provider from createProvider lets the event loop run before each call (Cancel, SIGINT, timers)', async () => {
  const provider = createProvider({ kind: 'builtin' });
  let ran = false;
  setImmediate(() => (ran = true));
  await provider.nextTokens({ prompt: 'my card was declined. my card', continuation: '', topK: 3, positions: 1 });
  assert.equal(ran, true, 'a macrotask queued before the call ran before the call resolved');
  ran = false;
  setImmediate(() => (ran = true));
  await provider.embed(['my card']);
  assert.equal(ran, true);
  await assert.rejects(
    provider.nextTokens({ prompt: 'x', continuation: '', topK: 3, positions: 1, signal: AbortSignal.abort() }),
  );
});
