/**
 * The Evaluate panel in a real VS Code (code-server + Chromium, offline, built-in model): a dataset with a held-out
 * split and a demonstrations file; "Evaluate Demonstrations…" from the explorer, the file picked in the quick pick,
 * and the chart of accuracy with intervals per condition drawn under the strict CSP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { loadDataset } from '../../src/core/data';
import { createSplit } from '../../src/core/evaluate/split';
import {
  ROOT,
  WORKBENCH_SETTINGS,
  fromExplorer,
  isCspViolation,
  screenshot,
  webview,
  withDiagnostics as diagnose,
  openWorkspace,
  type CodeServer,
  type Workspace,
  type LoggedMessage,
} from './harness';

const SAMPLE = 'banking77-sample.csv';
const DEMOS = [
  { label: 'card_arrival', text: 'I ordered my card last week and it has not arrived yet.' },
  { label: 'exchange_rate', text: 'What exchange rate do you use for euros?' },
  { label: 'pin_blocked', text: 'My PIN is blocked after three wrong tries.' },
];

describe('Evaluate panel in a real VS Code (code-server + Chromium)', { timeout: 180_000 }, () => {
  let server: CodeServer | undefined;
  let session: Workspace | undefined;
  let page: Page;
  let logs: LoggedMessage[];
  const withDiagnostics = (name: string, body: () => Promise<void>) => diagnose(name, { page, server, logs }, body);

  before(async () => {
    // The split is made before the server starts (as `private-fewshot split` would), in the workspace's ledger folder.
    session = await openWorkspace(
      async (ws) => {
        copyFileSync(join(ROOT, 'examples', SAMPLE), join(ws, SAMPLE));
        writeFileSync(join(ws, 'demos.jsonl'), DEMOS.map((d) => JSON.stringify(d)).join('\n') + '\n');
        const ds = await loadDataset(join(ws, SAMPLE), { root: ws });
        createSplit(join(ws, '.private-fewshot'), ds.identity.path, 0.2);
      },
      WORKBENCH_SETTINGS,
      { file: SAMPLE, viewport: { width: 1280, height: 800 } },
    );
    ({ server, page, logs } = session);
  });

  after(async () => {
    await session?.close();
  });

  it('draws accuracy with 95% intervals for zero-shot, the demonstrations and real ones, labelled local only', () =>
    withDiagnostics('evaluate-chart', async () => {
      await fromExplorer(page, SAMPLE, 'Evaluate Demonstrations…');
      const input = page.locator('.quick-input-widget input');
      await page
        .locator('.quick-input-widget')
        .getByText('Evaluate: which demonstrations?', { exact: false })
        .waitFor({ timeout: 15_000 });
      await input.fill('demos.jsonl');
      await page.locator('.quick-input-list .monaco-list-row[aria-label*="demos.jsonl"]').first().waitFor();
      await input.press('Enter');
      const wv = webview(page);
      const chart = wv.locator('svg.eval-chart');
      await chart.waitFor({ timeout: 90_000 });
      assert.equal(await chart.locator('rect.eval-bar').count(), 3);
      assert.equal(await chart.locator('g.eval-row').count(), 3);
      // Each row has its interval: a horizontal line and two end ticks.
      assert.equal(await chart.locator('line.eval-ci').count(), 9);
      const names = await chart.locator('text.eval-label').allTextContents();
      assert.deepEqual(
        names.map((n) => n.replace(/\(.*\)/, '').trim()),
        ['zero-shot', 'DP demonstrations', '1 real per label'],
      );
      await wv.getByText('Local only, not private', { exact: true }).waitFor();
      const rows = await wv.locator('table.eval-table').first().locator('tbody tr').allTextContents();
      assert.equal(rows.length, 3);
      for (const r of rows) assert.match(r, /\d+\.\d%\d+\.\d% – \d+\.\d%/);
      // Themed: the bars take the chart colour from the VS Code theme variables.
      const fill = await chart.locator('g.eval-dp rect.eval-bar').evaluate((el) => getComputedStyle(el).fill);
      assert.notEqual(fill, 'rgb(0, 0, 0)');
      await screenshot(page, 'evaluate-chart');
      assert.deepEqual(logs.filter(isCspViolation), [], 'no CSP violation');
    }));

  it("the Generate panel's plan says it draws only from the training part of the split", () =>
    withDiagnostics('generate-split-note', async () => {
      await fromExplorer(page, SAMPLE, 'Generate DP Demonstrations…');
      const wv = webview(page);
      await wv.locator('.labels input[value="card_arrival"]').check({ timeout: 30_000 });
      await wv.locator('#shots').fill('1');
      await wv.locator('#max-tokens').fill('4');
      await wv.locator('#epsilon').fill('1');
      await wv.locator('#preview').click();
      const note = wv.locator('.plan .warning', { hasText: 'split: drawing only from the training part' });
      await note.waitFor({ timeout: 30_000 });
      assert.match((await note.textContent()) ?? '', /\d+ of 2000 rows; the held-out 20% is never read/);
    }));
});
