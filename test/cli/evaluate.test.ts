import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../../src/core/data';
import { heldOutPart } from '../../src/core/evaluate/split';
import { wilson } from '../../src/core/evaluate/stats';
import { runCli } from '../support/cli';
import { startFakeServer } from '../support/fake-openai-server';
import { ORACLE_LABELS, oracleCsv, oracleModel } from '../support/oracle-classifier';
import { tempDir } from '../support/tmp';

async function workspace() {
  const ws = tempDir('pfs-evaluate-');
  writeFileSync(path.join(ws, 'data.csv'), oracleCsv(40));
  const split = await runCli(['split', 'data.csv', '--holdout', '0.25'], { cwd: ws });
  assert.equal(split.code, 0, split.stderr);
  // "DP demonstrations": on topic for card_arrival and card_linking, off topic for exchange_rate.
  const demos = [
    { label: 'card_arrival', text: 'example regarding card_arrival' },
    { label: 'card_linking', text: 'example regarding card_linking' },
    { label: 'exchange_rate', text: 'off topic' },
  ];
  writeFileSync(path.join(ws, 'demos.jsonl'), demos.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const ds = await loadDataset(path.join(ws, 'data.csv'), { root: ws });
  const { heldOut } = heldOutPart(ds, path.join(ws, '.private-fewshot')).parts;
  const count = (l: string) => heldOut.filter((e) => e.label === l).length;
  return { ws, n: heldOut.length, ca: count('card_arrival'), cl: count('card_linking') };
}

for (const [flavour, score, opts] of [
  ['vllm', 'logprobs', {}],
  ['lmstudio', 'generation', { ignoreLogprobs: true }],
] as const) {
  test(`evaluate --demos through a local OpenAI-compatible server (${flavour}, ${score}): the three conditions`, async () => {
    const { ws, n, ca, cl } = await workspace();
    const s = await startFakeServer({ flavour, model: oracleModel, ...opts });
    const base = ['evaluate', 'data.csv', '--demos', 'demos.jsonl', '--provider', 'openai', '--model', 'm'];
    try {
      const dry = await runCli([...base, '--base-url', s.baseURL, '--dry-run', '--json'], { cwd: ws });
      assert.equal(dry.code, 0, dry.stderr);
      const plan = JSON.parse(dry.stdout).localOnlyNotPrivate.plan;
      assert.equal(plan.rows, n);
      assert.equal(plan.mode, score);
      // Classification requests (the capability probe sends other prompts).
      const completions = () => s.requests.filter((q) => JSON.stringify(q.body).includes('Classify the text')).length;
      assert.equal(completions(), 0, 'a dry run classifies nothing');
      const r = await runCli([...base, '--base-url', s.baseURL, '--json'], { cwd: ws });
      assert.equal(r.code, 0, r.stderr);
      const o = JSON.parse(r.stdout);
      assert.deepEqual(Object.keys(o), ['localOnlyNotPrivate']);
      const rep = o.localOnlyNotPrivate;
      assert.match(rep.note, /local only, not private/);
      assert.equal(rep.mode, score);
      const [zero, dp, real] = rep.conditions;
      assert.equal(zero.overall.correct, ca, 'zero-shot answers the first label');
      assert.equal(dp.overall.correct, ca + cl, 'the demonstrations help for the labels they show');
      assert.equal(real.overall.correct, n, 'real demonstrations show every label');
      assert.equal(real.epsilon, null); // Infinity in JSON
      assert.equal(dp.overall.low, wilson(ca + cl, n).low);
      assert.equal(rep.calls, completions(), 'calls counted as the server saw them');
      assert.ok(rep.calls <= plan.maxCallsNeeded);
      assert.deepEqual(
        dp.perLabel.map((l: { label: string }) => l.label),
        ORACLE_LABELS,
      );
      // Nothing written next to the data: the evaluation is never in a file for sharing.
      assert.deepEqual(readdirSync(ws).sort(), ['.private-fewshot', 'data.csv', 'demos.jsonl']);
      const text = await runCli([...base, '--base-url', s.baseURL], { cwd: ws });
      assert.match(text.stdout, /local only, not private/);
      assert.match(text.stdout, /95% CI \(Wilson\)/);
      assert.match(text.stderr, /calls: about \d+, at most \d+/);
    } finally {
      await s.close();
    }
  });
}

test('evaluate: --max-calls caps the calls and says where it stopped; a cap below one row is refused', async () => {
  const { ws } = await workspace();
  const s = await startFakeServer({ flavour: 'vllm', model: oracleModel });
  try {
    const base = ['evaluate', 'data.csv', '--demos', 'demos.jsonl', '--provider', 'openai', '--model', 'm'];
    const r = await runCli([...base, '--base-url', s.baseURL, '--max-calls', '40', '--json'], { cwd: ws });
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout).localOnlyNotPrivate;
    assert.equal(rep.stoppedAtCap, true);
    assert.ok(rep.calls <= 40 && rep.rowsEvaluated > 0);
    const no = await runCli([...base, '--base-url', s.baseURL, '--max-calls', '2'], { cwd: ws });
    assert.equal(no.code, 2);
    assert.match(no.stderr, /--max-calls 2 is below/);
  } finally {
    await s.close();
  }
});

