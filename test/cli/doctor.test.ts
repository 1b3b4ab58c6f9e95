import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../support/cli';
import { startFakeServer, type FakeServer } from '../support/fake-openai-server';
import { PROBE } from '../../src/core/providers/probe';
import { CONTINUE_SYSTEM } from '../../src/core/providers/openai';
import { closedPort } from '../support/ports';

const servers: FakeServer[] = [];
after(async () => Promise.all(servers.map((s) => s.close())));
async function server(opts: Parameters<typeof startFakeServer>[0]) {
  const s = await startFakeServer(opts);
  servers.push(s);
  return s;
}

/** Every text the probe put in a request must be one of the fixed public probe texts. */
function onlyProbeText(s: FakeServer) {
  const allowed = new Set<string>([...Object.values(PROBE), CONTINUE_SYSTEM]);
  for (const r of s.requests) {
    const b = r.body ?? {};
    const texts = [
      b.prompt,
      b.system,
      ...(Array.isArray(b.input) ? b.input : [b.input]),
      ...(b.messages ?? []).map((m: { content: string }) => m.content),
    ].filter((t) => t !== undefined);
    for (const t of texts) assert.ok(allowed.has(t), `unexpected text sent: ${JSON.stringify(t)}`);
  }
}

test('doctor on a vLLM-like server: capabilities, both algorithms work, only probe text is sent', async () => {
  const s = await server({ flavour: 'vllm' });
  const r = await runCli(['doctor', '--model', 'llama', '--base-url', s.baseURL]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /server: vllm/);
  assert.match(r.stdout, /next-token logprobs +yes, top-20 via \/v1\/completions/);
  assert.match(r.stdout, /DP few-shot +works: top-20/);
  assert.match(r.stdout, /Aug-PE +works: generation and embeddings/);
  assert.match(r.stdout, /key +none given/);
  assert.match(r.stdout, /probe +3 call\(s\)/);
  onlyProbeText(s);
  const j = await runCli(['doctor', '--model', 'llama', '--base-url', s.baseURL, '--json']);
  const report = JSON.parse(j.stdout);
  assert.equal(report.ok, true);
  assert.deepEqual(report.capabilities.nextTokenLogprobs, { maxTopK: 20, mode: 'completions', logitBias: false });
  assert.equal(report.algorithms.dpFewShot.ok, true);
  assert.deepEqual([report.algorithms.augPe.generate, report.algorithms.augPe.embed], [true, true]);
  assert.equal(report.usage.calls, 3);
});

test('a server without logprobs: DP few-shot is reported unavailable with the fix, exit 0', async () => {
  const s = await server({ flavour: 'lmstudio', embeddingModels: [] });
  const r = await runCli(['doctor', '--model', 'qwen', '--base-url', s.baseURL, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.algorithms.dpFewShot.ok, false);
  assert.match(report.algorithms.dpFewShot.detail, /gpt-4\.1-mini/);
  assert.equal(report.algorithms.augPe.embed, false);
  assert.match(report.algorithms.augPe.detail, /built-in embedder/);
});

test('the key comes from the environment, is never printed, and a rejected key exits 1 with a hint', async () => {
  const s = await server({ flavour: 'openai', apiKey: 'sk-good-key-00001111' });
  const ok = await runCli(['doctor', '--model', 'm', '--base-url', s.baseURL], {
    env: { OPENAI_API_KEY: 'sk-good-key-00001111' },
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /key +from OPENAI_API_KEY/);
  assert.ok(!ok.stdout.includes('00001111'));
  assert.equal(s.requests[0]!.headers.authorization, 'Bearer sk-good-key-00001111');
  const bad = await runCli(['doctor', '--model', 'm', '--base-url', s.baseURL], {
    env: { PRIVATE_FEWSHOT_API_KEY: 'sk-bad-key-99998888', OPENAI_API_KEY: 'sk-good-key-00001111' },
  });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /refused the request \(401\)/);
  assert.match(bad.stderr, /→ .*PRIVATE_FEWSHOT_API_KEY/);
  assert.ok(!bad.stderr.includes('99998888') && !bad.stdout.includes('99998888'));
  const j = await runCli(['doctor', '--model', 'm', '--base-url', s.baseURL, '--json'], {
    env: { OPENAI_API_KEY: 'sk-bad-key-99998888' },
  });
  assert.equal(j.code, 1);
  const out = JSON.parse(j.stdout);
  assert.equal(out.ok, false);
  assert.equal(out.error.code, 'auth');
});

test('an endpoint that is down exits 1 naming the connection problem', async () => {
  const port = await closedPort();
  const r = await runCli([
    'doctor',
    '--model',
    'm',
    '--base-url',
    `http://127.0.0.1:${port}/v1`,
    '--timeout-ms',
    '2000',
  ]);
  assert.equal(r.code, 1);
  // One line naming the URL and the failure (src/core/providers/endpoint.ts), then what to do.
  assert.ok(r.stderr.includes(`cannot reach http://127.0.0.1:${port}/v1: connection refused`), r.stderr);
  assert.match(r.stderr, /→ Nothing answers at 127\.0\.0\.1:\d+: start the model server/);
});

test('Anthropic: generation only; the embedder must come from elsewhere', async () => {
  const s = await server({ apiKey: 'sk-ant-key-123456' });
  const r = await runCli(['doctor', '--provider', 'anthropic', '--model', 'claude-haiku-4-5', '--base-url', s.origin], {
    env: { ANTHROPIC_API_KEY: 'sk-ant-key-123456' },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /DP few-shot +does not work/);
  assert.match(r.stdout, /Aug-PE +works for generation; the embeddings must come from another embedder/);
  onlyProbeText(s);
});

test('the built-in model needs no key and is labelled as offline', async () => {
  const r = await runCli(['doctor', '--provider', 'builtin', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.offline, true);
  assert.equal(report.algorithms.dpFewShot.ok, true);
  assert.match(report.algorithms.dpFewShot.detail, /offline model/);
  assert.equal(report.usage.cost, 0);
});

test('usage mistakes exit 2', async () => {
  assert.equal((await runCli(['doctor', '--provider', 'gemini', '--model', 'x'])).code, 2);
  const noModel = await runCli(['doctor', '--provider', 'anthropic']);
  assert.equal(noModel.code, 2);
  assert.match(noModel.stderr, /needs --model/);
  assert.equal((await runCli(['doctor', '--model', 'm', '--base-url', 'ftp://x'])).code, 2);
  assert.equal((await runCli(['doctor', '--model', 'm', '--timeout-ms', 'soon'])).code, 2);
});
