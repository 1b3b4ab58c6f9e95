import { test } from 'node:test';
import assert from 'node:assert/strict';
import shapes from './api-shapes.fixture.json';
import { isAbsentLogprob, normalizeTop, parseChoiceLogprobs, restrictTop } from '../../../src/core/providers/logprobs';
import { decodeEmbedding, encodeEmbeddingBase64 } from '../../../src/core/providers/embeddings';
import { parseRetryAfter, retryDelay } from '../../../src/core/providers/retry';
import { Limiter } from '../../../src/core/providers/limiter';
import { redactSecrets, safeServerMessage, withholdQuoted } from '../../../src/core/providers/redact';
import { DEFAULT_PRICES, loadPriceTable, priceFor, UsageMeter } from '../../../src/core/providers/usage';
import { apiKeyFromEnv } from '../../../src/core/providers/keys';
import { classifyError } from '../../../src/core/providers/classify';
import { logprobCap } from '../../../src/core/providers/openai';
import { ProviderError } from '../../../src/core/providers/errors';
import { UserError } from '../../../src/core/errors';
import { tempDir, writeFile } from '../../support/tmp';

// ---- logprob shapes (verbatim excerpts in api-shapes.fixture.json; docs/BACKGROUND.md §4) ---------------------------

test('OpenAI chat logprobs: tokens reproduce the message and each top list is sorted, sampled token included', () => {
  const steps = parseChoiceLogprobs(shapes.openaiChat.logprobs)!;
  assert.equal(steps.map((s) => s.token).join(''), shapes.openaiChat.content);
  assert.equal(steps.length, 9);
  assert.deepEqual(steps[0]!.top, [
    { token: 'Hello', logprob: -0.31725305 },
    { token: 'Hi', logprob: -1.3190403 },
  ]);
  // bytes: null entries ("<|end|>") are still tokens with a logprob.
  assert.deepEqual(
    steps[2]!.top.map((t) => t.token),
    [' How', '<|end|>'],
  );
  for (const s of steps) {
    assert.ok(s.top.some((t) => t.token === s.token));
    for (let i = 1; i < s.top.length; i++) assert.ok(s.top[i - 1]!.logprob >= s.top[i]!.logprob);
  }
});

test('OpenAI logprobs without top_logprobs: the top list holds just the sampled token', () => {
  const steps = parseChoiceLogprobs(shapes.openaiChatNoTop.logprobs)!;
  assert.deepEqual(
    steps.map((s) => s.token),
    ['Hello', '!', ' How', ' can'],
  );
  assert.deepEqual(steps[1]!.top, [{ token: '!', logprob: -9.729906e-6 }]);
});

test('vLLM chat: the trailing EOS entry (-9999, bytes []) is dropped, and a shorter top list is tolerated', () => {
  const steps = parseChoiceLogprobs(shapes.vllmChat.logprobs)!;
  assert.deepEqual(
    steps.map((s) => s.token),
    ['{', '}'],
  );
  assert.equal(steps[1]!.top.length, 1); // asked for 2, got 1
  assert.equal(steps[1]!.top[0]!.logprob, 0);
});

test('legacy completions: dict top lists are sorted by value, not by key order', () => {
  const chunk = parseChoiceLogprobs(shapes.vllmCompletionsChunk.logprobs)!;
  assert.deepEqual(
    chunk[0]!.top.map((t) => t.token),
    ['7', '3', '1', '2', '9'],
  );
  const ada = parseChoiceLogprobs(shapes.openaiLegacyAda.logprobs)!;
  // The sampled " goal" is not in the top-5 dict: it is added with its own logprob, then everything is sorted.
  assert.deepEqual(
    ada[0]!.top.map((t) => t.token),
    ['_', '/', '-', '.', ',', ' goal'],
  );
  assert.equal(ada[0]!.token, ' goal');
  // top_logprobs: null (logprobs=0): each step still has the sampled token.
  const nul = parseChoiceLogprobs(shapes.openaiLegacyNullTop.logprobs)!;
  assert.deepEqual(
    nul.map((s) => s.top.length),
    [1, 1, 1, 1, 1],
  );
});

