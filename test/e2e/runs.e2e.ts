/**
 * The Runs view and the run panels' memory in a real VS Code (code-server + Chromium, offline, built-in model):
 * the view lists a run the CLI made before the editor opened, with the dataset's budget, and inserts its release into
 * an editor; a Generate result survives closing and reopening the panel, and a window reload.
 * Run with `bash scripts/e2e.sh`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { loadDataset } from '../../src/core/data';
import { assignSplit, createSplit } from '../../src/core/evaluate/split';
import {
  cliIn,
  ROOT,
  WORKBENCH_SETTINGS,
  fromExplorer,
  numberIn,
  screenshot,
  webview,
  withDiagnostics as diagnose,
  openWorkspace,
  until,
  openUntitled,
  waitForWorkbench,
  type CodeServer,
  type Workspace,
  type LoggedMessage,
} from './harness';

const SAMPLE = 'banking77-sample.csv';
const MARKER = 'RUNS-VIEW-START';

describe('The Runs view and panels that keep their results (code-server + Chromium)', { timeout: 240_000 }, () => {
  let server: CodeServer | undefined;
  let session: Workspace | undefined;
  let page: Page;
  let logs: LoggedMessage[];
  const withDiagnostics = (name: string, body: () => Promise<void>) =>
    diagnose(`runs-${name}`, { page, server, logs }, body);

  const runsDir = () => join(server!.workspace, '.private-fewshot', 'runs');
  /** The saved releases on disk, oldest first (file names sort by nothing useful; the run header has the time). */
  const savedReleases = () =>
    readdirSync(runsDir())
      .filter((f) => f.endsWith('.release.json'))
      .map((f) => JSON.parse(readFileSync(join(runsDir(), f), 'utf8')) as { demonstrations: { text: string }[] });

  const demoTexts = (wv: FrameLocator) => wv.locator('.result .demo-text').allTextContents();

  before(async () => {
    session = await openWorkspace(
      async (ws) => {
        copyFileSync(join(ROOT, 'examples', SAMPLE), join(ws, SAMPLE));
        // A held-out split first (so the run can be evaluated from the view), where `private-fewshot split` writes
        // it, with a fixed seed: under a random one card_arrival (31 rows) has no held-out row once in 1,000 splits,
        // and evaluating its run is then refused ("no held-out row … has a label of the demonstrations").
        const ds = await loadDataset(join(ws, SAMPLE), { root: ws });
        const seed = () => createHash('sha256').update('runs.e2e split').digest();
        const { split } = createSplit(join(ws, '.private-fewshot'), ds.identity.path, 0.2, seed);
        const held = assignSplit(ds, split).heldOut.filter((e) => e.label === 'card_arrival').length;
        assert.ok(held > 0, 'the fixed split holds out card_arrival rows');
        // A run made by the CLI before the editor opens: one demonstration of one label (its release is saved beside
        // its checkpoint, where the Runs view finds it).
        cliIn(ws, 'demos', join(ws, SAMPLE), [
          '--labels',
          'card_arrival',
          '--shots',
          '1',
          '--epsilon',
          '1',
          '--prompts',
          '2',
          '--max-tokens',
          '6',
        ]);
      },
      WORKBENCH_SETTINGS,
      { file: SAMPLE },
    );
    ({ server, page, logs } = session);
  });

  after(async () => {
    await session?.close();
  });

  const showContainer = (name: string) => page.locator(`.activitybar .action-item a[aria-label^="${name}"]`).click();
  const runsView = () => page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Runs' }) });
  const datasetRow = () => runsView().locator('.monaco-list-row', { hasText: SAMPLE });
  const runRows = () => runsView().locator('.monaco-list-row', { hasText: 'DP few-shot' });

  it('lists the CLI run under its dataset, with the budget, in the Private Few-Shot activity-bar view', () =>
    withDiagnostics('list', async () => {
      await showContainer('Private Few-Shot');
      await datasetRow().waitFor({ timeout: 30_000 });
      // 1 of the default 4 spent by the CLI run: rounded as everywhere (4 significant digits).
      await until('the budget is shown', async () =>
        /ε 1 spent · 3 left of 4/.test((await datasetRow().textContent()) ?? ''),
      );
      await runRows().first().waitFor({ timeout: 10_000 });
      const text = (await runRows().first().textContent()) ?? '';
      assert.match(text, /DP few-shot · 1 demonstration/);
      assert.match(text, /\d{4}-\d\d-\d\d \d\d:\d\d UTC · ε 1 · builtin\//);
      await screenshot(page, 'runs-view');
    }));

  it('inserts the run’s release at the cursor of an editor (the inline Insert action)', () =>
    withDiagnostics('insert', async () => {
      await openUntitled(page, MARKER);

      const [release] = savedReleases();
      const demo = release!.demonstrations[0]!.text.trim();
      const row = runRows().first();
      await row.hover();
      await row.locator('.action-label[aria-label="Insert Release at Cursor"]').click();
      const lines = page.locator('.monaco-editor .view-lines').first();
      await lines.filter({ hasText: 'Label: card_arrival' }).waitFor({ timeout: 15_000 });
      const shown = ((await lines.textContent()) ?? '').replace(/\u00a0/g, ' ');
      assert.ok(shown.indexOf(MARKER) < shown.indexOf('Label: card_arrival'), shown);
      if (demo) assert.ok(shown.includes(demo.slice(0, 20)), `the release's text is not in the editor: ${shown}`);
      // Only the release: no local diagnostic (calls, tokens, the journal) rides along.
      assert.doesNotMatch(shown, /calls|tokens|local-diagnostics|Local only/);
      await screenshot(page, 'runs-view-inserted');
    }));

  it('evaluates the run from its context menu: the Evaluate panel draws its chart', () =>
    withDiagnostics('evaluate', async () => {
      // Clicking the active container's icon would hide the side bar: open it only when the view is not shown.
      if (!(await runRows().first().isVisible())) await showContainer('Private Few-Shot');
      const row = runRows().first();
      await row.waitFor({ timeout: 10_000 });
      await row.click({ button: 'right' });
      // A menu ignores a click that comes right after it opened (the right button's release): hover the item, give
      // the menu a moment, and choose it with Enter; choose again if the menu is still open.
      const item = page.locator('.monaco-menu .action-label', { hasText: 'Evaluate Demonstrations…' });
      for (let attempt = 0; attempt < 3 && (await item.isVisible()); attempt++) {
        await item.hover();
        await page.waitForTimeout(400);
        await page.keyboard.press('Enter');
        await page.waitForTimeout(1000);
      }
      // The run's release is the DP condition, beside zero-shot and real demonstrations: no file picker in between.
      const chart = webview(page).locator('svg.eval-chart');
      await chart.waitFor({ timeout: 90_000 });
      assert.equal(await chart.locator('g.eval-row').count(), 3);
      await screenshot(page, 'runs-view-evaluate');
      await page.keyboard.press('F1');
      await page.locator('.quick-input-widget input').fill('>View: Close Editor');
      await page.locator('.quick-input-list .monaco-list-row[aria-label^="View: Close Editor"]').first().click();
    }));

  it('a new Generate result survives closing and reopening the panel, and the view lists the new run', () =>
    withDiagnostics('close', async () => {
      await page.keyboard.press('Control+Shift+E');
      await fromExplorer(page, SAMPLE, 'Generate DP Demonstrations…');
      let wv = webview(page);
      await wv.getByRole('heading', { name: 'Labels (77)' }).waitFor({ timeout: 30_000 });
      // Opened fresh, the panel already shows the dataset's last release (the CLI run's), said to be shown again.
      await wv.locator('.result .demo').first().waitFor({ timeout: 15_000 });
      assert.match((await wv.locator('.result').textContent()) ?? '', /Shown again: the release of the run of/);

      await wv.locator('.labels input[value="exchange_rate"]').check();
      await wv.locator('#shots').fill('2');
      await wv.locator('#prompts').fill('2');
      await wv.locator('#max-tokens').fill('4');
      await wv.locator('#epsilon').fill('1');
      await wv.locator('#generate').click();
      await until(
        'the new run’s result is shown',
        async () => (await wv.locator('.result .demo').count()) === 2,
        90_000,
      );
      assert.doesNotMatch((await wv.locator('.result').textContent()) ?? '', /Shown again/);
      const texts = await demoTexts(wv);
      const used = await numberIn(wv, '[data-testid=budget-used]');

      // Close the tab (the panel is disposed), then open the panel again.
      await page
        .locator('.tabs-container .tab', { hasText: `Generate: ${SAMPLE}` })
        .locator('.tab-actions .action-label')
        .click();
      await until(
        'the panel is closed',
        async () => (await page.locator('iframe.webview.ready').count()) === 0,
        10_000,
      );
      await fromExplorer(page, SAMPLE, 'Generate DP Demonstrations…');
      wv = webview(page);
      await wv.locator('.result .demo').first().waitFor({ timeout: 30_000 });
      assert.deepEqual(await demoTexts(wv), texts);
      assert.match((await wv.locator('.result').textContent()) ?? '', /Shown again/);
      // Run in this session: the exact rise of the spent budget the run caused is shown again, not an estimate.
      assert.equal(await numberIn(wv, '[data-testid=budget-used]'), used);
      // What Copy/Insert/Export carry is that release: the Insert button is there again.
      await wv.locator('#insert').waitFor({ timeout: 5_000 });

      // The view picked up the new run from the ledger watcher, newest first.
      await showContainer('Private Few-Shot');
      // (The file watcher's events can lag on a busy machine: 30 s.)
      await until('the view lists two runs', async () => (await runRows().count()) === 2, 30_000);
      assert.match((await runRows().first().textContent()) ?? '', /DP few-shot · 2 demonstrations/);
    }));

  it('the panel comes back after a window reload, with the same result', () =>
    withDiagnostics('reload', async () => {
      const before = await demoTexts(webview(page));
      assert.equal(before.length, 2);
      // "Developer: Reload Window" (the workbench saves its editors and webview states before it reloads).
      await page.locator('.tabs-container .tab', { hasText: `Generate: ${SAMPLE}` }).click();
      await page.keyboard.press('F1');
      await page.locator('.quick-input-widget input').fill('>Developer: Reload Window');
      const reloaded = page.waitForEvent('load', { timeout: 30_000 });
      await page.locator('.quick-input-list .monaco-list-row[aria-label^="Developer: Reload Window"]').first().click();
      await reloaded;
      await waitForWorkbench(page);
      await page.locator('.tabs-container .tab', { hasText: `Generate: ${SAMPLE}` }).waitFor({ timeout: 30_000 });
      const wv = webview(page);
      await wv.locator('.result .demo').first().waitFor({ timeout: 60_000 });
      assert.deepEqual(await demoTexts(wv), before);
      // After a reload only the saved release is there: the budget figure is the run's own ε, and the panel says so.
      assert.match((await wv.locator('.result').textContent()) ?? '', /shows its own ε charged here/);
      await wv.getByRole('heading', { name: 'Labels (77)' }).waitFor({ timeout: 10_000 });
      await screenshot(page, 'runs-panel-revived');
    }));
});
