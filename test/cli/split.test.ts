import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../../src/core/data';
import { heldOutPart } from '../../src/core/evaluate/split';
import { runCli, repoRoot } from '../support/cli';
import { startFakeServer, type RecordedRequest } from '../support/fake-openai-server';
import { tempDir } from '../support/tmp';

function workspace(): string {
  const dir = tempDir('pfs-split-cli-');
  copyFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), path.join(dir, 'data.csv'));
  return dir;
}

/** Every text a request carried: completions prompts, chat messages, embedding inputs. */
const textsOf = (r: RecordedRequest): string =>
  JSON.stringify([r.body?.prompt ?? null, r.body?.messages ?? null, r.body?.input ?? null]);

async function parts(ws: string) {
  const ds = await loadDataset(path.join(ws, 'data.csv'), { root: ws });
  return heldOutPart(ds, path.join(ws, '.private-fewshot')).parts;
}

test('split: records the split beside the ledger, is stable on a second call and refuses a different fraction', async () => {
  const ws = workspace();
  const r = await runCli(['split', 'data.csv', '--holdout', '0.2', '--json'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.split.created, true);
  assert.match(o.split.file, /^\.private-fewshot\/splits\/[0-9a-f]{16}\.json$/);
  assert.match(o.localOnlyNotPrivate.note, /Local only, not private/);
  assert.equal(o.localOnlyNotPrivate.training + o.localOnlyNotPrivate.heldOut, 2000);
  const again = JSON.parse((await runCli(['split', 'data.csv', '--holdout', '0.2', '--json'], { cwd: ws })).stdout);
  assert.equal(again.split.created, false);
  assert.deepEqual(again.localOnlyNotPrivate, o.localOnlyNotPrivate);
  const other = await runCli(['split', 'data.csv', '--holdout', '0.3'], { cwd: ws });
  assert.equal(other.code, 2);
  assert.match(other.stderr, /already has a split/);
  const text = await runCli(['split', 'data.csv', '--holdout', '0.2'], { cwd: ws });
  assert.match(text.stdout, /Split already recorded in .*held-out fraction 0\.2/);
});

test('spy: after a split, demos sends no held-out row to the model (and does send training rows)', async () => {
  const ws = workspace();
  assert.equal((await runCli(['split', 'data.csv', '--holdout', '0.3'], { cwd: ws })).code, 0);
  const { training, heldOut } = await parts(ws);
  // The split's seed is random: card_arrival (31 rows) has fewer than 3 held-out rows in 1 split of 640, a label of
  // 20 rows in 1 of 28. So the label is the first one with 3 held-out and 10 training rows after this split (none of
  // the 67 labels of 20 or more rows qualifying: probability below 1e-80).
  const rowsOf = (part: typeof training, l: string) => part.filter((e) => e.label === l).map((e) => e.text);
  const label = [...new Set(training.map((e) => e.label))]
    .sort()
    .find((l) => rowsOf(heldOut, l).length >= 3 && rowsOf(training, l).length >= 10);
  assert.ok(label, 'a label with 3 held-out and 10 training rows');
  const held = rowsOf(heldOut, label);
  const train = rowsOf(training, label);
  const s = await startFakeServer({ flavour: 'vllm' });
  try {
    // Many prompts of many examples each: every training row of the label is very likely drawn at least once.
    const r = await runCli(
      [
        'demos',
        'data.csv',
        '--labels',
        label,
        '--shots',
        '1',
        '--epsilon',
        '3',
        '--prompts',
        '20',
        '--examples-per-prompt',
        '20',
        '--max-tokens',
        '3',
        '--provider',
        'openai',
        '--model',
        'm',
        '--base-url',
        s.baseURL,
      ],
      { cwd: ws },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /split: drawing only from the training part \(\d+ of 2000 rows/);
    const sent = s.requests.map(textsOf).join('\n');
    const seen = train.filter((t) => sent.includes(JSON.stringify(t).slice(1, -1)));
    assert.ok(seen.length >= train.length / 2, `the spy sees training rows (${seen.length} of ${train.length})`);
    for (const t of held) assert.ok(!sent.includes(JSON.stringify(t).slice(1, -1)), `held-out row sent: ${t}`);
  } finally {
    await s.close();
  }
});

test('spy: after a split, synth embeds no held-out row (private rows go only to the embedder)', async () => {
  const ws = workspace();
  assert.equal((await runCli(['split', 'data.csv', '--holdout', '0.3'], { cwd: ws })).code, 0);
  const { training, heldOut } = await parts(ws);
  const labels = ['card_arrival', 'exchange_rate'];
  const s = await startFakeServer({ flavour: 'vllm' });
  try {
    const r = await runCli(
      [
        'synth',
        'data.csv',
        '--labels',
        labels.join(','),
        '--count',
        '2',
        '--epsilon',
        '4',
        '--iterations',
        '1',
        '--variations',
        '1',
        '--provider',
        'openai',
        '--model',
        'm',
        '--base-url',
        s.baseURL,
      ],
      { cwd: ws },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /split: drawing only from the training part/);
    const embedded = s.requests
      .filter((q) => q.path.endsWith('/embeddings'))
      .map(textsOf)
      .join('\n');
    const esc = (t: string) => JSON.stringify(t).slice(1, -1);
    const train = training.filter((e) => labels.includes(e.label));
    assert.ok(
      train.every((e) => embedded.includes(esc(e.text))),
      'every training row of the labels is embedded',
    );
    for (const e of heldOut) assert.ok(!embedded.includes(esc(e.text)), `held-out row embedded: ${e.text}`);
  } finally {
    await s.close();
  }
});

test('split: usage errors are one line', async () => {
  const ws = workspace();
  const r = await runCli(['split', 'data.csv'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--holdout is required/);
  const bad = await runCli(['split', 'data.csv', '--holdout', '1.5'], { cwd: ws });
  assert.equal(bad.code, 2);
  assert.ok(readFileSync(path.join(ws, 'data.csv'), 'utf8').length > 0);
});
