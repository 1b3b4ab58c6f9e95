// Neighbouring datasets through the editor's export path, without vscode: the panels' steps (prepare with the ledger's
// δ, run with the built-in model as the panel configures it, then fewShotResultMessage / augPeResultMessage from
// src/extension/panels/release.ts) on dataset A and on A plus one long record. The result message's release (what
// the webview shows), and what Copy, Insert at cursor and Export… write (editorReleaseText, editorExportText in every
// format) must be the same for both, apart from the DP text. The local diagnostics must differ (so the test can fail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { prepareAugPe, runAugPe } from '../../src/core/augpe';
import { loadDataset, summarize } from '../../src/core/data';
import { FEWSHOT_DEFAULTS } from '../../src/core/fewshot/plan';
import { prepareFewShot } from '../../src/core/fewshot/prepare';
import { runFewShot } from '../../src/core/fewshot/run';
import { Ledger, defaultAccountant } from '../../src/core/ledger';
import { createProvider } from '../../src/core/providers';
import {
  editorExportFormat,
  editorExportText,
  editorReleaseText,
  RELEASE_FORMATS,
  type Release,
} from '../../src/core/release';
import { augPeResultMessage, fewShotResultMessage } from '../../src/extension/panels/release';
import { parseHostMessage } from '../../src/shared/protocol';
import { repoRoot } from '../support/cli';
import { withoutDpText } from '../support/releases';
import { tempDir, writeFile } from '../support/tmp';

const sample = readFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), 'utf8').trim().split('\n');
const rowsOf = (label: string, n: number) => sample.filter((l) => l.endsWith(`,${label}`)).slice(0, n);
// Pools ≤ M·N = 6 (prompts 3, N 2): q = 1 for A and A + 1, so σ does not follow the pool size.
const A = [sample[0]!, ...rowsOf('card_arrival', 4), ...rowsOf('exchange_rate', 4)].join('\n') + '\n';
const LONG = `"${Array.from({ length: 12 }, (_, i) => `my card ${i} has not arrived after weeks of waiting`).join(', and ')}",card_arrival`;
const DATASETS = { A, 'A + 1': A + LONG + '\n' };
const LABELS = ['card_arrival', 'exchange_rate'];
const budget = { total: 4, delta: 1e-3, spent: 0, remaining: 4 };

/** A workspace whose ledger δ the user set (`budget --delta`), or, with `setBudget` false, left at the default. */
async function workspace(csv: string, setBudget = true) {
  const root = tempDir('pfs-editor-nbr-');
  writeFile(root, 'data.csv', csv);
  const ds = await loadDataset('data.csv', { root });
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  if (setBudget)
    await ledger.setTotal({ identity: ds.identity, units: summarize(ds).units }, { epsilon: 4, delta: 1e-3 });
  return { root, ds, ledger };
}

/** Every text the editor can export for a release: Copy / Insert, and Export… in each format. */
function editorOutputs(r: Release): Record<string, unknown> {
  const out: Record<string, unknown> = { copyInsert: editorReleaseText(r).replace(/^Text: .*$/gm, 'Text: <DP text>') };
  for (const f of RELEASE_FORMATS) {
    const text = editorExportText(r, f);
    out[f] =
      f === 'text'
        ? text.replace(/^Text: .*$/gm, 'Text: <DP text>')
        : withoutDpText(JSON.parse(f === 'jsonl' ? `[${text.trim().split('\n').join(',')}]` : text));
  }
  return out;
}

