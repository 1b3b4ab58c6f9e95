// `npm run screenshots`: each panel (Inspect, Generate, Synthesize) in the dark, light and high-contrast themes, as
// docs/images/<panel>-<theme>.png (used by README.md). It builds first (npm script), then starts the e2e harness's
// code-server and Chromium (install them once with `bash scripts/e2e-setup.sh`). Offline: the built-in model runs the
// Generate example on the bundled example data, in a temporary workspace.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, openWorkspace } from '../test/e2e/harness';
import {
  THEMES,
  closeSideBar,
  editorArea,
  openPanels,
  setTheme,
  setupWorkspace,
  showPanel,
  type ThemeName,
} from '../test/e2e/panels';

const OUT = join(ROOT, 'docs', 'images');
mkdirSync(OUT, { recursive: true });
const session = await openWorkspace(setupWorkspace);
try {
  const { page } = session;
  await openPanels(page);
  await closeSideBar(page);
  for (const theme of Object.keys(THEMES) as ThemeName[]) {
    for (const panel of ['inspect', 'generate', 'synth'] as const) {
      const wv = await showPanel(page, panel);
      await setTheme(page, theme);
      await wv.locator('body').evaluate(() => document.fonts.ready.then(() => undefined));
      // Results and plans are below the form: the Generate shot shows its demonstrations, Synthesize its plan.
      if (panel === 'generate') await wv.locator('.result').scrollIntoViewIfNeeded();
      if (panel === 'synth') await wv.locator('.plan').scrollIntoViewIfNeeded();
      if (panel === 'inspect') await wv.locator('h1').scrollIntoViewIfNeeded();
      await page.waitForTimeout(300);
      const file = join(OUT, `${panel}-${theme}.png`);
      await editorArea(page).screenshot({ path: file });
      console.log(`wrote ${file}`);
    }
  }
} finally {
  await session.close();
}
