import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, repoRoot } from '../support/cli';
import { startFakeServer, type FakeServer, type Flavour, type RecordedRequest } from '../support/fake-openai-server';
import { seedCrypto } from '../support/rng';
import { tempDir } from '../support/tmp';

/**
 * Provider failures are not a side channel (issue 9): a server that refuses every private prompt holding a planted
 * word (400 context_length_exceeded, as OpenAI and vLLM send it, naming the prompt's token count) does not stop the
 * run, does not change how many demonstrations are released or the ε charged, and nothing the run prints or writes
 * names the word or the server's refusal message. Only the public prompt, the probe or every request failing stops.
 */

const WORD = 'zanzibarite';

/** banking77 sample with the planted word in every 4th card_arrival row. */
function workspace(): string {
  const dir = tempDir('pfs-refusals-');
  const lines = readFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), 'utf8').split('\n');
  let seen = 0;
  const out = lines.map((l) => {
    if (!l.endsWith(',card_arrival')) return l;
    if (seen++ % 4 !== 0) return l;
    const text = l.slice(0, -',card_arrival'.length);
    const unquoted = text.startsWith('"') ? text.slice(1, -1) : text;
    return `"${unquoted} ${WORD}",card_arrival`;
  });
  writeFileSync(path.join(dir, 'data.csv'), out.join('\n'));
  return dir;
}

function args(s: FakeServer, extra: string[] = []): string[] {
  return [
    'demos',
    'data.csv',
    '--labels',
    'card_arrival',
    '--shots',
    '2',
    '--epsilon',
    '3',
    '--prompts',
    '4',
    '--max-tokens',
    '6',
    '--provider',
    'openai',
    '--model',
    'm',
    '--base-url',
    s.baseURL,
    '--json',
    ...extra,
  ];
}

/** Every file under dir, recursively, as text. */
function allFiles(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    out += statSync(p).isDirectory() ? allFiles(p) : `${p}\n${readFileSync(p, 'utf8')}\n`;
  }
  return out;
}

const promptsOf = (r: RecordedRequest): string[] =>
  Array.isArray(r.body?.prompt)
    ? r.body.prompt
    : typeof r.body?.prompt === 'string'
      ? [r.body.prompt]
      : Array.isArray(r.body?.messages)
        ? [r.body.messages.map((m: { content: string }) => m.content).join('\n')]
        : [];
const refused = (t: string) => t.includes(WORD);
const isPublic = (t: string) => t.split('Label: card_arrival').length === 2;

for (const [flavour, mode] of [
  ['vllm', 'batched (a list of prompts per request, split when refused)'],
  ['llamacpp', 'one prompt per request after the server refuses lists'],
  ['ollama', 'chat, one prompt per request'],
] as [Flavour, string][]) {
  test(`demos (${flavour}: ${mode}): refused private prompts vote zero; same demonstrations and ε, nothing names them`, async (t) => {
    // Seeded bytes in place of the cryptographic ones (the CLI runs in this process), the same for both runs, and one
    // demonstration at a time so that the draws come in a fixed order: both runs draw the same noisy pool count and
    // the same prompts. With real randomness whether the server refuses anything, and (vLLM) whether a list of
    // prompts still gets through, followed the draws: a noisy count below M·N = 8 (p = 0.057) puts every row into
    // every step's prompts (q = 1), and few lists without a planted row are left (one in this seed's vLLM run). The
    // two runs' ε matched only because both reached the run's ε of 3.
    const seed = `refusals/${flavour}`;
    const bytes = seedCrypto(t, seed);
    const once = ['--shot-concurrency', '1'];
    const s = await startFakeServer({ flavour });
    try {
      const base = await runCli(args(s, once), { cwd: workspace() });
      assert.equal(base.code, 0, base.stderr);
      const b = JSON.parse(base.stdout);

      s.set({ refuse: refused });
      s.reset();
      bytes.reseed(seed);
      const ws = workspace();
      const r = await runCli(args(s, once), { cwd: ws });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(bytes.calls() > 0, 'the runs drew the seeded bytes');
      const o = JSON.parse(r.stdout);
      assert.equal(o.release.status, 'completed');
      assert.equal(o.release.demonstrations.length, 2, 'every demonstration asked for');
      assert.equal(
        o.release.privacy.epsilonCharged,
        b.release.privacy.epsilonCharged,
        'the same ε charged as without refusals',
      );
      assert.equal(o.localOnlyNotPrivate.budget.spent, b.localOnlyNotPrivate.budget.spent);

      // The server did refuse private prompts, and never the public one.
      // (llama.cpp also refuses the first list of prompts for being a list.)
      const failed = s.requests.filter((q) => q.status === 400 && !(flavour === 'llamacpp' && promptsOf(q).length > 1));
      assert.ok(failed.length > 0, 'some private prompts were refused');
      assert.ok(failed.every((q) => promptsOf(q).some(refused)));
      assert.ok(!s.requests.some((q) => q.status === 400 && promptsOf(q).length === 1 && isPublic(promptsOf(q)[0]!)));
      if (flavour === 'vllm') {
        // A refused list was split: the refused prompt was isolated in a request of its own. (Whether a list without
        // a refused prompt is accepted later depends on the Poisson draws, about 1 run in 20 has none; the halving and
        // lists going on after a refusal are checked with fixed prompts in test/core/providers/batch.test.ts.)
        assert.ok(
          failed.some((q) => promptsOf(q).length > 1),
          'a list was refused',
        );
        assert.ok(
          failed.some((q) => promptsOf(q).length === 1),
          'the refused prompt was isolated',
        );
      } else {
        assert.ok(failed.every((q) => promptsOf(q).length === 1));
      }
      // The refusal count is a local diagnostic on stderr only.
      assert.match(r.stderr, /local diagnostic[^\n]*refused \d+ private prompt/);
      assert.ok(!('refusedPrompts' in o) && !JSON.stringify(o).includes('refused'));

      // Nothing names the word, the refusal message or the prompt's token count.
      const everything = `${r.stdout}\n${r.stderr}\n${allFiles(path.join(ws, '.private-fewshot'))}`;
      assert.ok(!everything.toLowerCase().includes(WORD), 'the planted word appears in the output');
      assert.doesNotMatch(everything, /context length|context size|tokens \(/i);
    } finally {
      await s.close();
    }
  });
}

test('demos: a refused public prompt stops the run cleanly with one line naming the server', async () => {
  const s = await startFakeServer({ flavour: 'vllm', refuse: (t) => isPublic(t) || refused(t) });
  try {
    const ws = workspace();
    const r = await runCli(args(s), { cwd: ws });
    assert.equal(r.code, 1);
    const o = JSON.parse(r.stdout);
    assert.equal(o.release.status, 'failed');
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0]!, /the public prompt's request failed/);
    assert.ok(errors[0]!.includes(new URL(s.baseURL).host), errors[0]);
    assert.ok(!`${r.stdout}${r.stderr}${allFiles(path.join(ws, '.private-fewshot'))}`.includes(WORD));
  } finally {
    await s.close();
  }
});