test('Ollama chat shape (no bytes) parses', () => {
  const steps = parseChoiceLogprobs(shapes.ollamaChat.logprobs)!;
  assert.deepEqual(
    steps.map((s) => s.top.map((t) => t.token)),
    [
      ['Hello', 'Hi'],
      [' there', ' world'],
    ],
  );
});

test('-9999, -3.4e38, null and -Infinity count as absent; duplicates merge by log-sum-exp', () => {
  for (const x of [-9999, -3.4028234663852886e38, null, -Infinity, Number.NaN, undefined])
    assert.equal(isAbsentLogprob(x), true, String(x));
  assert.equal(isAbsentLogprob(-9998.9), false);
  const top = normalizeTop([
    { token: 'a', logprob: Math.log(0.2) },
    { token: 'b', logprob: -9999 },
    { token: 'c', logprob: -3.4028234663852886e38 },
    { token: 'a', logprob: Math.log(0.3) },
    { token: 'd', logprob: 1e-7 },
  ]);
  assert.deepEqual(
    top.map((t) => t.token),
    ['d', 'a'],
  );
  assert.equal(top[0]!.logprob, 0);
  assert.ok(Math.abs(top[1]!.logprob - Math.log(0.5)) < 1e-12);
  assert.equal(parseChoiceLogprobs(null), null);
  assert.equal(parseChoiceLogprobs({ content: null }), null);
  assert.deepEqual(restrictTop(top, ['a', 'zz']), [top[1]]);
});

// ---- embeddings ----------------------------------------------------------------------------------------------------

test('embeddings decode from float arrays and from base64 little-endian float32 to the same vector', () => {
  const v = [0.0023064255, -0.009327292, -0.0028842222, 1.5];
  const fromFloat = decodeEmbedding(v)!;
  const fromB64 = decodeEmbedding(encodeEmbeddingBase64(v))!;
  assert.deepEqual(Array.from(fromB64), Array.from(fromFloat));
  assert.equal(fromFloat[3], 1.5);
  // A known base64 string: float32 LE of [1, -2] is 0000803f 000000c0.
  assert.deepEqual(Array.from(decodeEmbedding(Buffer.from('0000803f000000c0', 'hex').toString('base64'))!), [1, -2]);
  assert.equal(decodeEmbedding('abc'), null); // 2 bytes: not a multiple of 4
  assert.equal(decodeEmbedding('not base64!'), null);
  assert.equal(decodeEmbedding([1, 'x']), null);
  assert.equal(decodeEmbedding({}), null);
});

// ---- retry policy
// ----------------------------------------------------------------------------------------------------

test('Retry-After: retry-after-ms wins, seconds and HTTP dates parse, garbage is ignored', () => {
  assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '250', 'retry-after': '3' })), 250);
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': '2' })), 2000);
  assert.equal(parseRetryAfter({ 'Retry-After': '0.5' }), 500);
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:07 GMT' }), now), 7000);
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'soon' })), undefined);
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': '-4' })), 0);
  assert.equal(parseRetryAfter(undefined), undefined);
});

test('backoff grows exponentially within [step/2, step], is capped, and never undercuts Retry-After', () => {
  const p = { baseDelayMs: 100, maxDelayMs: 1000 };
  assert.equal(retryDelay(0, { ...p, random: () => 0 }), 50);
  assert.equal(retryDelay(0, { ...p, random: () => 0.999999 }) < 100, true);
  assert.equal(retryDelay(3, { ...p, random: () => 0 }), 400);
  assert.equal(retryDelay(10, { ...p, random: () => 0 }), 500); // capped step 1000
  assert.equal(retryDelay(0, { ...p, random: () => 0 }, 3000), 3000);
  assert.equal(retryDelay(0, { ...p, random: () => 0.5 }, 3000), 3150);
});

// ---- limiter
// ---------------------------------------------------------------------------------------------------------

