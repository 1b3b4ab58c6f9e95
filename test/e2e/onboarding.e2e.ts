/**
 * A first-time user's view in a real VS Code (code-server + Chromium, offline): a workspace that already has a
 * privacy ledger shows its budget in the status bar without any command; "Private Few-Shot: Get Started" opens the
 * walkthrough; the explorer groups the four dataset commands in one "Private Few-Shot" submenu.
 * Run with `bash scripts/e2e.sh`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import {
  cliIn,
  ROOT,
  WORKBENCH_SETTINGS,
  screenshot,
  withDiagnostics as diagnose,
  openWorkspace,
  type CodeServer,
  type Workspace,
  type LoggedMessage,
} from './harness';

const SAMPLE = 'banking77-sample.csv';

describe('Onboarding in a real VS Code (code-server + Chromium)', { timeout: 150_000 }, () => {
  let server: CodeServer | undefined;
  let session: Workspace | undefined;
  let page: Page;
  let logs: LoggedMessage[];
  const withDiagnostics = (name: string, body: () => Promise<void>) => diagnose(name, { page, server, logs }, body);

  before(async () => {
    session = await openWorkspace(
      (ws) => {
        copyFileSync(join(ROOT, 'examples', SAMPLE), join(ws, SAMPLE));
        // A ledger written by the CLI before the editor opens: a budget line for the sample (no run, nothing spent).
        cliIn(ws, 'budget', join(ws, SAMPLE), ['--set-total', '3']);
      },
      WORKBENCH_SETTINGS,
      { file: SAMPLE },
    );
    ({ server, page, logs } = session);
  });

  after(async () => {
    await session?.close();
  });

  it('shows the budget of the workspace ledger in the status bar without any command', () =>
    withDiagnostics('onboarding-status', async () => {
      const item = page.locator('.statusbar-item', { hasText: /ε [\d.]+ left/ });
      await item.waitFor({ timeout: 30_000 });
      assert.match((await item.textContent()) ?? '', /ε 3\.00 left/);
    }));

  it('opens the walkthrough from the command palette', () =>
    withDiagnostics('onboarding-walkthrough', async () => {
      await page.keyboard.press('F1');
      await page.locator('.quick-input-widget input').fill('>Private Few-Shot: Get Started');
      await page
        .locator('.quick-input-list .monaco-list-row[aria-label^="Private Few-Shot: Get Started"]')
        .first()
        .click();
      await page.getByText('Get started with Private Few-Shot').first().waitFor({ timeout: 20_000 });
      for (const step of ['Pick a labelled dataset', 'Set the privacy budget', 'Generate DP demonstrations'])
        await page.getByText(step, { exact: true }).first().waitFor({ timeout: 10_000 });
      await screenshot(page, 'walkthrough');
    }));

  it('groups the dataset commands in one explorer submenu', () =>
    withDiagnostics('onboarding-submenu', async () => {
      const row = page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${SAMPLE}"]`);
      await row.click({ button: 'right' });
      const submenu = page.getByRole('menuitem', { name: 'Private Few-Shot' });
      await submenu.waitFor({ timeout: 10_000 });
      // The four commands are not at the top level any more.
      assert.equal(await page.getByRole('menuitem', { name: 'Generate DP Demonstrations…' }).count(), 0);
      await submenu.hover();
      for (const name of [
        'Inspect Dataset…',
        'Set Privacy Budget…',
        'Generate DP Demonstrations…',
        'Generate Synthetic Records (Aug-PE)…',
      ])
        await page.getByRole('menuitem', { name }).waitFor({ timeout: 5_000 });
      await page.keyboard.press('Escape');
      await page.keyboard.press('Escape');
    }));
});
