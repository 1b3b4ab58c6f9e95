/**
 * The Inspect Dataset panel in a real VS Code (code-server 4.139.1 = VS Code 1.139.1, Debian Chromium, offline).
 * Run with `bash scripts/e2e.sh` (installs, builds, then `node --import tsx --test test/e2e/*.e2e.ts`).
 * One server and one browser page for the whole file: a start costs ~5 s.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import {
  ROOT,
  WORKBENCH_SETTINGS,
  activeTabIcon,
  webview,
  withDiagnostics as diagnose,
  fromExplorer,
  isCspViolation,
  screenshot,
  openWorkspace,
  type CodeServer,
  type Workspace,
  type LoggedMessage,
} from './harness';

const SAMPLE = 'banking77-sample.csv';
const BROKEN = 'broken.csv';
/** Line 3 opens a quoted field that is never closed. */
const BROKEN_CSV =
  'text,category\nWhere is my card?,card_arrival\n"My card has not arrived, card_arrival\nIs there a fee for top ups?,top_up_by_card_charge\n';

const FIXED_CSV =
  'text,category\nWhere is my card?,card_arrival\n"My card has not arrived",card_arrival\nIs there a fee for top ups?,top_up_by_card_charge\n';

const SETTINGS = {
  ...WORKBENCH_SETTINGS,
};