test('the limiter never exceeds its limit, serves FIFO, and drops aborted waiters', async () => {
  const lim = new Limiter(2);
  let active = 0;
  let peak = 0;
  const order: number[] = [];
  const job = (i: number) =>
    lim.run(async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      order.push(i);
      active--;
    });
  await Promise.all([0, 1, 2, 3, 4, 5].map(job));
  assert.equal(peak, 2);
  assert.deepEqual(order.slice(0, 2).sort(), [0, 1]);
  const hold = await lim.acquire();
  const hold2 = await lim.acquire();
  const ac = new AbortController();
  const waiting = lim.acquire(ac.signal);
  assert.equal(lim.waiting, 1);
  ac.abort();
  await assert.rejects(waiting, { name: 'AbortError' });
  assert.equal(lim.waiting, 0);
  hold();
  hold(); // releasing twice is harmless
  hold2();
  assert.equal(lim.running, 0);
});

// ---- redaction
// -------------------------------------------------------------------------------------------------------

test('keys are redacted from messages, including masked echoes, bearer tokens and the exact key', () => {
  const key = 'sk-proj-abcdefghijklmnop1234';
  const m = redactSecrets(
    `Incorrect API key provided: ${key}. Also sk-proj-****1234 and Bearer abcdefghij12345 and api-key: zzzzyyyyxxxx`,
    [key],
  );
  assert.ok(!m.includes('abcdefghijklmnop'), m);
  assert.ok(!m.includes('1234'), m);
  assert.ok(!m.includes('abcdefghij12345'), m);
  assert.ok(!m.includes('zzzzyyyyxxxx'), m);
  assert.match(m, /\[redacted\]/);
  const custom = redactSecrets('token=my-local-secret-token', ['my-local-secret-token']);
  assert.equal(custom, 'token=[redacted]');
});

test('server messages quoting the request text are withheld', () => {
  const prompt = 'My card was declined at the supermarket yesterday, account 12345678';
  assert.equal(
    withholdQuoted('Invalid input: "My card was declined at the supermarket"', [prompt]),
    '(server message withheld: it quoted the request text)',
  );
  assert.equal(withholdQuoted('model not found', [prompt]), 'model not found');
  assert.ok(safeServerMessage('x'.repeat(1000), [], [], 50).length <= 51);
});

// ---- errors
// ----------------------------------------------------------------------------------------------------------

const ctx = { kind: 'openai' as const, host: 'h:1', model: 'm', secrets: ['sk-secret-key-123456'] };
function apiErr(status: number, error: unknown, headers: Record<string, string> = {}) {
  return { status, error, headers: new Headers(headers), message: `${status} x` };
}

