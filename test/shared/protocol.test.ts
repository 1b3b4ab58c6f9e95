import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHostMessage, parseWebviewMessage } from '../../src/shared/protocol';
import { augPeRelease, fewShotRelease } from '../../src/core/release';
import { fakeAugPeInput, fakeFewShotInput } from '../support/releases';

const local = {
  calls: 3,
  inputTokens: 80,
  outputTokens: 3,
  cost: 0,
  durationMs: 12,
  journal: 'runs/x.local-diagnostics.json',
};
import { loadDataset, summarize } from '../../src/core/data';
import { repoRoot } from '../support/cli';

test('a real dataset summary passes the host → webview schema', async () => {
  const summary = summarize(await loadDataset('examples/banking77-sample.csv', { root: repoRoot }));
  const msg = parseHostMessage({ type: 'summary', summary });
  assert.ok(msg);
  assert.equal(msg.type, 'summary');
});

test('malformed or unknown messages are rejected on both sides', () => {
  assert.equal(parseWebviewMessage({ type: 'ready' })?.type, 'ready');
  assert.equal(parseWebviewMessage({ type: 'openSource', line: 3 })?.type, 'openSource');
  for (const bad of [
    null,
    'ready',
    {},
    { type: 'exec', command: 'rm -rf /' },
    { type: 'openSource', line: -1 },
    { type: 'openSource', line: 1.5 },
  ]) {
    assert.equal(parseWebviewMessage(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(parseHostMessage({ type: 'summary', summary: { file: 'x' } }), undefined);
  assert.equal(parseHostMessage({ type: 'error', file: 'x' }), undefined);
  assert.equal(parseHostMessage({ type: 'error', file: 'x', message: 'm', line: 4 })?.type, 'error');
});

test('Generate panel: webview → host run settings are validated (whole positive counts, positive ε, explicit allLabels)', () => {
  const settings = { labels: ['card_arrival'], allLabels: false, shots: 1, epsilon: 0.5, prompts: 2, maxTokens: 4 };
  assert.deepEqual(parseWebviewMessage({ type: 'preview', settings }), { type: 'preview', settings });
  assert.equal(parseWebviewMessage({ type: 'generate', settings })?.type, 'generate');
  for (const t of ['cancel', 'insert', 'export', 'copy', 'setBudget'])
    assert.equal(parseWebviewMessage({ type: t })?.type, t);
  // setBudget carries nothing: the host decides which dataset (its panel's) and asks for the value itself.
  assert.deepEqual(parseWebviewMessage({ type: 'setBudget', epsilon: 100 }), { type: 'setBudget' });
  const bad: unknown[] = [
    { ...settings, shots: 0 },
    { ...settings, shots: 1.5 },
    { ...settings, epsilon: 0 },
    { ...settings, epsilon: -1 },
    { ...settings, prompts: -2 },
    { ...settings, maxTokens: '4' },
    { labels: settings.labels, shots: 1, epsilon: 1, prompts: 2, maxTokens: 4 },
    { ...settings, labels: 'card_arrival' },
  ];
  for (const s of bad)
    assert.equal(parseWebviewMessage({ type: 'generate', settings: s }), undefined, JSON.stringify(s));
  assert.equal(parseWebviewMessage({ type: 'generate' }), undefined);
});

test('Generate panel: host → webview init, plan, progress and result messages', () => {
  const budget = { total: 4, delta: 6.6e-5, spent: 1, remaining: 3 };
  const init = {
    type: 'generateInit',
    file: 'data.csv',
    labels: ['a', 'b'],
    provider: { kind: 'builtin', model: 'builtin-ngram-v1', offline: true },
    budget,
    defaults: { shots: 2, epsilon: 1, prompts: 10, maxTokens: 64 },
  };
  assert.deepEqual(parseHostMessage(init), init);
  const plan = {
    type: 'plan',
    epsilonRun: 0.99,
    delta: 6.6e-5,
    countRelease: { sigma: 42.1, epsilon: 0.1, share: 0.1 },
    labels: [{ label: 'a', steps: 4 }],
    budget,
    remainingAfter: 2,
    fits: true,
    over: 0,
    warnings: [],
  };
  assert.deepEqual(parseHostMessage(plan), plan);
  assert.equal(parseHostMessage({ ...plan, refusal: 'over by 1' })?.type, 'plan');
  const totals = { planned: 4, started: 2, done: 1, calls: 12, roundTrips: 6, inputTokens: 100, outputTokens: 0 };
  const progress = {
    type: 'progress',
    running: true,
    reset: false,
    rows: [
      { label: 'a', shot: 0, tokens: 3, done: false, text: 'so far' },
      { label: 'b', shot: 1, tokens: 4, done: true, text: 'done' },
    ],
    totals,
  };
  assert.deepEqual(parseHostMessage(progress), progress);
  assert.equal(
    parseHostMessage({ type: 'progress', label: 'a', shot: 0, tokens: 3, calls: 12, text: 'so far' }),
    undefined,
    'the one-line form is gone',
  );
  assert.equal(
    parseHostMessage({ ...progress, rows: [{ label: 'a', shot: -1, tokens: 3, done: false, text: '' }] }),
    undefined,
  );
  assert.equal(parseHostMessage({ ...progress, totals: { ...totals, roundTrips: undefined } }), undefined);
  assert.equal(parseHostMessage({ ...progress, running: undefined }), undefined);
  assert.deepEqual(parseHostMessage({ type: 'budget', budget }), { type: 'budget', budget });
  assert.equal(parseHostMessage({ type: 'budget', budget: { total: 4 } }), undefined);
  const release = JSON.parse(JSON.stringify(fewShotRelease(fakeFewShotInput())));
  const result = { type: 'result', release, budgetUsed: 0.99, budget, localOnlyNotPrivate: local };
  assert.deepEqual(parseHostMessage(result), result);
  assert.equal(parseHostMessage({ ...result, release: { ...release, status: 'done' } }), undefined);
  assert.equal(parseHostMessage({ ...result, release: { ...release, usage: { calls: 1 } } }), undefined);
  assert.equal(parseHostMessage({ ...init, budget: { total: 4 } }), undefined);
  assert.equal(parseHostMessage({ ...init, provider: { kind: 'builtin', model: 'x' } }), undefined);
  assert.equal(parseHostMessage({ type: 'generateError', message: 'm', hint: 'h' })?.type, 'generateError');
  assert.equal(parseHostMessage({ type: 'generateError' }), undefined);
  assert.equal(parseHostMessage({ type: 'generateError', message: 'm', action: 'setBudget' })?.type, 'generateError');
  assert.equal(parseHostMessage({ type: 'generateError', message: 'm', action: 'runShell' }), undefined);
});

test('Synthesize panel: webview → host settings are validated (whole counts within the CLI limits, positive ε, a known embedder)', () => {
  const settings = {
    labels: ['card_arrival'],
    allLabels: false,
    count: 4,
    epsilon: 1,
    iterations: 2,
    variations: 3,
    embedder: 'builtin',
  };
  assert.deepEqual(parseWebviewMessage({ type: 'synthPreview', settings }), { type: 'synthPreview', settings });
  assert.deepEqual(parseWebviewMessage({ type: 'synthRun', settings: { ...settings, embedder: 'same' } }), {
    type: 'synthRun',
    settings: { ...settings, embedder: 'same' },
  });
  const bad: unknown[] = [
    { ...settings, count: 0 },
    { ...settings, count: 2.5 },
    { ...settings, count: 1_000_001 },
    { ...settings, epsilon: 0 },
    { ...settings, iterations: 0 },
    { ...settings, iterations: 1001 },
    { ...settings, variations: 0 },
    { ...settings, variations: 101 },
    { ...settings, embedder: 'openai' },
    { ...settings, allLabels: undefined },
    { ...settings, labels: 'card_arrival' },
  ];
  for (const s of bad) {
    assert.equal(parseWebviewMessage({ type: 'synthRun', settings: s }), undefined, JSON.stringify(s));
    assert.equal(parseWebviewMessage({ type: 'synthPreview', settings: s }), undefined, JSON.stringify(s));
  }
  // The Generate panel's settings are not Aug-PE settings.
  assert.equal(
    parseWebviewMessage({
      type: 'synthRun',
      settings: { labels: ['a'], allLabels: false, shots: 1, epsilon: 1, prompts: 2, maxTokens: 4 },
    }),
    undefined,
  );
});

test('Synthesize panel: host → webview init, plan, progress and result messages', () => {
  const budget = { total: 4, delta: 6.6e-5, spent: 1, remaining: 3 };
  const model = { kind: 'builtin', model: 'builtin-ngram-v1', offline: true };
  const init = {
    type: 'synthInit',
    file: 'data.csv',
    labels: ['a', 'b'],
    provider: model,
    providerEmbeds: true,
    budget,
    defaults: { count: 10, epsilon: 1, iterations: 10, variations: 3, embedder: 'same' },
  };
  assert.deepEqual(parseHostMessage(init), init);
  assert.equal(parseHostMessage({ ...init, defaults: { ...init.defaults, embedder: 'cloud' } }), undefined);
  assert.equal(parseHostMessage({ ...init, providerEmbeds: undefined }), undefined);
  const plan = {
    type: 'synthPlan',
    epsilonRun: 0.99,
    delta: 6.6e-5,
    sigma: 2.1,
    mu: 0.67,
    iterations: 2,
    variations: 3,
    labels: [{ label: 'a', count: 2, population: 8, rows: 26, units: 26 }],
    wholeDataset: false,
    estimate: { completions: 14, syntheticEmbeddings: 14, privateEmbeddings: 26 },
    generator: model,
    embedder: model,
    budget,
    remainingAfter: 2,
    fits: true,
    over: 0,
    warnings: ['w'],
  };
  assert.deepEqual(parseHostMessage(plan), plan);
  assert.equal(parseHostMessage({ ...plan, refusal: 'over by 1' })?.type, 'synthPlan');
  assert.equal(
    parseHostMessage({ ...plan, labels: [{ label: 'a', count: -1, population: 8, rows: 26, units: 26 }] }),
    undefined,
  );
  const progress = {
    type: 'synthProgress',
    running: true,
    phase: 'histogram',
    iteration: 1,
    iterations: 2,
    histograms: 1,
    completions: 16,
    calls: 9,
    inputTokens: 100,
    outputTokens: 50,
    cost: 0,
    labels: [{ label: 'a', count: 2, stage: 'voting', iteration: 1 }],
  };
  assert.deepEqual(parseHostMessage(progress), progress);
  assert.equal(parseHostMessage({ ...progress, phase: 'sleeping' }), undefined);
  assert.equal(
    parseHostMessage({ ...progress, labels: [{ label: 'a', count: 2, stage: 'dancing', iteration: 1 }] }),
    undefined,
  );
  assert.equal(parseHostMessage({ ...progress, histograms: 0.5 }), undefined);
  const release = JSON.parse(JSON.stringify(augPeRelease(fakeAugPeInput())));
  const result = { type: 'synthResult', release, budgetUsed: 0.6, budget, localOnlyNotPrivate: local, message: 'm' };
  assert.deepEqual(parseHostMessage(result), result);
  assert.equal(parseHostMessage({ ...result, release: { ...release, status: 'done' } }), undefined);
  assert.equal(parseHostMessage({ ...result, release: { ...release, records: [{ label: 'a' }] } }), undefined);
  assert.equal(parseHostMessage({ ...result, release: { ...release, dataset: { path: 'd.csv' } } }), undefined);
  // A Generate panel result is not a Synthesize one.
  assert.equal(parseHostMessage({ ...result, type: 'result' }), undefined);
});
