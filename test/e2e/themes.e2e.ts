/**
 * The panels in the light, high-contrast and dark themes (code-server + Chromium, offline): the theme is switched
 * with "Preferences: Color Theme" as a user would, each panel follows it (its colours change), and every text the
 * panels draw themselves meets WCAG AA contrast against what is behind it (4.5:1; 3:1 for large text). Then the
 * Synthesize panel at 360 px: nothing overflows sideways, and the label filter narrows the list and counts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { contrastRatio, over, parseColor } from '../support/contrast';
import {
  screenshot,
  withDiagnostics as diagnose,
  openWorkspace,
  type CodeServer,
  type Workspace,
  type LoggedMessage,
} from './harness';
import {
  NOTES,
  THEMES,
  closeSideBar,
  openPanels,
  setTheme,
  setupWorkspace,
  showPanel,
  type PanelName,
  type ThemeName,
} from './panels';

interface TextSample {
  text: string;
  color: string;
  background: string;
  page: string;
  size: number;
  weight: number;
}

/** Every element with its own visible text, with its colour and the first non-transparent background behind it. */
async function textSamples(wv: FrameLocator): Promise<{ samples: TextSample[]; bodyBackground: string; kind: string }> {
  // No named functions inside evaluate(): tsx would wrap them in a `__name` helper the browser does not have.
  return wv.locator('body').evaluate((body) => {
    const samples: TextSample[] = [];
    const pageBg = getComputedStyle(body).backgroundColor;
    for (const el of body.querySelectorAll<HTMLElement>('*')) {
      // Text drawn by the web components' shadow DOM and icons is themed by @vscode-elements; not ours to measure.
      if (el.closest('vscode-button, vscode-badge, vscode-icon, option, select, [hidden]')) continue;
      const own = [...el.childNodes]
        .filter((n) => n.nodeType === Node.TEXT_NODE)
        .map((n) => n.textContent ?? '')
        .join('')
        .trim();
      if (!own || el.getClientRects().length === 0) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
      let bg = 'rgba(0, 0, 0, 0)';
      for (let p: HTMLElement | null = el; p; p = p.parentElement) {
        const b = getComputedStyle(p).backgroundColor;
        if (!/rgba\(\s*0,\s*0,\s*0,\s*0\s*\)|transparent/.test(b)) {
          bg = b;
          break;
        }
      }
      samples.push({
        text: own.slice(0, 60),
        color: style.color,
        background: bg,
        page: pageBg,
        size: parseFloat(style.fontSize),
        weight: Number(style.fontWeight) || 400,
      });
    }
    return { samples, bodyBackground: pageBg, kind: body.dataset.vscodeThemeKind ?? '' };
  });
}

/** The samples below WCAG AA: 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold). */
function belowAA(samples: readonly TextSample[]): string[] {
  const out: string[] = [];
  for (const s of samples) {
    const page = parseColor(s.page) ?? [0, 0, 0, 1];
    const bgRaw = parseColor(s.background) ?? page;
    const bg = over(bgRaw, page);
    const rgb = (c: readonly number[]) => `rgb(${c.slice(0, 3).map(Math.round).join(', ')})`;
    const ratio = contrastRatio(s.color, rgb(bg));
    const large = s.size >= 24 || (s.size >= 18.66 && s.weight >= 700);
    if (ratio < (large ? 3 : 4.5)) out.push(`"${s.text}" ${s.color} on ${rgb(bg)}: ${ratio.toFixed(2)}:1`);
  }
  return out;
}

