/**
 * The Generate Synthetic Records (Aug-PE) panel in a real VS Code (code-server 4.139.1 = VS Code 1.139.1, Debian
 * Chromium, offline, built-in model and embedder). Run with `bash scripts/e2e.sh`. One server and one page for the
 * file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { epsilonFor } from '../../src/core/privacy';
import { filterEpsilon } from '../../src/core/privacy/filter';
import {
  cliIn,
  ROOT,
  WORKBENCH_SETTINGS,
  webview,
  withDiagnostics as diagnose,
  isCspViolation,
  screenshot,
  fromExplorer as explorerMenu,
  numberIn,
  activeTabIcon,
  openWorkspace,
  until,
  openUntitled,
  type CodeServer,
  type Workspace,
  type LoggedMessage,
} from './harness';

const SAMPLE = 'banking77-sample.csv';
const LABELS = ['card_arrival', 'top_up_by_card_charge'];
/** A line typed into the untitled editor before the panel opens; the records are inserted after it. */
const MARKER = 'SYNTH-START';
const COMMAND = 'Generate Synthetic Records (Aug-PE)…';

interface RunView {
  algorithm: string;
  status: string;
  epsilonRun?: number;
  charges: { kind: string; sigma: number; steps: number }[];
  planned: { kind: string; sigma: number; steps: number }[];
}
interface Status {
  total: { epsilon: number; delta: number };
  spent: number;
  remaining: number;
  runs: RunView[];
}

