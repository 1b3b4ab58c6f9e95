// Contrast of the colours the extension fixes itself (WCAG 2.2 AA). The panels' stylesheet uses only the theme's
// --vscode-* variables (checked here), so its contrast is the theme's; the theme e2e test measures it in light,
// dark and high-contrast themes. What is fixed: the tab icons' fills (graphics, 3:1, SC 1.4.11).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { contrastRatio } from '../support/contrast';
import { repoRoot } from '../support/cli';

test('the contrast ratio matches WCAG reference values', () => {
  assert.equal(contrastRatio('#000000', '#ffffff'), 21);
  assert.equal(contrastRatio('#777', '#fff').toFixed(2), '4.48');
  // The warning colour the panels used for text on the light theme: 3.1:1, below AA (4.5:1) — the reason warnings
  // are now written in the foreground colour with the warning colour on the icon and border only.
  assert.equal(contrastRatio('#BF8803', '#ffffff').toFixed(1), '3.1');
  assert.ok(contrastRatio('#BF8803', '#ffffff') >= 3, 'still enough for an icon or a border (3:1)');
  assert.equal(contrastRatio('rgba(0, 0, 0, 0.5)', '#ffffff').toFixed(2), '3.98');
});

test('the panels’ stylesheet fixes no colour: every colour comes from the theme', () => {
  const css = readFileSync(join(repoRoot, 'webview', 'styles.css'), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  assert.doesNotMatch(css, /#[0-9a-f]{3,8}\b/i);
  assert.doesNotMatch(css, /\b(rgb|rgba|hsl|hsla)\(/i);
  for (const m of css.matchAll(
    /(?<![\w-])(?:color|background(?:-color)?|border(?:-(?:left|right|top|bottom))?(?:-color)?|outline)\s*:\s*([^;]+);/g,
  )) {
    const v = m[1]!.trim();
    assert.ok(
      /var\(--vscode-|^(transparent|inherit|none|0)$|^\d+px (solid|dashed) var\(--vscode-/.test(v),
      `fixed colour: ${m[0]}`,
    );
  }
});

test('the tab icons stand out from the default tab backgrounds (3:1 for graphics)', () => {
  // Default Dark Modern and Light Modern tab backgrounds (active and inactive), and the high-contrast themes'.
  const backgrounds = { dark: ['#1f1f1f', '#181818', '#000000'], light: ['#ffffff', '#f8f8f8', '#ffffff'] };
  for (const icon of ['generate', 'inspect']) {
    for (const variant of ['dark', 'light'] as const) {
      const svg = readFileSync(join(repoRoot, 'media', 'icons', `${icon}-${variant}.svg`), 'utf8');
      const fills = [...svg.matchAll(/fill="(#[0-9a-f]{3,6})"/gi)].map((m) => m[1]!);
      assert.ok(fills.length > 0, `${icon}-${variant}.svg has no fill`);
      for (const fill of fills)
        for (const bg of backgrounds[variant]) {
          const r = contrastRatio(fill, bg);
          assert.ok(r >= 3, `${icon}-${variant} ${fill} on ${bg}: ${r.toFixed(2)}:1`);
        }
    }
  }
});
