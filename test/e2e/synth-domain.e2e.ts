/**
 * The Synthesize panel's domain file and Aug-PE options in a real VS Code (code-server + Chromium, offline, built-in
 * model): "Edit domain file…" creates .private-fewshot/domain.json from a template and opens it; the panel then names
 * it and the plan declares it public; DP class fractions show σ_c in the plan; a broken file is refused with its file,
 * line and field. Run with `bash scripts/e2e.sh` (or build, then `node --import tsx --test` this file).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import {
  ROOT,
  WORKBENCH_SETTINGS,
  webview,
  withDiagnostics as diagnose,
  fromExplorer,
  screenshot,
  openWorkspace,
  type CodeServer,
  type Workspace,
  type LoggedMessage,
} from './harness';

const SAMPLE = 'banking77-sample.csv';
const LABELS = ['card_arrival', 'exchange_rate'];

describe('Synthesize: the domain file and the Aug-PE options in a real VS Code', { timeout: 300_000 }, () => {
  let server: CodeServer | undefined;
  let session: Workspace | undefined;
  let page: Page;
  let logs: LoggedMessage[];
  const withDiagnostics = (name: string, body: () => Promise<void>) =>
    diagnose(`synth-domain-${name}`, { page, server, logs }, body);
  const domainFile = () => join(server!.workspace, '.private-fewshot', 'domain.json');

  before(async () => {
    session = await openWorkspace(
      (ws) => copyFileSync(join(ROOT, 'examples', SAMPLE), join(ws, SAMPLE)),
      {
        ...WORKBENCH_SETTINGS,
        'files.hotExit': 'off',
      },
      { file: SAMPLE },
    );
    ({ server, page, logs } = session);
  });

  after(async () => {
    await session?.close();
  });

  it('Edit domain file… creates the template for the ticked labels, opens it, and the panel names it', () =>
    withDiagnostics('edit', async () => {
      await fromExplorer(page, SAMPLE, 'Generate Synthetic Records (Aug-PE)…');
      const wv = webview(page);
      await wv.getByRole('heading', { name: 'Labels (77)' }).waitFor({ timeout: 30_000 });
      await wv.locator('details.options summary').click();
      assert.match((await wv.locator('[data-testid=domain-file]').textContent()) ?? '', /No domain file/);
      for (const l of LABELS) await wv.locator(`.labels input[value="${l}"]`).check();
      await wv.locator('#edit-domain').click();
      await page.waitForFunction(
        () =>
          /domain\.json/.test(document.querySelector('.tabs-container .tab.active')?.getAttribute('aria-label') ?? ''),
        undefined,
        { timeout: 15_000 },
      );
      assert.ok(existsSync(domainFile()));
      const tpl = JSON.parse(readFileSync(domainFile(), 'utf8'));
      assert.deepEqual(Object.keys(tpl.labels), LABELS, 'the template names the ticked labels only');
      // Back to the panel (the editor took the front): it names the file now.
      await page.locator('.tabs-container .tab', { hasText: `Synthesize: ${SAMPLE}` }).click();
      const wv2 = webview(page);
      // A panel brought back may be rebuilt from its state, with the options section closed again.
      await wv2.locator('details.options').waitFor({ timeout: 15_000 });
      if ((await wv2.locator('details.options').getAttribute('open')) === null)
        await wv2.locator('details.options summary').click();
      await wv2.locator('[data-testid=domain-file]', { hasText: 'declared public' }).waitFor({ timeout: 15_000 });
      // The editor validates the file against the published schema: the template has no problems.
      await page.locator('.explorer-folders-view .monaco-list-row[aria-label="domain.json"]').waitFor();
      await screenshot(page, 'synth-domain-template');
    }));

  it('the plan declares the domain file public and shows σ_c with DP class fractions; a broken file is refused', () =>
    withDiagnostics('plan', async () => {
      writeFileSync(
        domainFile(),
        JSON.stringify({
          domain: 'customer messages to a bank',
          labels: { card_arrival: { keywords: ['a new card'] } },
        }),
      );
      await fromExplorer(page, SAMPLE, 'Generate Synthetic Records (Aug-PE)…');
      const wv = webview(page);
      await wv.locator('#preview').waitFor({ timeout: 30_000 });
      await wv.locator('details.options').waitFor({ timeout: 15_000 });
      if ((await wv.locator('details.options').getAttribute('open')) === null)
        await wv.locator('details.options summary').click();
      for (const l of LABELS) await wv.locator(`.labels input[value="${l}"]`).check();
      await wv.locator('#count').fill('4');
      await wv.locator('#iterations').fill('2');
      await wv.locator('#epsilon').fill('1');
      await wv.locator('#embedder-builtin').check();
      await wv.locator('#lookahead').fill('1');
      await wv.locator('#selection').selectOption('prob');
      await wv.locator('#dp-fractions').check();
      await wv.locator('#preview').click();
      await wv.locator('[data-testid=sigma-class]').waitFor({ timeout: 30_000 });
      const sc = Number(await wv.locator('[data-testid=sigma-class]').getAttribute('data-value'));
      const sigma = Number(await wv.locator('[data-testid=sigma]').getAttribute('data-value'));
      const mu = Number(await wv.locator('[data-testid=mu]').getAttribute('data-value'));
      assert.ok(Math.abs(mu ** 2 - (2 / sigma ** 2 + 1 / sc ** 2)) < 1e-9, 'μ² = T/σ² + 1/σ_c²');
      assert.match(
        (await wv.locator('[data-testid=plan-declaration]').textContent()) ?? '',
        /domain file \.private-fewshot\/domain\.json is declared public: .*sent in prompts/,
      );
      writeFileSync(domainFile(), '{\n  "domain": "x",\n  "labels": { "card_arrival": { "keywords": [7] } }\n}\n');
      await wv.locator('#preview').click();
      await wv.locator('.error, .refusal', { hasText: 'domain.json:3' }).first().waitFor({ timeout: 30_000 });
      const err = (await wv.locator('.error, .refusal', { hasText: 'domain.json:3' }).first().textContent()) ?? '';
      assert.match(err, /field labels\.card_arrival\.keywords\[0\]/);
    }));
});
