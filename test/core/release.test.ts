// The release boundary (src/core/release.ts): the exact key set of a release, the protocol's view of it, and the
// renderer. The neighbouring-datasets tests of the real export paths are in test/cli/release-neighbours.test.ts and
// test/core/release-editor.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as z from 'zod/mini';
import {
  RELEASE_KEYS,
  augPeRelease,
  checkReleaseKeys,
  editorExportFormat,
  editorExportText,
  editorReleaseText,
  fewShotRelease,
  renderRelease,
  checkTemplate,
  type AugPeReleaseBody,
  type FewShotReleaseBody,
  type Release,
} from '../../src/core/release';
import { augPeReleaseSchema, fewShotReleaseSchema, parseHostMessage } from '../../src/shared/protocol';
import { fakeAugPeInput, fakeFewShotInput } from '../support/releases';

// Written out literally (not read from RELEASE_KEYS): adding a key to a release must change this test.
const FEWSHOT_KEYS = {
  '': ['format', 'tool', 'algorithm', 'notice', 'status', 'model', 'privacy', 'parameters', 'demonstrations'],
  model: ['kind', 'model', 'offline'],
  privacy: ['epsilonRequested', 'epsilonPlanned', 'epsilonCharged', 'delta', 'accountant', 'unit', 'labels'],
  'privacy.labels[]': ['label', 'sigma', 'steps'],
  parameters: ['labels', 'shots', 'prompts', 'examplesPerPrompt', 'maxTokens', 'topK', 'lookahead', 'shotConcurrency'],
  'demonstrations[]': ['label', 'text'],
};
const AUGPE_KEYS = {
  '': ['format', 'tool', 'algorithm', 'notice', 'status', 'model', 'embedder', 'privacy', 'parameters', 'records'],
  model: ['kind', 'model', 'offline'],
  embedder: ['kind', 'model', 'offline'],
  privacy: [
    'epsilonRequested',
    'epsilonPlanned',
    'epsilonCharged',
    'delta',
    'accountant',
    'unit',
    'sigma',
    'iterations',
    'histograms',
    'sigmaClass',
    'mu',
  ],
  parameters: [
    'labels',
    'counts',
    'fractions',
    'classCounts',
    'lookahead',
    'selection',
    'variations',
    'neighbours',
    'metric',
    'threshold',
    'variation',
    'maskProbability',
    'temperature',
    'maxTokens',
  ],
  'records[]': ['label', 'text'],
};

/** Every object's keys in a value, by path ('[]' for array elements). */
function keyPaths(x: unknown, where = '', out: Record<string, string[]> = {}): Record<string, string[]> {
  if (Array.isArray(x)) for (const v of x) keyPaths(v, `${where}[]`, out);
  else if (x && typeof x === 'object') {
    out[where] = Object.keys(x);
    for (const [k, v] of Object.entries(x)) keyPaths(v, where ? `${where}.${k}` : k, out);
  }
  return out;
}

test('a DP few-shot release has exactly the allowed keys, whatever else its inputs carry', () => {
  const r = fewShotRelease(fakeFewShotInput());
  assert.deepEqual(keyPaths(r), FEWSHOT_KEYS);
  assert.deepEqual(RELEASE_KEYS['dp-few-shot'], FEWSHOT_KEYS);
  // The inputs carried usage, a content hash, a path, a duration, `reused` and pool sizes: none of it is released.
  const text = JSON.stringify(r);
  for (const leak of ['usage', 'contentSha256', 'secret.csv', 'durationMs', 'reused', 'poolUnits', 'samplingRate'])
    assert.ok(!text.includes(leak), leak);
  assert.ok(Object.isFrozen(r) && Object.isFrozen(r.privacy) && Object.isFrozen(r.demonstrations[0]));
});

test('an Aug-PE release has exactly the allowed keys, whatever else its inputs carry', () => {
  const r = augPeRelease(fakeAugPeInput());
  assert.deepEqual(keyPaths(r), AUGPE_KEYS);
  assert.deepEqual(RELEASE_KEYS['aug-pe'], AUGPE_KEYS);
  const text = JSON.stringify(r);
  for (const leak of ['usage', 'contentSha256', 'secret.csv', 'durationMs', 'privateEmbedding', 'rows', 'units"'])
    assert.ok(!text.includes(leak), leak);
});