test('evaluate: without a split it says how to make one; the built-in model runs offline', async () => {
  const ws = tempDir('pfs-evaluate-');
  writeFileSync(path.join(ws, 'data.csv'), oracleCsv(10));
  writeFileSync(path.join(ws, 'd.jsonl'), JSON.stringify({ label: 'card_arrival', text: 'x' }) + '\n');
  const r = await runCli(['evaluate', 'data.csv', '--demos', 'd.jsonl'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /has no held-out split[\s\S]*private-fewshot split data.csv --holdout 0.2/);
  const { ws: ws2 } = await workspace();
  const b = await runCli(['evaluate', 'data.csv', '--demos', 'demos.jsonl', '--rows', '6', '--json'], { cwd: ws2 });
  assert.equal(b.code, 0, b.stderr);
  const rep = JSON.parse(b.stdout).localOnlyNotPrivate;
  assert.equal(rep.model.offline, true);
  assert.equal(rep.rowsEvaluated, 6);
});

for (const via of ['builtin', 'fake-server'] as const) {
  test(`evaluate --records (${via}): a classifier on good synthetic records beats chance; Fréchet distances reported`, async () => {
    const { ws } = await workspace();
    // "Synthetic records" that say their label, as good Aug-PE output would.
    const records = ORACLE_LABELS.flatMap((l) =>
      Array.from({ length: 8 }, (_, i) => ({ label: l, text: `note ${100 + i} regarding ${l}` })),
    );
    writeFileSync(path.join(ws, 'records.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const s = via === 'fake-server' ? await startFakeServer({ flavour: 'vllm', embeddingDim: 256 }) : undefined;
    try {
      const flags = s ? ['--provider', 'openai', '--model', 'm', '--base-url', s.baseURL] : [];
      const r = await runCli(['evaluate', 'data.csv', '--records', 'records.jsonl', '--json', ...flags], { cwd: ws });
      assert.equal(r.code, 0, r.stderr);
      const rep = JSON.parse(r.stdout).localOnlyNotPrivate;
      assert.match(rep.note, /local only, not private/);
      const [synthetic, real] = rep.conditions;
      assert.equal(synthetic.kind, 'synthetic');
      assert.equal(rep.sizes.synthetic, 24);
      assert.ok(synthetic.overall.accuracy > 0.6, `synthetic ${synthetic.overall.accuracy}`);
      assert.ok(real.overall.accuracy > 0.6, `real ${real.overall.accuracy}`);
      assert.ok(rep.frechet.syntheticToTraining > 0 && rep.frechet.heldOutToTraining >= 0);
      if (s) assert.ok(s.requests.some((q) => q.path.endsWith('/embeddings')));
      assert.deepEqual(readdirSync(ws).sort(), ['.private-fewshot', 'data.csv', 'demos.jsonl', 'records.jsonl']);
    } finally {
      await s?.close();
    }
  });
}

test('evaluate --demos through the Anthropic Messages API (no log-probabilities: generation and exact match)', async () => {
  const { ws, n, ca, cl } = await workspace();
  const s = await startFakeServer({ model: oracleModel, apiKey: 'sk-ant-test' });
  try {
    const r = await runCli(
      [
        'evaluate',
        'data.csv',
        '--demos',
        'demos.jsonl',
        '--provider',
        'anthropic',
        '--model',
        'claude-haiku-4-5',
        '--base-url',
        s.origin,
        '--json',
      ],
      { cwd: ws, env: { ANTHROPIC_API_KEY: 'sk-ant-test' } },
    );
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout).localOnlyNotPrivate;
    assert.equal(rep.mode, 'generation');
    assert.deepEqual(
      rep.conditions.map((c: { overall: { correct: number } }) => c.overall.correct),
      [ca, ca + cl, n],
    );
    // Classification requests only (the capability probe sends one more, without a dataset row).
    assert.equal(rep.calls, s.requests.filter((q) => JSON.stringify(q.body).includes('Classify the text')).length);
  } finally {
    await s.close();
  }
});

test('evaluate with several --demos: one DP condition each, in ascending ε (accuracy against ε)', async () => {
  const { ws, n, ca, cl } = await workspace();
  // A release at ε = 8 that shows every label, and the JSONL demonstrations (ε unknown: listed last).
  const release = {
    format: 'private-fewshot-release/1',
    algorithm: 'dp-few-shot',
    privacy: { epsilonCharged: 8 },
    demonstrations: ORACLE_LABELS.map((l) => ({ label: l, text: `example regarding ${l}` })),
  };
  writeFileSync(path.join(ws, 'eps8.json'), JSON.stringify(release, null, 2));
  const s = await startFakeServer({ flavour: 'vllm', model: oracleModel });
  try {
    const r = await runCli(
      [
        'evaluate',
        'data.csv',
        '--demos',
        'demos.jsonl',
        '--demos',
        'eps8.json',
        '--provider',
        'openai',
        '--model',
        'm',
        '--base-url',
        s.baseURL,
        '--json',
      ],
      { cwd: ws },
    );
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout).localOnlyNotPrivate;
    assert.deepEqual(
      rep.conditions.map((c: { kind: string; epsilon?: number | null }) => [c.kind, c.epsilon ?? null]),
      [
        ['zero-shot', 0],
        ['dp', 8],
        ['dp', null],
        ['real', null],
      ],
    );
    assert.deepEqual(
      rep.conditions.map((c: { overall: { correct: number } }) => c.overall.correct),
      [ca, n, ca + cl, n],
    );
    assert.deepEqual(rep.demonstrations, ['eps8.json', 'demos.jsonl'], 'in ascending ε');
  } finally {
    await s.close();
  }
});