describe('Inspect Dataset in a real VS Code (code-server + Chromium)', { timeout: 150_000 }, () => {
  let server: CodeServer | undefined;
  let session: Workspace | undefined;
  let page: Page;
  let logs: LoggedMessage[];
  /** The violations the CSP control test provokes on purpose; any other one fails the last test. */
  const controlViolations = new Set<LoggedMessage>();

  const withDiagnostics = (name: string, body: () => Promise<void>) => diagnose(name, { page, server, logs }, body);

  const visibleWebview = (): FrameLocator => webview(page);

  /** Right-clicks a file in the explorer and picks Private Few-Shot → "Inspect Dataset…". */
  const inspectFromExplorer = (file: string) => fromExplorer(page, file, 'Inspect Dataset…');

  before(async () => {
    session = await openWorkspace(
      (ws) => {
        copyFileSync(join(ROOT, 'examples', SAMPLE), join(ws, SAMPLE));
        writeFileSync(join(ws, BROKEN), BROKEN_CSV);
      },
      SETTINGS,
      { file: SAMPLE, viewport: { width: 1280, height: 800 } },
    );
    ({ server, page, logs } = session);
  });

  after(async () => {
    await session?.close();
  });

  it('shows 2000 rows and 77 labels for the Banking77 sample, opened from the explorer context menu', () =>
    withDiagnostics('summary', async () => {
      await inspectFromExplorer(SAMPLE);
      const wv = visibleWebview();
      await wv.getByRole('heading', { name: 'Labels (77)' }).waitFor({ timeout: 30_000 });
      await assert.doesNotReject(wv.locator('h1', { hasText: SAMPLE }).waitFor({ timeout: 1_000 }));
      const rows = wv
        .locator('.stat', { has: wv.locator('.stat-label', { hasText: /^rows$/ }) })
        .locator('.stat-value');
      assert.equal(await rows.textContent(), '2000');
      const labels = wv
        .locator('.stat', { has: wv.locator('.stat-label', { hasText: /^labels$/ }) })
        .locator('.stat-value');
      assert.equal(await labels.textContent(), '77');
      assert.equal(await wv.locator('vscode-table-body > vscode-table-row').count(), 77);
      // The editor tab carries the file name.
      assert.match(
        (await page.locator('.tabs-container .tab.active').getAttribute('aria-label')) ?? '',
        /Dataset: banking77-sample\.csv/,
      );
      // …and the panel's icon (iconPath: the dark variant in this dark theme).
      assert.match(decodeURIComponent(await activeTabIcon(page)), /\/media\/icons\/inspect-dark\.svg/);
      // …and the host told the shared webview bundle which view it is (html.ts).
      assert.equal(await wv.locator('body').getAttribute('data-panel'), 'inspect');
    }));

  it('renders themed, with upgraded web components, the codicon font and no CSP violation', () =>
    withDiagnostics('render', async () => {
      const wv = visibleWebview();
      await wv.getByRole('heading', { name: 'Labels (77)' }).waitFor({ timeout: 10_000 });
      // No named functions inside evaluate(): tsx would wrap them in a `__name` helper the browser does not have.
      const facts = await wv.locator('body').evaluate(async (body) => {
        await document.fonts.ready;
        const root = getComputedStyle(document.documentElement);
        // Normalise CSS colours through the engine (CSSOM writes are allowed under the CSP).
        const [editorBackgroundNormalised, foregroundNormalised] = [
          '--vscode-editor-background',
          '--vscode-foreground',
        ].map((v) => {
          const probe = document.createElement('span');
          probe.style.color = root.getPropertyValue(v).trim();
          body.append(probe);
          const out = getComputedStyle(probe).color;
          probe.remove();
          return out;
        });
        const table = document.querySelector('vscode-table');
        return {
          editorBackground: root.getPropertyValue('--vscode-editor-background').trim(),
          bodyBackground: getComputedStyle(body).backgroundColor,
          editorBackgroundNormalised,
          bodyColor: getComputedStyle(body).color,
          foregroundNormalised,
          themeKind: body.dataset.vscodeThemeKind ?? '',
          defined: [
            'vscode-table',
            'vscode-table-row',
            'vscode-button',
            'vscode-badge',
            'vscode-icon',
            'vscode-divider',
          ].filter((t) => customElements.get(t)),
          tableShadow: !!table?.shadowRoot && table.shadowRoot.childNodes.length > 0,
          tableHeight: table?.getBoundingClientRect().height ?? 0,
          codiconLoaded: [...document.fonts].some((f) => /codicon/i.test(f.family) && f.status === 'loaded'),
          bars: [...document.querySelectorAll<HTMLElement>('.bar')].map((b) => b.getBoundingClientRect().width),
          tracks: [...document.querySelectorAll<HTMLElement>('.share-track')].map(
            (b) => b.getBoundingClientRect().width,
          ),
        };
      });
      // Themed: VS Code injected its variables and the stylesheet applied them (dark theme from the settings).
      assert.notEqual(facts.editorBackground, '', 'VS Code theme variables are missing in the webview');
      assert.equal(facts.bodyBackground, facts.editorBackgroundNormalised);
      assert.equal(facts.bodyColor, facts.foregroundNormalised);
      assert.equal(facts.themeKind, 'vscode-dark');
      // @vscode-elements components are defined and rendered their shadow DOM under the strict CSP.
      assert.deepEqual(facts.defined, [
        'vscode-table',
        'vscode-table-row',
        'vscode-button',
        'vscode-badge',
        'vscode-icon',
        'vscode-divider',
      ]);
      assert.ok(facts.tableShadow, 'vscode-table has no shadow DOM');
      assert.ok(facts.tableHeight > 77 * 10, `the table is only ${facts.tableHeight}px high for 77 rows`);
      assert.ok(facts.codiconLoaded, 'the codicon font did not load');
      // The bars' widths are set through the CSSOM (--w) and scaled to the total: each is its label's share of all
      // rows (the largest, 37 of 2000, is 1.85% of its track), not a fraction of the largest label.
      assert.equal(facts.bars.length, 77);
      assert.equal(facts.tracks.length, 77);
      const widest = Math.max(...facts.bars);
      const track = facts.tracks[0]!;
      assert.ok(track > 40, `the share column is ${track}px wide`);
      assert.ok(Math.abs(widest / track - 37 / 2000) < 0.01, `widest bar ${widest}px of ${track}px`);
      assert.ok(Math.min(...facts.bars) < widest, 'all bars have the same width');

      const shot = await screenshot(page, 'inspect-banking77');
      assert.ok(shot.endsWith('.png'));

      // Chromium reports CSP violations without a source URL, so any violation on the page fails the test.
      const violations = logs.filter(isCspViolation);
      assert.deepEqual(
        violations.map((m) => m.text),
        [],
        'CSP violations were logged',
      );
    }));

  it('the CSP check can see a violation in the webview (control for the previous test)', () =>
    withDiagnostics('csp-control', async () => {
      const wv = visibleWebview();
      const csp = (await wv.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content')) ?? '';
      const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
      assert.ok(nonce, `no nonce in the webview CSP: ${csp}`);
      const before = logs.length;
      // An inline style attribute is forbidden by `style-src <cspSource> 'nonce-…'`: Chromium must refuse it and log.
      await wv.locator('body').evaluate((body) => {
        const probe = document.createElement('div');
        probe.innerHTML = '<span style="color: red">csp probe</span>';
        body.append(probe);
      });
      await assert.doesNotReject(async () => {
        const deadline = Date.now() + 5_000;
        // Attributed to our document by its per-render nonce, which Chromium quotes in the message.
        while (!logs.slice(before).some((m) => isCspViolation(m) && m.text.includes(nonce))) {
          if (Date.now() > deadline)
            throw new Error(
              `no CSP violation was logged by the webview; new messages: ${JSON.stringify(logs.slice(before))}`,
            );
          await new Promise((r) => setTimeout(r, 100));
        }
      });
      await new Promise((r) => setTimeout(r, 300));
      for (const m of logs.slice(before)) if (isCspViolation(m)) controlViolations.add(m);
    }));

  it('shows an unterminated quote with its line number, and "Go to line" opens the file at that line', () =>
    withDiagnostics('error', async () => {
      await inspectFromExplorer(BROKEN);
      const wv = visibleWebview();
      const alert = wv.getByRole('alert');
      await alert.getByRole('heading', { name: /Could not load the dataset/ }).waitFor({ timeout: 30_000 });
      const message = (await alert.locator('.message').textContent()) ?? '';
      assert.match(message, /broken\.csv:3\b/, `the message does not name the file and line 3: ${message}`);
      assert.match(message, /unterminated quote/);
      assert.match((await alert.locator('.hint').textContent()) ?? '', /Close the quote/);
      await screenshot(page, 'inspect-error');

      await alert.locator('vscode-button', { hasText: 'Go to line 3' }).click();
      const tab = page.locator('.tabs-container .tab.active');
      await page.waitForFunction(
        () =>
          /broken\.csv/.test(document.querySelector('.tabs-container .tab.active')?.getAttribute('aria-label') ?? '') &&
          !/Dataset:/.test(document.querySelector('.tabs-container .tab.active')?.getAttribute('aria-label') ?? ''),
        undefined,
        { timeout: 15_000 },
      );
      assert.match((await tab.getAttribute('aria-label')) ?? '', /broken\.csv/);
      const cursor = page.locator('[id="status.editor.selection"]');
      await cursor.getByText(/Ln 3, Col 1/).waitFor({ timeout: 10_000 });
    }));

  it('after the file is fixed, "Try again" on the restored panel shows its summary', () =>
    withDiagnostics('retry', async () => {
      writeFileSync(join(server!.workspace, BROKEN), FIXED_CSV);
      // The panel was hidden by the editor: showing it again reloads the webview, which asks the host for its state.
      await page.locator('.tabs-container .tab', { hasText: `Dataset: ${BROKEN}` }).click();
      const wv = visibleWebview();
      const alert = wv.getByRole('alert');
      await alert.getByRole('heading', { name: /Could not load the dataset/ }).waitFor({ timeout: 15_000 });
      await alert.locator('vscode-button', { hasText: 'Try again' }).click();
      await wv.getByRole('heading', { name: 'Labels (2)' }).waitFor({ timeout: 15_000 });
      const rows = wv
        .locator('.stat', { has: wv.locator('.stat-label', { hasText: /^rows$/ }) })
        .locator('.stat-value');
      assert.equal(await rows.textContent(), '3');
      assert.equal(await wv.getByRole('alert').count(), 0);
    }));

  it("the command palette route picks the file in VS Code's own file dialog", () =>
    withDiagnostics('palette', async () => {
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.fill('>Private Few-Shot: Inspect Dataset');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Inspect Dataset…' }).first().click();
      // In a browser VS Code shows its simple file dialog: a quick input holding a path.
      // It opens at the workspace folder (no active text editor) and its accept button carries our openLabel.
      await page
        .locator('.quick-input-widget')
        .getByText('Inspect dataset', { exact: true })
        .waitFor({ timeout: 10_000 });
      await page.waitForFunction(
        (dir) => document.querySelector<HTMLInputElement>('.quick-input-widget input')?.value === dir,
        `${server!.workspace}/`,
        { timeout: 10_000 },
      );
      await input.fill(join(server!.workspace, SAMPLE));
      await page.keyboard.press('Enter');
      await page.waitForFunction(
        (name) => document.querySelector('.tabs-container .tab.active')?.getAttribute('aria-label')?.includes(name),
        `Dataset: ${SAMPLE}`,
        { timeout: 15_000 },
      );
      const wv = visibleWebview();
      await wv.getByRole('heading', { name: 'Labels (77)' }).waitFor({ timeout: 15_000 });
      // The panel for the same file is reused, not duplicated.
      assert.equal(await page.locator('.tabs-container .tab', { hasText: `Dataset: ${SAMPLE}` }).count(), 1);
    }));

  it('no panel shown during the run (summary, error, retried summary) logged a CSP violation', () => {
    const others = logs.filter((m) => isCspViolation(m) && !controlViolations.has(m));
    assert.deepEqual(
      others.map((m) => m.text),
      [],
    );
    assert.ok(controlViolations.size > 0, 'the control violation was not recorded');
  });
});
