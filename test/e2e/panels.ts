/**
 * Drives the three panels for the screenshot script (scripts/screenshots.mts) and the theme e2e test
 * (themes.e2e.ts): opens Inspect, Generate and Synthesize on the example data with a few labels ticked, and switches
 * the colour theme through the command palette.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { ROOT, fromExplorer, webview } from './harness';

export const SAMPLE = 'banking77-sample.csv';
export const LABELS = ['card_arrival', 'exchange_rate', 'top_up_by_card_charge'];

export const THEMES = {
  dark: { setting: 'Default Dark Modern', label: 'Dark Modern', kind: 'vscode-dark' },
  light: { setting: 'Default Light Modern', label: 'Light Modern', kind: 'vscode-light' },
  hc: { setting: 'Default High Contrast', label: 'Dark High Contrast', kind: 'vscode-high-contrast' },
} as const;
export type ThemeName = keyof typeof THEMES;

export type PanelName = 'inspect' | 'generate' | 'synth';
const TAB: Record<PanelName, string> = { inspect: 'Dataset', generate: 'Generate', synth: 'Synthesize' };
const COMMAND: Record<PanelName, string> = {
  inspect: 'Inspect Dataset…',
  generate: 'Generate DP Demonstrations…',
  synth: 'Generate Synthetic Records (Aug-PE)…',
};

/** A Markdown file to insert into (the header must be a comment there, not a heading). */
export const NOTES = 'notes.md';

export function setupWorkspace(ws: string): void {
  copyFileSync(join(ROOT, 'examples', SAMPLE), join(ws, SAMPLE));
  writeFileSync(join(ws, NOTES), 'Examples:\n');
}

/** Picks the colour theme with "Preferences: Color Theme" (as a user would), then waits for the webview to follow. */
export async function setTheme(page: Page, theme: ThemeName): Promise<void> {
  const { label, kind } = THEMES[theme];
  const input = page.locator('.quick-input-widget input');
  await page.keyboard.press('F1');
  await input.fill('>Preferences: Color Theme');
  await page.locator('.quick-input-list .monaco-list-row[aria-label^="Preferences: Color Theme"]').first().click();
  await input.fill(label);
  await page.locator(`.quick-input-list .monaco-list-row[aria-label*="${label}"]`).first().waitFor({ timeout: 10_000 });
  await input.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
  // The webview of the visible panel gets the theme's class on its body.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const cls = await webview(page)
      .locator('body')
      .getAttribute('class', { timeout: 5_000 })
      .catch(() => '');
    if (cls?.split(/\s+/).includes(kind)) return;
    if (Date.now() > deadline) throw new Error(`the theme did not switch to ${theme} (body class "${cls}")`);
    await page.waitForTimeout(250);
  }
}

/** Runs a command from the palette by its title. */
export async function runCommand(page: Page, title: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  await page.keyboard.press('F1');
  await input.fill(`>${title}`);
  await page.locator(`.quick-input-list .monaco-list-row[aria-label^="${title}"]`).first().click();
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
}

/** Closes the primary side bar, so the panel gets the width. */
export async function closeSideBar(page: Page): Promise<void> {
  await runCommand(page, 'View: Close Primary Side Bar');
  await page.locator('.part.sidebar').waitFor({ state: 'hidden', timeout: 10_000 });
}

/** Brings the panel's editor tab to the front and returns its webview. */
export async function showPanel(page: Page, panel: PanelName): Promise<FrameLocator> {
  await page.locator('.tabs-container .tab', { hasText: `${TAB[panel]}: ${SAMPLE}` }).click();
  const wv = webview(page);
  await wv.locator('h1').waitFor({ timeout: 30_000 });
  return wv;
}

/**
 * Opens the three panels from the explorer: Inspect; Generate with three labels ticked, the Quick test preset and a
 * finished run (demonstrations with their Copy and Insert); Synthesize with the same labels and a plan preview.
 */
export async function openPanels(page: Page): Promise<void> {
  await fromExplorer(page, SAMPLE, COMMAND.inspect);
  await webview(page).getByRole('heading', { name: 'Labels (77)' }).waitFor({ timeout: 30_000 });

  await fromExplorer(page, SAMPLE, COMMAND.generate);
  let wv = webview(page);
  await wv.locator('#shots').waitFor({ timeout: 30_000 });
  for (const l of LABELS) await wv.locator(`.labels input[value="${l}"]`).check();
  await wv.locator('#preset-quick').click();
  await wv.locator('#generate').click();
  await wv.locator('.result').waitFor({ timeout: 120_000 });

  await fromExplorer(page, SAMPLE, COMMAND.synth);
  wv = webview(page);
  await wv.locator('#count').waitFor({ timeout: 30_000 });
  await wv.locator('#label-filter').fill('card');
  for (const l of LABELS.filter((x) => x.includes('card'))) await wv.locator(`.labels input[value="${l}"]`).check();
  await wv.locator('#label-filter').fill('');
  await wv.locator(`.labels input[value="exchange_rate"]`).check();
  await wv.locator('#preset-balanced').click();
  await wv.locator('#preview').click();
  await wv.locator('.plan').waitFor({ timeout: 60_000 });
}

/** The area to capture: the editor part (the panel), not the whole workbench. */
export function editorArea(page: Page): Locator {
  return page.locator('.part.editor');
}