test('renderRelease refuses a release with a key outside the boundary (a forged or mutated release)', () => {
  const r = fewShotRelease(fakeFewShotInput());
  const forged = { ...r, usage: { inputTokens: 77 } } as unknown as Release;
  assert.throws(
    () => renderRelease(forged, { format: 'jsonl' }),
    /release boundary: "release" has unexpected key\(s\) usage/,
  );
  const nested = { ...r, privacy: { ...r.privacy, contentSha256: 'ab' } } as unknown as Release;
  assert.throws(() => checkReleaseKeys(nested), /"privacy" has unexpected key\(s\) contentSha256/);
  const a = augPeRelease(fakeAugPeInput());
  const missing = { ...a, embedder: undefined } as unknown as Release;
  assert.throws(() => checkReleaseKeys(JSON.parse(JSON.stringify(missing))), /missing key\(s\) embedder/);
});

// Compile-time: the protocol's schemas describe exactly the core's release types (both directions).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const fewShotSame: Same<z.infer<typeof fewShotReleaseSchema>, FewShotReleaseBody> = true;
const augPeSame: Same<z.infer<typeof augPeReleaseSchema>, AugPeReleaseBody> = true;

test('the protocol carries a release to the webview and rejects one with any extra key', () => {
  assert.ok(fewShotSame && augPeSame);
  const budget = { total: 4, delta: 1e-5, spent: 1, remaining: 3 };
  const local = { calls: 3, inputTokens: 80, outputTokens: 3, cost: 0, durationMs: 12, journal: 'runs/x.jsonl' };
  const release = JSON.parse(JSON.stringify(fewShotRelease(fakeFewShotInput())));
  const result = { type: 'result', release, budgetUsed: 1, budget, localOnlyNotPrivate: local };
  assert.deepEqual(parseHostMessage(result), result);
  assert.equal(parseHostMessage({ ...result, release: { ...release, usage: { inputTokens: 1 } } }), undefined);
  assert.equal(
    parseHostMessage({ ...result, release: { ...release, privacy: { ...release.privacy, samplingRate: [0.1] } } }),
    undefined,
  );
  assert.equal(parseHostMessage({ ...result, localOnlyNotPrivate: undefined }), undefined);
  const synth = JSON.parse(JSON.stringify(augPeRelease(fakeAugPeInput())));
  const synthResult = { type: 'synthResult', release: synth, budgetUsed: 1, budget, localOnlyNotPrivate: local };
  assert.deepEqual(parseHostMessage(synthResult), synthResult);
  assert.equal(
    parseHostMessage({ ...synthResult, release: { ...synth, dataset: { contentSha256: 'ab' } } }),
    undefined,
  );
});

test('renders JSON (the release), JSONL, chat messages and a text template; the offline model is always named', () => {
  const input = fakeFewShotInput({ offline: false });
  input.result.demonstrations = [
    { label: 'a', text: 'first "quoted"' },
    { label: 'b', text: 'second' },
  ];
  const r = fewShotRelease(input);
  const demos = [...r.demonstrations];
  assert.deepEqual(JSON.parse(renderRelease(r, { format: 'json' })), JSON.parse(JSON.stringify(r)));
  assert.deepEqual(
    renderRelease(r, { format: 'jsonl' })
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown),
    demos,
  );
  assert.deepEqual(JSON.parse(renderRelease(r, { format: 'chat' })), [
    { role: 'user', content: 'first "quoted"' },
    { role: 'assistant', content: 'a' },
    { role: 'user', content: 'second' },
    { role: 'assistant', content: 'b' },
  ]);
  assert.equal(
    renderRelease(r, { format: 'text', template: 'Q: {text} => {label}' }),
    'Q: first "quoted" => a\n\nQ: second => b\n',
  );
  // A label containing a placeholder is inserted literally, not re-expanded.
  const odd = fakeFewShotInput({ offline: false });
  odd.result.demonstrations = [{ label: '{text}', text: 'x' }];
  assert.equal(renderRelease(fewShotRelease(odd), { format: 'text', template: '{text}|{label}' }), 'x|{text}\n');
  const offline = fewShotRelease(fakeFewShotInput({ offline: true }));
  for (const format of ['json', 'jsonl', 'chat', 'text'] as const)
    assert.match(renderRelease(offline, { format }), /offline/, format);
  assert.equal(editorReleaseText(r), 'Text: first "quoted"\nLabel: a\n\nText: second\nLabel: b\n');
  assert.equal(editorExportFormat('/w/demos.json'), 'json');
  assert.equal(editorExportFormat('/w/demos.json', 'chat'), 'chat');
  assert.equal(editorExportFormat('/w/demos.JSONL'), 'jsonl');
  assert.equal(editorExportFormat('/w/demos.txt'), 'text');
  assert.equal(editorExportText(r, 'json'), renderRelease(r, { format: 'json' }));
  assert.throws(() => checkTemplate('{text} {lable}'), /unknown placeholder/);
  assert.throws(() => checkTemplate('no placeholders'), /no \{text\}/);
});