describe('The panels in light, high-contrast and dark themes (code-server + Chromium)', { timeout: 400_000 }, () => {
  let server: CodeServer | undefined;
  let session: Workspace | undefined;
  let page: Page;
  let logs: LoggedMessage[];
  const withDiagnostics = (name: string, body: () => Promise<void>) =>
    diagnose(`themes-${name}`, { page, server, logs }, body);
  const backgrounds = new Map<string, string>();

  before(async () => {
    session = await openWorkspace(setupWorkspace);
    ({ server, page, logs } = session);
    await openPanels(page);
  });

  after(async () => {
    await session?.close();
  });

  for (const theme of ['light', 'hc', 'dark'] as ThemeName[]) {
    it(`every panel follows the ${theme} theme and its text meets WCAG AA contrast`, () =>
      withDiagnostics(theme, async () => {
        for (const panel of ['inspect', 'generate', 'synth'] as PanelName[]) {
          const wv = await showPanel(page, panel);
          await setTheme(page, theme);
          // Open the glossary so its text is measured too.
          await wv
            .locator('details.glossary')
            .evaluate((d) => d.setAttribute('open', ''))
            .catch(() => undefined);
          const { samples, bodyBackground, kind } = await textSamples(wv);
          assert.equal(kind, THEMES[theme].kind, `${panel}: the webview is not in the ${theme} theme`);
          assert.ok(samples.length > 20, `${panel}: only ${samples.length} texts measured`);
          backgrounds.set(`${theme} ${panel}`, bodyBackground);
          const low = belowAA(samples);
          assert.deepEqual(low, [], `${panel} in ${theme}: ${low.length} text(s) below AA:\n${low.join('\n')}`);
          // The warnings and the refusal keep their text readable (they are among the samples when shown).
        }
        await screenshot(page, `themes-${theme}`);
      }));
  }

  it('the three themes give each panel different colours', () => {
    for (const panel of ['inspect', 'generate', 'synth']) {
      const bgs = new Set(['light', 'hc', 'dark'].map((t) => backgrounds.get(`${t} ${panel}`)));
      assert.equal(bgs.size, 3, `${panel}: ${[...bgs].join(' / ')}`);
    }
  });

  it('at 360 px the Synthesize panel wraps instead of overflowing, and the label filter narrows and counts', () =>
    withDiagnostics('narrow', async () => {
      await closeSideBar(page);
      await page.setViewportSize({ width: 360, height: 800 });
      const wv = await showPanel(page, 'synth');
      await wv.locator('#synthesize').waitFor({ timeout: 10_000 });
      const facts = await wv.locator('body').evaluate((body) => ({
        width: document.documentElement.clientWidth,
        scroll: document.documentElement.scrollWidth,
        overflowing: [...body.querySelectorAll<HTMLElement>('.actions, .fields, .budget-row')]
          .filter((el) => el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right > innerWidth + 1)
          .map((el) => `${el.className} (${el.scrollWidth}/${el.clientWidth}px: ${el.textContent?.slice(0, 40)})`),
      }));
      assert.ok(facts.width < 400, `the panel is ${facts.width}px wide`);
      assert.deepEqual(facts.overflowing, []);
      assert.ok(facts.scroll <= facts.width + 1, `the page scrolls sideways: ${facts.scroll} > ${facts.width}`);
      await screenshot(page, 'themes-narrow-synth');

      await wv.locator('#label-filter').fill('card');
      const count = (await wv.locator('#label-count').textContent()) ?? '';
      const shown = await wv.locator('.labels .label-option:visible').count();
      assert.ok(shown > 0 && shown < 77, `${shown} labels shown for "card"`);
      assert.match(count, new RegExp(`^3 of 77 selected · ${shown} shown$`));
      await wv.locator('#label-filter').fill('');
      assert.equal((await wv.locator('#label-count').textContent()) ?? '', '3 of 77 selected');
      await page.setViewportSize({ width: 1280, height: 900 });
    }));

  it('a plan warning names the form’s fields, not CLI flags', () =>
    withDiagnostics('form-words', async () => {
      const wv = await showPanel(page, 'synth');
      await wv.locator('#count').fill('200');
      await wv.locator('#iterations').fill('20');
      await wv.locator('#preview').click();
      const warning = wv.locator('.plan .warning', { hasText: 'mostly noise' }).first();
      await warning.waitFor({ timeout: 60_000 });
      const text = (await warning.textContent()) ?? '';
      assert.match(text, /a smaller “Records in total” help/);
      assert.doesNotMatch(text, /--\w/);
      await wv.locator('#preset-balanced').click();
      assert.equal(await wv.locator('#count').inputValue(), '3');
    }));

  it('per-item Insert into a Markdown file: a comment header, a list item, the cursor after it', () =>
    withDiagnostics('insert-markdown', async () => {
      await page.keyboard.press('Control+P');
      await page.locator('.quick-input-widget input').fill(NOTES);
      await page.locator(`.quick-input-list .monaco-list-row[aria-label*="${NOTES}"]`).first().click();
      const editor = page.locator('.editor-instance .monaco-editor').first();
      await editor.waitFor({ timeout: 10_000 });
      await editor.click();
      await page.keyboard.press('Control+End');
      const wv = await showPanel(page, 'generate');
      const second = wv.locator('.result .demo').nth(1);
      const label = ((await second.locator('.demo-label').textContent()) ?? '').trim();
      await second.locator('vscode-button[aria-label="Insert item 2"]').click();
      await page.locator('.tabs-container .tab.active', { hasText: NOTES }).waitFor({ timeout: 15_000 });
      // The cursor is after the inserted text: line 4 (after "Examples:", the header and the item), column 1. What
      // is typed now lands on the line after the list item.
      await page.locator('.statusbar-item', { hasText: 'Ln 4, Col 1' }).waitFor({ timeout: 10_000 });
      await page.keyboard.type('END');
      await page.keyboard.press('Control+S');
      const file = join(server!.workspace, NOTES);
      let saved = '';
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await page.waitForTimeout(200)) {
        saved = readFileSync(file, 'utf8');
        if (saved.includes('END')) break;
      }
      const lines = saved.split('\n');
      assert.equal(lines[0], 'Examples:');
      assert.match(lines[1]!, /^<!-- .*: 1 DP few-shot demonstration\(s\), ε [\d.]+ at δ .* -->$/);
      assert.ok(!lines.some((l) => /^# /.test(l)), 'a Markdown heading was inserted');
      assert.ok(lines[2]!.startsWith(`- **${label}**: `), lines[2]);
      assert.equal(lines[3], 'END');
    }));
});