describe('Generate Synthetic Records (Aug-PE) in a real VS Code (code-server + Chromium)', { timeout: 420_000 }, () => {
  let server: CodeServer | undefined;
  let session: Workspace | undefined;
  let page: Page;
  let logs: LoggedMessage[];
  /** The plan previewed before the first run: its exact ε and σ (the `data-value`s of the plan view). */
  let previewed: { epsilon: number; sigma: number } | undefined;

  const withDiagnostics = (name: string, body: () => Promise<void>) =>
    diagnose(`synth-${name}`, { page, server, logs }, body);
  const visibleWebview = (): FrameLocator => webview(page);
  const number = (wv: FrameLocator, selector: string) => numberIn(wv, selector);
  /** The exact figure behind a rounded one (the view keeps it in data-value). */
  const exact = async (wv: FrameLocator, testid: string): Promise<number> => {
    const v = Number(await wv.locator(`[data-testid=${testid}]`).first().getAttribute('data-value'));
    if (!Number.isFinite(v)) throw new Error(`${testid} has no numeric data-value`);
    return v;
  };

  /** The ledger as the CLI reads it: the source of truth the panel must agree with. */
  function ledgerStatus(): Status {
    return JSON.parse(cliIn(server!.workspace, 'budget', join(server!.workspace, SAMPLE), ['--json'])) as Status;
  }
  const augpeRuns = () => ledgerStatus().runs.filter((r) => r.algorithm === 'aug-pe');
  const statusBarRemaining = async (): Promise<number> => {
    const text = (await page.locator('.statusbar-item', { hasText: /ε \d+\.\d\d left/ }).textContent()) ?? '';
    return Number(/ε (\d+\.\d\d) left/.exec(text)?.[1]);
  };

  const records = (wv: FrameLocator) =>
    wv.locator('.result .record').evaluateAll((els) =>
      els.map((e) => ({
        label: e.querySelector('.record-label')?.textContent ?? '',
        text: e.querySelector('.record-text')?.textContent ?? '',
      })),
    );
  const rows = (wv: FrameLocator) =>
    wv.locator('.synth-row').evaluateAll((els) =>
      els.map((e) => ({
        label: (e as HTMLElement).dataset.label ?? '',
        stage: (e as HTMLElement).dataset.stage ?? '',
        iteration: Number((e as HTMLElement).dataset.iteration),
      })),
    );

  before(async () => {
    session = await openWorkspace(
      (ws) => copyFileSync(join(ROOT, 'examples', SAMPLE), join(ws, SAMPLE)),
      {
        ...WORKBENCH_SETTINGS,
        'files.hotExit': 'off',
      },
      { file: SAMPLE, clipboard: true },
    );
    ({ server, page, logs } = session);
  });

  after(async () => {
    await session?.close();
  });

  it('opens an untitled editor to insert into later', () =>
    withDiagnostics('untitled', async () => {
      await openUntitled(page, MARKER);
    }));

  it('opens from the explorer: 77 labels, the acknowledgement, the built-in notice, the embedder choice and the budget 4 of 4', () =>
    withDiagnostics('open', async () => {
      await explorerMenu(page, SAMPLE, COMMAND);
      const wv = visibleWebview();
      await wv.getByRole('heading', { name: 'Labels (77)' }).waitFor({ timeout: 30_000 });
      await page.waitForFunction(
        (name) => document.querySelector('.tabs-container .tab.active')?.getAttribute('aria-label')?.includes(name),
        `Synthesize: ${SAMPLE}`,
        { timeout: 10_000 },
      );
      assert.match(decodeURIComponent(await activeTabIcon(page)), /\/media\/icons\/generate-dark\.svg/);
      assert.equal(await wv.locator('.labels input[type=checkbox]').count(), 77);
      // The host told the shared webview bundle which view it is (runPanelHost.ts → html.ts).
      assert.equal(await wv.locator('body').getAttribute('data-panel'), 'synth');
      assert.match(
        (await wv.locator('.builtin-notice').textContent()) ?? '',
        /for trying the tool, not production quality/,
      );
      assert.match((await wv.locator('.provider').textContent()) ?? '', /Generator: builtin\//);
      // The built-in provider embeds on this machine either way; both choices say so, and the built-in one is offered.
      assert.match(
        (await wv.locator('label[for=embedder-same]').textContent()) ?? '',
        /private rows stay on this machine/,
      );
      assert.match(
        (await wv.locator('label[for=embedder-builtin]').textContent()) ?? '',
        /keep private rows on this machine/,
      );
      assert.equal(await wv.locator('#embedder-same').isChecked(), true);
      assert.equal(await number(wv, '[data-testid=budget-total]'), 4);
      assert.equal(await number(wv, '[data-testid=budget-remaining]'), 4);
      await page.locator('.statusbar-item', { hasText: 'ε 4.00 left' }).waitFor({ timeout: 10_000 });
      await wv.locator('#set-budget').waitFor({ timeout: 5_000 });
      // "Select all" stays disabled until the label set is explicitly accepted as public.
      assert.equal(await wv.locator('#select-all').getAttribute('disabled'), '');
      await wv.locator('#all-labels').check();
      assert.equal(await wv.locator('#select-all').getAttribute('disabled'), null);
      assert.equal(await wv.locator('.labels input:checked').count(), 77);
      await wv.locator('#all-labels').uncheck();
      assert.equal(await wv.locator('.labels input:checked').count(), 0);
    }));

  it('previews a plan over the budget as refused (with Set Privacy Budget…), and a small one with σ, T, μ and its ε', () =>
    withDiagnostics('preview', async () => {
      const wv = visibleWebview();
      for (const l of LABELS) await wv.locator(`.labels input[value="${l}"]`).check();
      await wv.locator('#count').fill('4');
      await wv.locator('#iterations').fill('2');
      await wv.locator('#epsilon').fill('10');
      await wv.locator('#embedder-builtin').check();
      await wv.locator('#preview').click();
      await wv.locator('.refusal').waitFor({ timeout: 30_000 });
      const refusal = (await wv.locator('.refusal').textContent()) ?? '';
      assert.match(refusal, /over its total ε = 4/);
      assert.match(refusal, /Set Privacy Budget…/);
      assert.doesNotMatch(refusal, /--set-total/);
      await wv.locator('#refusal-set-budget').waitFor({ timeout: 5_000 });

      await wv.locator('#epsilon').fill('1');
      await wv.locator('#preview').click();
      await wv
        .locator('.plan')
        .filter({ hasNot: wv.locator('.refusal') })
        .waitFor({ timeout: 30_000 });
      assert.deepEqual(await wv.locator('.plan vscode-table-row .count').allTextContents(), ['2', '2']);
      const epsilon = await exact(wv, 'epsilon-run');
      const sigma = await exact(wv, 'sigma');
      assert.equal(await exact(wv, 'iterations'), 2);
      // σ is calibrated for ε 1 over T = 2 histograms: the run's ε is at most 1 and not far below; μ = √T/σ.
      assert.ok(epsilon <= 1 && epsilon > 0.99, `ε of the run: ${epsilon}`);
      assert.ok(sigma > 0);
      assert.ok(Math.abs((await exact(wv, 'mu')) - Math.SQRT2 / sigma) < 1e-9);
      assert.ok(Math.abs((await exact(wv, 'remaining-after')) - (4 - epsilon)) < 1e-9);
      assert.match((await wv.locator('[data-testid=plan-embedder]').textContent()) ?? '', /^builtin\//);
      // A preview spends nothing and writes no run.
      assert.equal(await number(wv, '[data-testid=budget-remaining]'), 4);
      previewed = { epsilon, sigma };
    }));

  it('a run (2 labels, 4 records, T 2) shows the records; the ledger is charged exactly the previewed ε; panel and status bar drop', (t) =>
    withDiagnostics('run', async () => {
      assert.ok(previewed, 'the preview test ran');
      const wv = visibleWebview();
      const clicked = Date.now();
      await wv.locator('#synthesize').click();
      await wv.locator('.result').waitFor({ timeout: 120_000 });
      t.diagnostic(`run → result shown: ${Date.now() - clicked} ms`);
      assert.match((await wv.locator('.result h2').textContent()) ?? '', /Synthetic records \(4\) — completed/);
      const shown = await records(wv);
      assert.deepEqual(
        shown.map((r) => r.label),
        [LABELS[0], LABELS[0], LABELS[1], LABELS[1]],
      );
      assert.ok(
        shown.every((r) => r.text.trim().length > 0),
        JSON.stringify(shown),
      );
      // The ledger on disk: one aug-pe run, reserved at the previewed ε and settled with both histograms of the
      // previewed σ.
      const runs = augpeRuns();
      assert.equal(runs.length, 1);
      assert.equal(runs[0]!.status, 'settled');
      assert.ok(
        Math.abs(runs[0]!.epsilonRun! - previewed!.epsilon) < 1e-12,
        `reserved ${runs[0]!.epsilonRun}, previewed ${previewed!.epsilon}`,
      );
      assert.deepEqual(
        runs[0]!.charges.map((c) => [c.kind, c.sigma, c.steps]),
        [
          ['gaussian', previewed!.sigma, 2],
          ['gaussian', previewed!.sigma, 2],
        ],
      );
      const status = ledgerStatus();
      assert.ok(Math.abs(status.spent - previewed!.epsilon) < 1e-9, `spent ${status.spent}`);
      // The panel agrees with the ledger, and so does the status bar.
      assert.ok(Math.abs((await exact(wv, 'epsilon-charged')) - previewed!.epsilon) < 1e-12);
      assert.ok(Math.abs((await exact(wv, 'budget-used')) - previewed!.epsilon) < 1e-9);
      assert.ok(Math.abs((await exact(wv, 'remaining-now')) - status.remaining) < 1e-9);
      assert.equal(await exact(wv, 'histograms'), 2);
      await page
        .locator('.statusbar-item', { hasText: `ε ${status.remaining.toFixed(2)} left` })
        .waitFor({ timeout: 10_000 });
      assert.ok((await statusBarRemaining()) < 4);
      // Progress: every label done after the last of 2 iterations; the totals counted model calls.
      assert.deepEqual(
        await rows(wv),
        LABELS.map((label) => ({ label, stage: 'done', iteration: 2 })),
      );
      assert.equal(await number(wv, '[data-testid=progress-histograms]'), 2);
      assert.equal(await number(wv, '[data-testid=progress-iteration]'), 2);
      assert.ok((await number(wv, '[data-testid=progress-calls]')) > 0);
      assert.ok((await number(wv, '[data-testid=progress-completions]')) > 0);
      await screenshot(page, 'synth-banking77');
    }));

  it('Insert at cursor puts the records into the untitled editor', () =>
    withDiagnostics('insert', async () => {
      const wv = visibleWebview();
      const shown = await records(wv);
      await wv.locator('#insert').click();
      await page.waitForFunction(
        () => /Untitled/.test(document.querySelector('.tabs-container .tab.active')?.getAttribute('aria-label') ?? ''),
        undefined,
        { timeout: 15_000 },
      );
      const lines = page.locator('.monaco-editor .view-lines').first();
      await lines.filter({ hasText: `Label: ${LABELS[0]}` }).waitFor({ timeout: 10_000 });
      const text = ((await lines.textContent()) ?? '').replace(/\u00a0/g, ' ');
      assert.match(text, new RegExp(MARKER));
      for (const l of LABELS) assert.ok(text.includes(`Label: ${l}`), `"Label: ${l}" not in the editor: ${text}`);
      const first = shown[0]!.text.trim().slice(0, 20);
      assert.ok(text.includes(first), `the first record's text is not in the editor: ${text}`);
    }));

  it("Export… writes JSON Lines (the panel's records, in order) through VS Code's save dialog; Copy puts them on the clipboard", () =>
    withDiagnostics('export-copy', async () => {
      await page.locator('.tabs-container .tab', { hasText: `Synthesize: ${SAMPLE}` }).click();
      const wv = visibleWebview();
      await wv.locator('.result .record').first().waitFor({ timeout: 15_000 });
      const shown = await records(wv);
      await wv.locator('#export').click();
      await page
        .locator('.quick-input-widget')
        .getByText('Export synthetic records', { exact: true })
        .waitFor({ timeout: 10_000 });
      const target = join(server!.workspace, 'synthetic-records.jsonl');
      await page.waitForFunction(
        (t) => document.querySelector<HTMLInputElement>('.quick-input-widget input')?.value === t,
        target,
        { timeout: 10_000 },
      );
      await page.locator('.quick-input-widget input').press('Enter');
      await wv.locator('.notice', { hasText: 'Exported 4 record(s) as jsonl' }).waitFor({ timeout: 15_000 });
      const written = readFileSync(target, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { label: string; text: string; offline?: boolean });
      assert.deepEqual(
        written.map((r) => ({ label: r.label, text: r.text })),
        shown,
      );
      assert.ok(written.every((r) => r.offline === true));

      const sentinel = `sentinel-${Date.now()}`;
      await page.evaluate((t) => navigator.clipboard.writeText(t), sentinel);
      await wv.locator('#copy').click();
      await wv.locator('.notice', { hasText: 'Copied 4 record(s).' }).waitFor({ timeout: 15_000 });
      const copied = (await page.evaluate(() => navigator.clipboard.readText())).replace(/\r\n/g, '\n');
      assert.notEqual(copied, sentinel);
      let at = 0;
      for (const r of shown) {
        const i = copied.indexOf(`Text: ${r.text}\nLabel: ${r.label}`, at);
        assert.ok(i >= at, `record missing or out of order after offset ${at}: ${copied}`);
        at = i + 1;
      }
    }));

  it('Cancel mid-run: status cancelled, rows stopped, and only the histograms that ran are charged', (t) =>
    withDiagnostics('cancel', async () => {
      const wv = visibleWebview();
      const before = ledgerStatus();
      const barBefore = await statusBarRemaining();
      await wv.locator('#count').fill('200');
      await wv.locator('#iterations').fill('20');
      await wv.locator('#epsilon').fill('0.5');
      await wv.locator('#synthesize').click();
      // Cancel once the first noisy histogram has started (it is charged from then on).
      await until(
        'the first histogram has run',
        async () =>
          (await wv.locator('[data-testid=progress-histograms]').count()) > 0 &&
          (await number(wv, '[data-testid=progress-histograms]')) >= 1,
        180_000,
      );
      assert.ok(
        (await wv
          .locator('.synth-row[data-stage=voting], .synth-row[data-stage=varying], .synth-row[data-stage=varied]')
          .count()) === 2,
      );
      await screenshot(page, 'synth-progress');
      // While the run is in flight the plan and the "Reserving the budget…" line are gone.
      assert.equal(await wv.locator('.output').textContent(), '');
      const clicked = Date.now();
      await wv.locator('#cancel').click();
      await wv.locator('.result').waitFor({ timeout: 60_000 });
      // Measured, not asserted (no timed tests): how long Cancel took to reach the result.
      t.diagnostic(`Cancel → result shown: ${Date.now() - clicked} ms`);
      assert.match((await wv.locator('.result h2').textContent()) ?? '', /— cancelled/);
      const h = await exact(wv, 'histograms');
      assert.ok(h >= 1 && h < 20, `histograms that ran: ${h}`);
      // Each label keeps its last selection: 100 records each.
      assert.equal(await wv.locator('.result .record').count(), 200);
      assert.deepEqual(
        (await rows(wv)).map((r) => r.stage),
        ['stopped', 'stopped'],
      );
      assert.equal(await wv.locator('.synth-row vscode-icon[spin]').count(), 0);

      // The ledger settled this run with h histograms of its σ, not the 20 reserved.
      const runs = augpeRuns();
      assert.equal(runs.length, 2);
      const run = runs[1]!;
      assert.equal(run.status, 'settled');
      const sigma = run.planned[0]!.sigma;
      assert.deepEqual(
        run.planned.map((c) => c.steps),
        [20, 20],
      );
      assert.deepEqual(
        run.charges.map((c) => [c.sigma, c.steps]),
        [
          [sigma, h],
          [sigma, h],
        ],
      );
      const delta = before.total.delta;
      assert.ok(
        Math.abs(
          (await exact(wv, 'epsilon-charged')) - epsilonFor([{ kind: 'gaussian', sigma, steps: h }], delta, 'gdp'),
        ) < 1e-9,
      );
      // Spent after = both runs on the same label pools under the budget filter (two runs on a pool: the Rényi
      // filter of both): the first run's 2 histograms and this run's h — well below what the full 20 would have cost.
      const first = { kind: 'gaussian' as const, sigma: previewed!.sigma, steps: 2 };
      const expected = filterEpsilon([first, { kind: 'gaussian', sigma, steps: h }], delta);
      const full = filterEpsilon([first, { kind: 'gaussian', sigma, steps: 20 }], delta);
      const after = ledgerStatus();
      assert.ok(Math.abs(after.spent - expected) < 1e-9, `spent ${after.spent}, expected ${expected}`);
      assert.ok(after.spent < full - 1e-6);
      assert.ok(Math.abs((await exact(wv, 'budget-used')) - (after.spent - before.spent)) < 1e-9);
      assert.ok(Math.abs((await exact(wv, 'remaining-now')) - after.remaining) < 1e-9);
      await page
        .locator('.statusbar-item', { hasText: `ε ${after.remaining.toFixed(2)} left` })
        .waitFor({ timeout: 10_000 });
      assert.ok((await statusBarRemaining()) < barBefore);
      await screenshot(page, 'synth-cancelled');
    }));

  it('Resume continues the cancelled run from its last histogram, reserved for the histograms left, in its group', () =>
    withDiagnostics('resume', async () => {
      const wv = visibleWebview();
      const h = await exact(wv, 'histograms');
      const resume = wv.locator('#resume');
      await resume.waitFor({ state: 'visible', timeout: 10_000 });
      const planned = ledgerStatus();
      await resume.click();
      // The continuation starts at h: cancel it once it has run one histogram more.
      await until(
        'the continuation has run a histogram',
        async () =>
          (await wv.locator('[data-testid=progress-histograms]').count()) > 0 &&
          (await number(wv, '[data-testid=progress-histograms]')) >= h + 1,
        180_000,
      );
      await wv.locator('#cancel').click();
      await until(
        'the continuation settled',
        async () => augpeRuns().length === 3 && augpeRuns()[2]!.status === 'settled',
        60_000,
      );
      await wv.locator('.result').waitFor({ timeout: 60_000 });
      const total = await exact(wv, 'histograms');
      assert.ok(total > h && total < 20, `histograms ${h} → ${total}`);
      const runs = augpeRuns();
      const cont = runs[2]!;
      // Admitted for the 20 − h histograms left, settled with the ones it ran.
      assert.deepEqual(
        cont.planned.map((c) => c.steps),
        [20 - h, 20 - h],
      );
      assert.deepEqual(
        cont.charges.map((c) => c.steps),
        [total - h, total - h],
      );
      // One group with the cancelled part: the pool holds the first run and one run of `total` histograms.
      const sigma = cont.planned[0]!.sigma;
      const delta = planned.total.delta;
      const first = { kind: 'gaussian' as const, sigma: previewed!.sigma, steps: 2 };
      const expected = filterEpsilon([first, { kind: 'gaussian', sigma, steps: total }], delta);
      const after = ledgerStatus();
      assert.ok(Math.abs(after.spent - expected) < 1e-9, `spent ${after.spent}, expected ${expected}`);
    }));

  it('logged no CSP violation', () => {
    assert.deepEqual(
      logs.filter(isCspViolation).map((m) => m.text),
      [],
    );
  });
});
