/**
 * The Generate DP Demonstrations panel in a real VS Code (code-server 4.139.1 = VS Code 1.139.1, Debian Chromium,
 * offline, built-in model). Run with `bash scripts/e2e.sh`. One server and one page for the whole file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { ARTIFACTS, ROOT, WORKBENCH_SETTINGS, webview, withDiagnostics as diagnose, collectConsole, isCspViolation, launchBrowser, screenshot, startCodeServer, type CodeServer, type LoggedMessage } from './harness';

const SAMPLE = 'banking77-sample.csv';
const LABELS = ['card_arrival', 'top_up_by_card_charge'];
/** A line typed into the untitled editor before the panel opens; the demonstrations are inserted after it. */
const MARKER = 'DEMOS-START';

const SETTINGS = {
  ...WORKBENCH_SETTINGS,
  'files.hotExit': 'off',
};

describe('Generate DP Demonstrations in a real VS Code (code-server + Chromium)', { timeout: 180_000 }, () => {
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let logs: LoggedMessage[];

  const withDiagnostics = (name: string, body: () => Promise<void>) => diagnose(`generate-${name}`, { page, server, logs }, body);

  const visibleWebview = (): FrameLocator => webview(page);

  /** Right-clicks a file in the explorer and picks `command` (menus appear once the extension registered; retried). */
  async function fromExplorer(file: string, command: string): Promise<void> {
    const row = page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${file}"]`);
    const item = page.getByRole('menuitem', { name: command });
    const deadline = Date.now() + 30_000;
    for (;;) {
      await row.click({ button: 'right' });
      try {
        await item.waitFor({ state: 'visible', timeout: 1_500 });
        break;
      } catch (e) {
        await page.keyboard.press('Escape');
        if (Date.now() > deadline) throw e;
      }
    }
    await item.click();
    const menu = page.locator('.context-view .monaco-menu');
    try {
      await menu.waitFor({ state: 'hidden', timeout: 2_000 });
    } catch {
      await item.hover();
      await page.keyboard.press('Enter');
      await menu.waitFor({ state: 'hidden', timeout: 5_000 });
    }
  }

  async function number(wv: FrameLocator, selector: string): Promise<number> {
    const t = (await wv.locator(selector).first().textContent()) ?? '';
    const x = Number(t);
    assert.ok(Number.isFinite(x), `${selector} is not a number: "${t}"`);
    return x;
  }

  before(async () => {
    const [s, b] = await Promise.all([
      startCodeServer((ws) => copyFileSync(join(ROOT, 'examples', SAMPLE), join(ws, SAMPLE)), SETTINGS),
      launchBrowser(),
    ]);
    server = s;
    browser = b;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    logs = collectConsole(page);
    await page.goto(`${server.url}/?folder=${encodeURIComponent(server.workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${SAMPLE}"]`).waitFor({ timeout: 30_000 });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('opens an untitled editor to insert into later', () =>
    withDiagnostics('untitled', async () => {
      await page.keyboard.press('F1');
      await page.locator('.quick-input-widget input').fill('>File: New Untitled Text File');
      await page.locator('.quick-input-list .monaco-list-row[aria-label^="File: New Untitled Text File"]').first().click();
      await page.waitForFunction(() => /^Untitled-1\b/.test(document.querySelector('.tabs-container .tab.active')?.getAttribute('aria-label') ?? ''), undefined, { timeout: 10_000 });
      const editor = page.locator('.editor-instance .monaco-editor').first();
      await editor.waitFor({ timeout: 10_000 });
      await editor.click();
      await page.keyboard.type(`${MARKER}\n`);
      await page.locator('.monaco-editor .view-lines', { hasText: MARKER }).waitFor({ timeout: 5_000 });
    }));

  it('opens the Generate panel from the explorer: labels, budget 4 of 4 and the builtin notice', () =>
    withDiagnostics('open', async () => {
      await fromExplorer(SAMPLE, 'Generate DP Demonstrations…');
      const wv = visibleWebview();
      await wv.getByRole('heading', { name: 'Labels (77)' }).waitFor({ timeout: 30_000 });
      assert.equal(await wv.locator('.labels input[type=checkbox]').count(), 77);
      assert.match((await wv.locator('.builtin-notice').textContent()) ?? '', /for trying the tool, not production quality/);
      assert.match((await wv.locator('.provider').textContent()) ?? '', /builtin\//);
      assert.equal(await number(wv, '[data-testid=budget-total]'), 4);
      assert.equal(await number(wv, '[data-testid=budget-remaining]'), 4);
      await page.locator('.statusbar-item', { hasText: 'ε 4.00 left' }).waitFor({ timeout: 10_000 });
      // "Select all" stays disabled until the label set is explicitly accepted as public.
      assert.equal(await wv.locator('#select-all').getAttribute('disabled'), '');
      await wv.locator('#all-labels').check();
      assert.equal(await wv.locator('#select-all').getAttribute('disabled'), null);
      assert.equal(await wv.locator('.labels input:checked').count(), 77);
      // Withdrawing the acknowledgement withdraws the selection it allowed.
      await wv.locator('#all-labels').uncheck();
      assert.equal(await wv.locator('.labels input:checked').count(), 0);
    }));

  it('previews a plan that would overspend as refused, and a small one with σ per label', () =>
    withDiagnostics('preview', async () => {
      const wv = visibleWebview();
      for (const l of LABELS) await wv.locator(`.labels input[value="${l}"]`).check();
      await wv.locator('#shots').fill('1');
      await wv.locator('#prompts').fill('2');
      await wv.locator('#max-tokens').fill('4');
      await wv.locator('#epsilon').fill('10');
      await wv.locator('#preview').click();
      await wv.locator('.refusal').waitFor({ timeout: 30_000 });
      assert.match((await wv.locator('.refusal').textContent()) ?? '', /over its total ε = 4/);

      await wv.locator('#epsilon').fill('1');
      await wv.locator('#preview').click();
      await wv.locator('.plan').filter({ hasNot: wv.locator('.refusal') }).waitFor({ timeout: 30_000 });
      assert.equal(await wv.locator('.plan vscode-table-row').count(), 2);
      const sigmas = await wv.locator('.plan .sigma').allTextContents();
      assert.ok(sigmas.every((s) => Number(s) > 0), `σ: ${sigmas.join(', ')}`);
      const after = await number(wv, '[data-testid=remaining-after]');
      assert.ok(after > 2.9 && after < 3.1, `remaining after the planned run: ${after}`);
      // A preview spends nothing.
      assert.equal(await number(wv, '[data-testid=budget-remaining]'), 4);
    }));

  it('generates 2 demonstrations and charges the budget (4 → about 3), shown in the panel and the status bar', () =>
    withDiagnostics('generate', async () => {
      const wv = visibleWebview();
      await wv.locator('#generate').click();
      await wv.locator('.result').waitFor({ timeout: 90_000 });
      assert.equal(await wv.locator('.result .demo').count(), 2);
      assert.deepEqual((await wv.locator('.result .demo-label').allTextContents()).sort(), [...LABELS].sort());
      const remaining = await number(wv, '[data-testid=remaining-now]');
      assert.ok(remaining < 4 && remaining > 2.9, `remaining after the run: ${remaining}`);
      const used = await number(wv, '[data-testid=budget-used]');
      assert.ok(Math.abs(4 - used - remaining) < 1e-3, `used ${used} + remaining ${remaining} ≠ 4`);
      assert.equal(await number(wv, '[data-testid=budget-remaining]'), remaining);
      await page.locator('.statusbar-item', { hasText: `ε ${remaining.toFixed(2)} left` }).waitFor({ timeout: 10_000 });
      // The ledger on disk was charged (the panel did not just display a number).
      const ledgerDir = join(server!.workspace, '.private-fewshot');
      assert.ok(readdirSync(ledgerDir).length > 0);
      await screenshot(page, 'generate-banking77');
    }));

  it('inserts the demonstrations at the cursor of the untitled editor', () =>
    withDiagnostics('insert', async () => {
      const wv = visibleWebview();
      const texts = await wv.locator('.result .demo-text').allTextContents();
      await wv.locator('#insert').click();
      await page.waitForFunction(() => /Untitled/.test(document.querySelector('.tabs-container .tab.active')?.getAttribute('aria-label') ?? ''), undefined, { timeout: 15_000 });
      const lines = page.locator('.monaco-editor .view-lines').first();
      await lines.filter({ hasText: `Label: ${LABELS[0]}` }).or(lines.filter({ hasText: `Label: ${LABELS[1]}` })).first().waitFor({ timeout: 10_000 });
      const shown = ((await lines.textContent()) ?? '').replace(/\u00a0/g, ' ');
      assert.match(shown, new RegExp(MARKER));
      for (const l of LABELS) assert.ok(shown.includes(`Label: ${l}`), `"Label: ${l}" not in the editor: ${shown}`);
      const first = texts[0]!.trim().slice(0, 20);
      if (first) assert.ok(shown.includes(first), `the first demonstration's text is not in the editor: ${shown}`);
      await screenshot(page, 'generate-inserted');
    }));

  it('back on the panel (reloaded while hidden): the form and the last result are restored', () =>
    withDiagnostics('restore', async () => {
      // The status-bar budget opens (here: reveals) the Generate panel of its dataset.
      await page.locator('.statusbar-item', { hasText: /ε \d\.\d\d left/ }).click();
      await page.waitForFunction((name) => document.querySelector('.tabs-container .tab.active')?.getAttribute('aria-label')?.includes(name), `Generate: ${SAMPLE}`, { timeout: 15_000 });
      assert.equal(await page.locator('.tabs-container .tab', { hasText: `Generate: ${SAMPLE}` }).count(), 1);
      const wv = visibleWebview();
      await wv.locator('.result .demo').first().waitFor({ timeout: 15_000 });
      assert.equal(await wv.locator('.result .demo').count(), 2);
      assert.deepEqual((await wv.locator('.labels input:checked').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))).sort(), [...LABELS].sort());
      assert.equal(await wv.locator('#shots').inputValue(), '1');
      assert.equal(await wv.locator('#max-tokens').inputValue(), '4');
      assert.equal(await wv.locator('#prompts').inputValue(), '2');
    }));

  it('Export… writes JSON Lines to the path accepted in VS Code\'s save dialog', () =>
    withDiagnostics('export', async () => {
      const wv = visibleWebview();
      await wv.locator('#export').click();
      const input = page.locator('.quick-input-widget input');
      await page.locator('.quick-input-widget').getByText('Export demonstrations', { exact: true }).waitFor({ timeout: 10_000 });
      // The dialog proposes demonstrations.jsonl next to the dataset; accept it.
      const target = join(server!.workspace, 'demonstrations.jsonl');
      await page.waitForFunction((t) => document.querySelector<HTMLInputElement>('.quick-input-widget input')?.value === t, target, { timeout: 10_000 });
      await input.press('Enter');
      await wv.locator('.notice', { hasText: 'Exported 2 demonstration(s) as jsonl' }).waitFor({ timeout: 15_000 });
      const rows = readFileSync(target, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { label: string; text: string; offline?: boolean });
      assert.deepEqual(rows.map((r) => r.label).sort(), [...LABELS].sort());
      assert.ok(rows.every((r) => r.offline === true && typeof r.text === 'string'));
    }));

  it('Cancel stops a long run: the written part is kept and the started demonstrations are charged', () =>
    withDiagnostics('cancel', async () => {
      const wv = visibleWebview();
      const before = await number(wv, '[data-testid=budget-remaining]');
      await wv.locator('#shots').fill('50');
      await wv.locator('#max-tokens').fill('512');
      await wv.locator('#prompts').fill('10');
      await wv.locator('#epsilon').fill('0.5');
      await wv.locator('#generate').click();
      await wv.locator('.progress').waitFor({ timeout: 30_000 });
      await wv.locator('#cancel').click();
      await wv.locator('.result').waitFor({ timeout: 30_000 });
      assert.match((await wv.locator('.result h2').textContent()) ?? '', /cancelled/);
      const remaining = await number(wv, '[data-testid=remaining-now]');
      assert.ok(remaining < before, `remaining ${remaining} not below ${before}`);
      // Settled for the started demonstrations only: less than the 0.5 reserved for 50 shots of each label.
      const used = await number(wv, '[data-testid=budget-used]');
      assert.ok(used > 0 && used < 0.5, `budget used by the cancelled run: ${used}`);
      assert.ok(Math.abs(before - used - remaining) < 1e-3, `${before} − ${used} ≠ ${remaining}`);
      assert.ok(await wv.locator('.result .demo').count() < 100);
      await screenshot(page, 'generate-cancelled');
    }));

  it('the status bar follows ledger writes made outside the editor (the CLI raises the total by 2)', () =>
    withDiagnostics('cli-write', async () => {
      const bar = page.locator('.statusbar-item', { hasText: /ε \d+\.\d\d left/ });
      const before = Number(/ε (\d+\.\d\d) left/.exec((await bar.textContent()) ?? '')?.[1]);
      assert.ok(Number.isFinite(before), 'the status bar shows a budget');
      const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'budget', join(server!.workspace, SAMPLE), '--workspace', server!.workspace, '--set-total', '6'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      await page.locator('.statusbar-item', { hasText: `ε ${(before + 2).toFixed(2)} left` }).waitFor({ timeout: 15_000 });
    }));

  it('logged no CSP violation', () => {
    assert.deepEqual(logs.filter(isCspViolation).map((m) => m.text), []);
    // The screenshots exist (looked at by hand).
    assert.ok(readFileSync(join(ARTIFACTS, 'generate-banking77.png')).length > 1000);
  });
});