test('demos: a server that rejects the key stops before anything is reserved, naming the server', async () => {
  const s = await startFakeServer({ flavour: 'vllm', apiKey: 'sk-right-key-1234' });
  try {
    const ws = workspace();
    const r = await runCli(args(s), { cwd: ws, env: { OPENAI_API_KEY: 'sk-wrong-key-5678' } });
    assert.equal(r.code, 1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0]!, /401/);
    assert.ok(errors[0]!.includes(new URL(s.baseURL).host), errors[0]);
  } finally {
    await s.close();
  }
});

test('demos: every request failing mid-run (401, 403) stops the run cleanly', async () => {
  // (The server going away mid-run, retried with backoff, is in test/core/fewshot/refusals.test.ts with a fast retry.)
  for (const fault of [
    { kind: 'status', status: 401, body: { error: { message: 'Invalid key', type: 'auth', code: 401 } } },
    { kind: 'status', status: 403, body: { error: { message: 'Forbidden', type: 'auth', code: 403 } } },
  ] as const) {
    const s = await startFakeServer({ flavour: 'vllm', refuse: refused });
    try {
      // Let the probe through (its four requests), then fail everything.
      s.set({ fault: (q) => (promptsOf(q).some((t) => t.includes('Label:')) ? fault : undefined) });
      const ws = workspace();
      const r = await runCli(args(s), { cwd: ws });
      assert.equal(r.code, 1, r.stderr);
      const o = JSON.parse(r.stdout);
      assert.equal(o.release.status, 'failed');
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
      assert.equal(errors.length, 1, r.stderr);
      assert.ok(errors[0]!.includes(new URL(s.baseURL).host), errors[0]);
      assert.match(errors[0]!, new RegExp(String(fault.status)));
      assert.ok(!`${r.stdout}${r.stderr}`.includes(WORD));
    } finally {
      await s.close();
    }
  }
});

test('demos: transient 503 and 429 answers are retried and the run completes', async () => {
  const s = await startFakeServer({ flavour: 'vllm' });
  try {
    let n = 0;
    s.set({
      fault: (q) => {
        if (!promptsOf(q).some((t) => t.includes('Label:'))) return undefined; // the probe
        n++;
        if (n === 1 || n === 4) return { kind: 'status', status: 503 };
        if (n === 2) return { kind: 'rate-limit', retryAfter: '0' };
        return undefined;
      },
    });
    const r = await runCli(args(s), { cwd: workspace() });
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout);
    assert.equal(o.release.status, 'completed');
    assert.equal(o.release.demonstrations.length, 2);
    assert.equal(s.requests.filter((q) => q.status === 503).length, 2);
    assert.equal(s.requests.filter((q) => q.status === 429).length, 1);
  } finally {
    await s.close();
  }
});

test('synth: a private row the embedder refuses casts no vote; same records and ε, nothing names it', async () => {
  const s = await startFakeServer({ flavour: 'vllm' });
  try {
    const synthArgs = [
      'synth',
      'data.csv',
      '--labels',
      'card_arrival',
      '--count',
      '2',
      '--epsilon',
      '1',
      '--iterations',
      '2',
      '--variations',
      '1',
      '--provider',
      'openai',
      '--model',
      'm',
      '--base-url',
      s.baseURL,
      '--json',
    ];
    const base = await runCli(synthArgs, { cwd: workspace() });
    assert.equal(base.code, 0, base.stderr);
    const b = JSON.parse(base.stdout);
    s.set({ refuse: refused });
    s.reset();
    const ws = workspace();
    const r = await runCli(synthArgs, { cwd: ws });
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout);
    assert.equal(o.release.status, 'completed');
    assert.equal(o.release.records.length, b.release.records.length);
    assert.equal(o.release.privacy.epsilonCharged, b.release.privacy.epsilonCharged);
    const failed = s.requests.filter((q) => q.status === 400);
    assert.ok(failed.length > 0 && failed.every((q) => q.path.endsWith('/embeddings')));
    assert.match(r.stderr, /local diagnostic[^\n]*refused \d+ private row/);
    const everything = `${r.stdout}\n${r.stderr}\n${allFiles(path.join(ws, '.private-fewshot'))}`;
    assert.ok(!everything.toLowerCase().includes(WORD), 'the planted word appears in the output');
    assert.doesNotMatch(everything, /context length|tokens \(/i);
  } finally {
    await s.close();
  }
});