test('Generate panel: the result message and Copy / Insert / Export… are the same for A and A + one long record, apart from the DP text', async () => {
  const seen: { message: unknown; outputs: unknown; local: { inputTokens: number; calls: number } }[] = [];
  for (const csv of Object.values(DATASETS)) {
    const { ds, ledger } = await workspace(csv);
    // As GeneratePanel.prepare and .generate do it (no δ from the form: the ledger's).
    const { plan, target } = await prepareFewShot(ds, ledger, {
      labels: LABELS,
      shots: 1,
      epsilon: 1,
      prompts: 3,
      maxTokens: 4,
    });
    const provider = createProvider({ kind: 'builtin' });
    const result = await runFewShot({
      dataset: ds,
      plan,
      provider,
      ledger,
      units: target.units,
      lookahead: FEWSHOT_DEFAULTS.lookahead,
      shotConcurrency: 1,
    });
    assert.equal(result.status, 'completed');
    const { release, message } = fewShotResultMessage(
      { plan, result },
      { budgetUsed: result.epsilonCharged, budget, journal: 'runs/x.local-diagnostics.json' },
    );
    const posted = parseHostMessage(JSON.parse(JSON.stringify(message)));
    assert.ok(posted && posted.type === 'result', 'the webview accepts the message');
    assert.equal(editorExportFormat('demonstrations.json'), 'json');
    seen.push({
      message: withoutDpText(posted.release),
      outputs: editorOutputs(release),
      local: posted.localOnlyNotPrivate,
    });
  }
  const [a, a1] = seen as [(typeof seen)[0], (typeof seen)[0]];
  // The local diagnostics tell the datasets apart (so the comparison below can fail). (Input tokens per call are not
  // a reliable witness any more: the sampling rate follows the noisy pool counts, so call counts vary run to run.)
  assert.notDeepEqual(a1.local, a.local, 'the diagnostics tell the datasets apart');
  assert.deepEqual(a1.message, a.message);
  assert.deepEqual(a1.outputs, a.outputs);
});

test('Synthesize panel: the result message and Copy / Insert / Export… are the same for A and A + one long record, apart from the DP text', async () => {
  const seen: { message: unknown; outputs: unknown; privateTokens: number }[] = [];
  for (const csv of Object.values(DATASETS)) {
    const { ds, ledger } = await workspace(csv);
    const { plan, target } = await prepareAugPe(ds, ledger, { labels: LABELS, count: 4, epsilon: 1, iterations: 2 });
    const provider = createProvider({ kind: 'builtin' });
    // What the panel's worker runs (core/worker/main.ts) with the built-in generator and embedder.
    const result = await runAugPe({ dataset: ds, plan, provider, embedder: provider, ledger, units: target.units });
    assert.equal(result.status, 'completed');
    const { release, message } = augPeResultMessage(
      { plan, result },
      { budgetUsed: result.epsilonCharged, budget, journal: 'runs/x.local-diagnostics.json' },
    );
    const posted = parseHostMessage(JSON.parse(JSON.stringify(message)));
    assert.ok(posted && posted.type === 'synthResult', 'the webview accepts the message');
    seen.push({
      message: withoutDpText(posted.release),
      outputs: editorOutputs(release),
      privateTokens: result.privateEmbeddingUsage.inputTokens,
    });
  }
  const [a, a1] = seen as [(typeof seen)[0], (typeof seen)[0]];
  assert.ok(a1.privateTokens > a.privateTokens, 'the diagnostics tell the datasets apart');
  assert.deepEqual(a1.message, a.message);
  assert.deepEqual(a1.outputs, a.outputs);
});

test('Generate panel with no budget set: the default δ is public, so the release (δ included) is the same for A and A + 1', async () => {
  const seen: { message: unknown; outputs: unknown; delta: number }[] = [];
  for (const csv of Object.values(DATASETS)) {
    const { ds, ledger } = await workspace(csv, false);
    // As GeneratePanel.prepare does it: no δ from the form, so the ledger's default.
    const { plan, target, status } = await prepareFewShot(ds, ledger, {
      labels: ['card_arrival'],
      shots: 1,
      epsilon: 1,
      prompts: 3,
      maxTokens: 2,
    });
    assert.equal(status.total.source, 'default');
    const provider = createProvider({ kind: 'builtin' });
    const result = await runFewShot({ dataset: ds, plan, provider, ledger, units: target.units, shotConcurrency: 1 });
    assert.equal(result.status, 'completed');
    const { release, message } = fewShotResultMessage(
      { plan, result },
      {
        budgetUsed: result.epsilonCharged,
        budget: { total: 4, delta: status.total.delta, spent: 0, remaining: 4 },
        journal: 'runs/x.local-diagnostics.json',
      },
    );
    const posted = parseHostMessage(JSON.parse(JSON.stringify(message)));
    assert.ok(posted && posted.type === 'result', 'the webview accepts the message');
    seen.push({
      message: withoutDpText(posted.release),
      outputs: editorOutputs(release),
      delta: release.privacy.delta,
    });
  }
  const [a, a1] = seen as [(typeof seen)[0], (typeof seen)[0]];
  assert.equal(a.delta, 1e-6);
  assert.equal(a1.delta, a.delta);
  assert.deepEqual(a1.message, a.message);
  assert.deepEqual(a1.outputs, a.outputs);
});