test('errors are classified into actionable codes from each server envelope', () => {
  const c = (e: unknown) => classifyError(e, ctx, [])!;
  assert.equal(
    c(apiErr(401, { message: 'Incorrect API key provided: sk-secret-key-123456', code: 'invalid_api_key' })).code,
    'auth',
  );
  assert.ok(
    !c(apiErr(401, { message: 'Incorrect API key provided: sk-secret-key-123456' })).message.includes('123456'),
  );
  const rl = c(
    apiErr(429, { code: '429', message: 'Rate limit is exceeded.' }, { 'retry-after': '2', 'retry-after-ms': '1500' }),
  );
  assert.equal(rl.code, 'rate-limit');
  assert.equal(rl.retryable, true);
  assert.equal(rl.details.retryAfterMs, 1500);
  const quota = c(
    apiErr(429, { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' }),
  );
  assert.equal(quota.code, 'quota');
  assert.equal(quota.retryable, false);
  assert.equal(
    c(apiErr(400, { message: "This model's maximum context length is 4096 tokens.", code: 'context_length_exceeded' }))
      .code,
    'context-too-long',
  );
  assert.equal(
    c(
      apiErr(400, {
        code: 400,
        message: 'the request exceeds the available context size',
        type: 'exceed_context_size_error',
      }),
    ).code,
    'context-too-long',
  );
  assert.equal(
    c(
      apiErr(400, {
        message: "Unsupported parameter: 'logprobs' is not supported with this model.",
        param: 'logprobs',
        code: 'unsupported_parameter',
      }),
    ).code,
    'no-logprobs',
  );
  assert.equal(
    c(
      apiErr(404, {
        message: 'The model `x` does not exist or you do not have access to it.',
        code: 'model_not_found',
      }),
    ).code,
    'model-not-found',
  );
  assert.equal(c(apiErr(404, 'model "llama9" not found, try pulling it first')).code, 'model-not-found');
  assert.equal(c(apiErr(404, { message: 'Invalid URL (POST /v1/chat/completion)' })).code, 'bad-request');
  assert.equal(
    c(apiErr(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })).code,
    'rate-limit',
  );
  assert.equal(c(apiErr(503, { code: 503, message: 'Loading model', type: 'unavailable_error' })).retryable, true);
  assert.equal(c(apiErr(500, { message: 'x' }, { 'x-should-retry': 'false' })).retryable, false);
  assert.equal(c(new SyntaxError('Unexpected end of JSON input')).code, 'malformed-response');
  assert.equal(classifyError(new RangeError('bug'), ctx, []), undefined);
  const e = c(apiErr(401, { message: 'no' }));
  assert.ok(e instanceof UserError && e instanceof ProviderError);
  assert.match(e.hint ?? '', /OPENAI_API_KEY/);
});

test("the logprob cap is read from each server's 400 message", () => {
  const pe = (m: string) => new ProviderError('bad-request', m);
  assert.equal(logprobCap(pe("Invalid value for 'top_logprobs': must be less than or equal to 5.")), 5);
  assert.equal(
    logprobCap(pe("Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got 21 instead.")),
    20,
  );
  assert.equal(logprobCap(pe('Requested sample logprobs of 21, which is greater than max allowed: 20')), 20);
  assert.equal(logprobCap(pe('top_logprobs must be between 0 and 20')), 20);
  assert.equal(logprobCap(pe('n must be <= 5')), undefined);
});

// ---- prices and keys
// -------------------------------------------------------------------------------------------------

test('prices: exact id, longest dated prefix, unknown models cost 0, user file overrides', async () => {
  assert.deepEqual(priceFor('gpt-4.1-mini-2025-04-14', DEFAULT_PRICES), DEFAULT_PRICES['gpt-4.1-mini']);
  assert.deepEqual(priceFor('gpt-4o-mini', DEFAULT_PRICES), DEFAULT_PRICES['gpt-4o-mini']);
  assert.equal(priceFor('llama3.2', DEFAULT_PRICES), undefined);
  assert.equal(priceFor('o30', DEFAULT_PRICES), undefined);
  const m = new UsageMeter({ 'my-model': { input: 2, output: 10 } });
  m.record('my-model', 1_000_000, 500_000);
  m.record('other', 7, 3);
  assert.deepEqual(m.snapshot(), { calls: 2, inputTokens: 1_000_007, outputTokens: 500_003, cost: 7, retries: 0 });
  const dir = tempDir();
  const file = writeFile(
    dir,
    'prices.json',
    JSON.stringify({ models: { 'gpt-4.1-mini': { input: 9, output: 9 }, mine: { input: 1, output: 2 } } }),
  );
  const t = await loadPriceTable(file);
  assert.deepEqual(t['gpt-4.1-mini'], { input: 9, output: 9 });
  assert.deepEqual(t.mine, { input: 1, output: 2 });
  assert.deepEqual(t['gpt-4o'], DEFAULT_PRICES['gpt-4o']);
  const bad = writeFile(dir, 'bad.json', JSON.stringify({ models: { x: { input: -1, output: 0 } } }));
  await assert.rejects(
    loadPriceTable(bad),
    (e: unknown) => e instanceof UserError && /models\.x\.input/.test(e.message),
  );
});

test('keys come from PRIVATE_FEWSHOT_API_KEY first, then the provider variable', () => {
  assert.deepEqual(apiKeyFromEnv('openai', { OPENAI_API_KEY: 'a', PRIVATE_FEWSHOT_API_KEY: 'b' }), {
    key: 'b',
    variable: 'PRIVATE_FEWSHOT_API_KEY',
  });
  assert.deepEqual(apiKeyFromEnv('anthropic', { OPENAI_API_KEY: 'a', ANTHROPIC_API_KEY: 'c' }), {
    key: 'c',
    variable: 'ANTHROPIC_API_KEY',
  });
  assert.equal(apiKeyFromEnv('anthropic', { OPENAI_API_KEY: 'a' }), undefined);
  assert.equal(apiKeyFromEnv('openai', { OPENAI_API_KEY: '  ' }), undefined);
  assert.equal(apiKeyFromEnv('builtin', { OPENAI_API_KEY: 'a' }), undefined);
});
