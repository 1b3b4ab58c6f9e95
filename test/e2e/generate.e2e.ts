/**
 * The Generate DP Demonstrations panel in a real VS Code (code-server 4.139.1 = VS Code 1.139.1, Debian Chromium,
 * offline, built-in model). Run with `bash scripts/e2e.sh`. One server and one page for the whole file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatNumber } from '../../src/shared/format';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import {
  cliIn,
  ARTIFACTS,
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
/** A line typed into the untitled editor before the panel opens; the demonstrations are inserted after it. */
const MARKER = 'DEMOS-START';

const SETTINGS = {
  ...WORKBENCH_SETTINGS,
  'files.hotExit': 'off',
};

describe('Generate DP Demonstrations in a real VS Code (code-server + Chromium)', { timeout: 180_000 }, () => {
  let server: CodeServer | undefined;
  let session: Workspace | undefined;
  let page: Page;
  let logs: LoggedMessage[];

  const withDiagnostics = (name: string, body: () => Promise<void>) =>
    diagnose(`generate-${name}`, { page, server, logs }, body);

  const visibleWebview = (): FrameLocator => webview(page);

  const fromExplorer = (file: string, command: string) => explorerMenu(page, file, command);
  const number = (wv: FrameLocator, selector: string) => numberIn(wv, selector);

  /** The dataset's budget lines in the ledger on disk (the source of truth the panel must agree with). */
  function budgetLines(): { epsilon: number; source: string }[] {
    return readFileSync(join(server!.workspace, '.private-fewshot', 'ledger.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; epsilon: number; source: string })
      .filter((l) => l.type === 'budget');
  }
  const ledgerLength = () =>
    readFileSync(join(server!.workspace, '.private-fewshot', 'ledger.jsonl'), 'utf8')
      .trim()
      .split('\n').length;

  /** The quick input of "Set Privacy Budget…", once it shows the dataset's budget. */
  async function budgetBox(): Promise<{ input: Locator; message: Locator }> {
    const widget = page.locator('.quick-input-widget');
    await widget.getByText(`Privacy budget of ${SAMPLE}`, { exact: true }).waitFor({ timeout: 15_000 });
    return { input: widget.locator('input'), message: widget.locator('.quick-input-message') };
  }

  /** The modal dialog the workbench shows for `showWarningMessage(…, { modal: true })`. */
  const dialog = () => page.locator('.monaco-dialog-box');

  /** The progress rows of the panel (they stay, folded, under the result). */
  const progressRows = (wv: FrameLocator) =>
    wv.locator('.progress-row').evaluateAll((els) =>
      els.map((e) => ({
        label: (e as HTMLElement).dataset.label ?? '',
        shot: Number((e as HTMLElement).dataset.shot),
        state: (e as HTMLElement).dataset.state ?? '',
        tokens: Number(/\d+/.exec(e.querySelector('.progress-tokens')?.textContent ?? '')?.[0]),
        text: e.querySelector('.progress-text')?.textContent ?? '',
      })),
    );

  before(async () => {
    // Copy is checked by reading the page's clipboard (VS Code in a browser writes it with navigator.clipboard).
    session = await openWorkspace((ws) => copyFileSync(join(ROOT, 'examples', SAMPLE), join(ws, SAMPLE)), SETTINGS, {
      file: SAMPLE,
      clipboard: true,
    });
    ({ server, page, logs } = session);
  });

  after(async () => {
    await session?.close();
  });

  it('opens an untitled editor to insert into later', () =>
    withDiagnostics('untitled', async () => {
      await openUntitled(page, MARKER);
    }));

  it('opens the Generate panel from the explorer: labels, budget 4 of 4 and the builtin notice', () =>
    withDiagnostics('open', async () => {
      await fromExplorer(SAMPLE, 'Generate DP Demonstrations…');
      const wv = visibleWebview();
      await wv.getByRole('heading', { name: 'Labels (77)' }).waitFor({ timeout: 30_000 });
      assert.equal(await wv.locator('.labels input[type=checkbox]').count(), 77);
      // The host told the shared webview bundle which view it is (runPanelHost.ts → html.ts).
      assert.equal(await wv.locator('body').getAttribute('data-panel'), 'generate');
      assert.match(
        (await wv.locator('.builtin-notice').textContent()) ?? '',
        /for trying the tool, not production quality/,
      );
      assert.match((await wv.locator('.provider').textContent()) ?? '', /builtin\//);
      assert.equal(await number(wv, '[data-testid=budget-total]'), 4);
      assert.equal(await number(wv, '[data-testid=budget-remaining]'), 4);
      await page.locator('.statusbar-item', { hasText: 'ε 4.00 left' }).waitFor({ timeout: 10_000 });
      await wv.locator('#set-budget').waitFor({ timeout: 5_000 });
      // The tab carries the panel's icon (iconPath), the dark variant in this dark theme, and the image loads.
      const icon = await activeTabIcon(page);
      assert.match(decodeURIComponent(icon), /\/media\/icons\/generate-dark\.svg/);
      const svg = await page.evaluate((u) => fetch(u).then((r) => (r.ok ? r.text() : `HTTP ${r.status}`)), icon);
      assert.match(svg, /^<svg [^>]*fill="#C5C5C5"/);
      // "Select all" stays disabled until the label set is explicitly accepted as public.
      assert.equal(await wv.locator('#select-all').getAttribute('disabled'), '');
      await wv.locator('#all-labels').check();
      assert.equal(await wv.locator('#select-all').getAttribute('disabled'), null);
      assert.equal(await wv.locator('.labels input:checked').count(), 77);
      // Withdrawing the acknowledgement withdraws the selection it allowed.
      await wv.locator('#all-labels').uncheck();
      assert.equal(await wv.locator('.labels input:checked').count(), 0);
    }));

  it('previews a plan that would overspend as refused, and a small one with the noisy count release', () =>
    withDiagnostics('preview', async () => {
      const wv = visibleWebview();
      for (const l of LABELS) await wv.locator(`.labels input[value="${l}"]`).check();
      await wv.locator('#shots').fill('1');
      await wv.locator('#prompts').fill('2');
      await wv.locator('#max-tokens').fill('4');
      await wv.locator('#epsilon').fill('10');
      await wv.locator('#preview').click();
      await wv.locator('.refusal').waitFor({ timeout: 30_000 });
      const refusal = (await wv.locator('.refusal').textContent()) ?? '';
      assert.match(refusal, /over its total ε = 4/);
      // In the editor the refusal points at the Set Privacy Budget… button next to it, not at the CLI.
      assert.match(refusal, /Set Privacy Budget…/);
      assert.doesNotMatch(refusal, /--set-total/);
      await wv.locator('#refusal-set-budget').waitFor({ timeout: 5_000 });

      await wv.locator('#epsilon').fill('1');
      await wv.locator('#preview').click();
      await wv
        .locator('.plan')
        .filter({ hasNot: wv.locator('.refusal') })
        .waitFor({ timeout: 30_000 });
      assert.equal(await wv.locator('.plan vscode-table-row').count(), 2);
      // q and the token σ follow from the noisy pool counts at run time; the plan shows the count release only.
      const counts = (await wv.locator('[data-testid=count-release]').textContent()) ?? '';
      assert.match(counts, /noise σ_c = [\d.]+ \(ε 0\.1: 10% of ε and δ\)/);
      assert.equal(await wv.locator('.plan .sigma').count(), 0);
      const after = await number(wv, '[data-testid=remaining-after]');
      // The planned charges' PLD composition is below the run's ε = 1 (each part meets its own share).
      assert.ok(after > 2.9 && after < 3.3, `remaining after the planned run: ${after}`);
      // A preview spends nothing.
      assert.equal(await number(wv, '[data-testid=budget-remaining]'), 4);
    }));

  it('generates 2 × 2 demonstrations and charges the budget (4 → about 3), shown in the panel and the status bar', () =>
    withDiagnostics('generate', async () => {
      const wv = visibleWebview();
      await wv.locator('#shots').fill('2');
      await wv.locator('#generate').click();
      await wv.locator('.result').waitFor({ timeout: 90_000 });
      assert.equal(await wv.locator('.result .demo').count(), 4);
      assert.deepEqual(
        (await wv.locator('.result .demo-label').allTextContents()).sort(),
        [...LABELS, ...LABELS].sort(),
      );
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

  it("progress kept one row per demonstration, and each row's final state (done, text) reached the view", () =>
    withDiagnostics('progress', async () => {
      const wv = visibleWebview();
      const rows = await progressRows(wv);
      assert.equal(rows.length, 4, JSON.stringify(rows));
      assert.deepEqual(
        rows.map((r) => `${r.label}#${r.shot}`).sort(),
        LABELS.flatMap((l) => [`${l}#0`, `${l}#1`]).sort(),
      );
      assert.ok(
        rows.every((r) => r.state === 'done' && r.tokens > 0),
        JSON.stringify(rows),
      );
      // The last text of every row is the released demonstration (a label's results are in shot order).
      const demos = await wv.locator('.result .demo').evaluateAll((els) =>
        els.map((e) => ({
          label: e.querySelector('.demo-label')?.textContent ?? '',
          text: e.querySelector('.demo-text')?.textContent ?? '',
        })),
      );
      for (const l of LABELS) {
        assert.deepEqual(
          rows
            .filter((r) => r.label === l)
            .sort((a, b) => a.shot - b.shot)
            .map((r) => r.text),
          demos.filter((d) => d.label === l).map((d) => d.text),
          l,
        );
      }
      assert.equal(await number(wv, '[data-testid=progress-done]'), 4);
      assert.ok((await number(wv, '[data-testid=progress-calls]')) > 0);
      assert.ok((await number(wv, '[data-testid=progress-round-trips]')) > 0);
      assert.equal(
        await wv.locator('[data-testid=progress-in-flight]').count(),
        0,
        'a finished run shows nothing in flight',
      );
    }));

  it('inserts the demonstrations at the cursor of the untitled editor', () =>
    withDiagnostics('insert', async () => {
      const wv = visibleWebview();
      const texts = await wv.locator('.result .demo-text').allTextContents();
      await wv.locator('#insert').click();
      await page.waitForFunction(
        () => /Untitled/.test(document.querySelector('.tabs-container .tab.active')?.getAttribute('aria-label') ?? ''),
        undefined,
        { timeout: 15_000 },
      );
      const lines = page.locator('.monaco-editor .view-lines').first();
      await lines
        .filter({ hasText: `Label: ${LABELS[0]}` })
        .or(lines.filter({ hasText: `Label: ${LABELS[1]}` }))
        .first()
        .waitFor({ timeout: 10_000 });
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
      await page.waitForFunction(
        (name) => document.querySelector('.tabs-container .tab.active')?.getAttribute('aria-label')?.includes(name),
        `Generate: ${SAMPLE}`,
        { timeout: 15_000 },
      );
      assert.equal(await page.locator('.tabs-container .tab', { hasText: `Generate: ${SAMPLE}` }).count(), 1);
      const wv = visibleWebview();
      await wv.locator('.result .demo').first().waitFor({ timeout: 15_000 });
      assert.equal(await wv.locator('.result .demo').count(), 4);
      // The run's rows come back with it.
      await until(
        'the progress rows are restored',
        async () => (await wv.locator('.progress-row[data-state=done]').count()) === 4,
        15_000,
      );
      assert.deepEqual(
        (
          await wv.locator('.labels input:checked').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))
        ).sort(),
        [...LABELS].sort(),
      );
      assert.equal(await wv.locator('#shots').inputValue(), '2');
      assert.equal(await wv.locator('#max-tokens').inputValue(), '4');
      assert.equal(await wv.locator('#prompts').inputValue(), '2');
    }));

  it("Export… writes JSON Lines to the path accepted in VS Code's save dialog", () =>
    withDiagnostics('export', async () => {
      const wv = visibleWebview();
      await wv.locator('#export').click();
      const input = page.locator('.quick-input-widget input');
      await page
        .locator('.quick-input-widget')
        .getByText('Export demonstrations', { exact: true })
        .waitFor({ timeout: 10_000 });
      // The dialog proposes demonstrations.jsonl next to the dataset; accept it.
      const target = join(server!.workspace, 'demonstrations.jsonl');
      await page.waitForFunction(
        (t) => document.querySelector<HTMLInputElement>('.quick-input-widget input')?.value === t,
        target,
        { timeout: 10_000 },
      );
      await input.press('Enter');
      await wv.locator('.notice', { hasText: 'Exported 4 demonstration(s) as jsonl' }).waitFor({ timeout: 15_000 });
      const rows = readFileSync(target, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { label: string; text: string; offline?: boolean });
      assert.deepEqual(rows.map((r) => r.label).sort(), [...LABELS, ...LABELS].sort());
      assert.ok(rows.every((r) => r.offline === true && typeof r.text === 'string'));
    }));

  it('Copy puts the demonstrations on the clipboard (read back from the browser)', () =>
    withDiagnostics('copy', async () => {
      const wv = visibleWebview();
      const demos = readFileSync(join(server!.workspace, 'demonstrations.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { label: string; text: string });
      // A sentinel first, so a Copy that wrote nothing cannot pass on an earlier clipboard.
      const sentinel = `sentinel-${Date.now()}`;
      await page.evaluate((t) => navigator.clipboard.writeText(t), sentinel);
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), sentinel);
      await wv.locator('#copy').click();
      await wv.locator('.notice', { hasText: 'Copied 4 demonstration(s).' }).waitFor({ timeout: 15_000 });
      const copied = (await page.evaluate(() => navigator.clipboard.readText())).replace(/\r\n/g, '\n');
      assert.notEqual(copied, sentinel);
      // The text export: every demonstration's label line and text, in the panel's order.
      let at = 0;
      for (const d of demos) {
        const label = copied.indexOf(`Label: ${d.label}`, at);
        assert.ok(label >= 0, `"Label: ${d.label}" missing after offset ${at}: ${copied}`);
        if (d.text.trim())
          assert.ok(copied.includes(d.text.trim()), `text of a ${d.label} demonstration missing: ${copied}`);
        at = label + 1;
      }
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
      // Both labels' demonstrations are in flight at once, each in its own row with its own token count.
      // (Each check polls: the rows and the totals are posted separately, so one snapshot can fall between them.)
      await until('a demonstration of every label is in flight at once', async () => {
        const inFlight = (await progressRows(wv)).filter((r) => r.state === 'running');
        return [...new Set(inFlight.map((r) => r.label))].sort().join() === [...LABELS].sort().join();
      });
      await until('the totals count model calls', async () => (await number(wv, '[data-testid=progress-calls]')) > 0);
      await until(
        'the in-flight total matches the running rows',
        async () =>
          (await number(wv, '[data-testid=progress-in-flight]')) ===
          (await wv.locator('.progress-row[data-state=running]').count()),
      );
      await screenshot(page, 'generate-progress');
      await wv.locator('#cancel').click();
      await wv.locator('.result').waitFor({ timeout: 30_000 });
      assert.match((await wv.locator('.result h2').textContent()) ?? '', /cancelled/);
      // What was in flight at the cancel is marked stopped; nothing is left spinning. (The rows' last update is posted
      // on its own, so it may land just after the result.)
      await until(
        'no row is left running and a row is marked stopped',
        async () =>
          (await wv.locator('.progress-row[data-state=running]').count()) === 0 &&
          (await wv.locator('.progress-row[data-state=stopped]').count()) >= 1,
        10_000,
      );
      const remaining = await number(wv, '[data-testid=remaining-now]');
      assert.ok(remaining < before, `remaining ${remaining} not below ${before}`);
      // Settled for the started demonstrations only (the ledger's charges are checked in the unit tests). Earlier runs
      // of this file touched the same pools, so the budget filter values them with this run by the Rényi filter: the
      // marginal cost is not bounded by this run's own ε, only positive.
      const used = await number(wv, '[data-testid=budget-used]');
      assert.ok(used > 0, `budget used by the cancelled run: ${used}`);
      assert.ok(Math.abs(before - used - remaining) < 1e-3, `${before} − ${used} ≠ ${remaining}`);
      assert.ok((await wv.locator('.result .demo').count()) < 100);
      await screenshot(page, 'generate-cancelled');
    }));

  it('the status bar follows ledger writes made outside the editor (the CLI raises the total by 2)', () =>
    withDiagnostics('cli-write', async () => {
      const bar = page.locator('.statusbar-item', { hasText: /ε \d+\.\d\d left/ });
      const before = Number(/ε (\d+\.\d\d) left/.exec((await bar.textContent()) ?? '')?.[1]);
      assert.ok(Number.isFinite(before), 'the status bar shows a budget');
      cliIn(server!.workspace, 'budget', join(server!.workspace, SAMPLE), ['--set-total', '6']);
      // Both follow the workbench's file watcher, whose events can lag on a busy machine: 30 s.
      await page
        .locator('.statusbar-item', { hasText: `ε ${(before + 2).toFixed(2)} left` })
        .waitFor({ timeout: 30_000 });
      // The open Generate panel follows too.
      await visibleWebview().locator('[data-testid=budget-total]', { hasText: /^6$/ }).waitFor({ timeout: 30_000 });
    }));

  it('Set Privacy Budget… (panel button) shows the budget, refuses garbage and a total below spent; cancelling the raise writes nothing', () =>
    withDiagnostics('budget-refuse', async () => {
      const wv = visibleWebview();
      const spent = await number(wv, '[data-testid=budget-spent]');
      const remaining = await number(wv, '[data-testid=budget-remaining]');
      assert.ok(spent > 1, `spent ${spent}`);
      const lines = ledgerLength();
      await wv.locator('#set-budget').click();
      const { input, message } = await budgetBox();
      const box = (await page.locator('.quick-input-widget').textContent()) ?? '';
      assert.ok(
        box.includes(`Total ε 6 at δ `) &&
          box.includes(`spent ${formatNumber(spent)}; remaining ${formatNumber(remaining)}`),
        box,
      );
      assert.equal(await input.inputValue(), '6');
      await input.fill('abc');
      await message.filter({ hasText: 'must be a positive finite number' }).waitFor({ timeout: 5_000 });
      const below = (spent / 2).toFixed(2);
      await input.fill(below);
      await message
        .filter({ hasText: `already spent ε = ${formatNumber(spent)}, so its total cannot be lower` })
        .waitFor({ timeout: 5_000 });
      await input.press('Enter');
      // Refused: the box stays open with its message, and nothing was written.
      assert.ok(await message.filter({ hasText: 'already spent' }).isVisible());
      assert.equal(await input.inputValue(), below);
      // Raising asks first; Cancel leaves everything as it was.
      await input.fill('9');
      await input.press('Enter');
      await dialog().waitFor({ timeout: 10_000 });
      const text = (await dialog().textContent()) ?? '';
      assert.match(text, /Raise the privacy budget of banking77-sample\.csv from ε = 6 to ε = 9\?/);
      assert.match(text, /The dataset's guarantee becomes ε = 9 for all releases, past and future/);
      await dialog().getByRole('button', { name: 'Cancel' }).click();
      await dialog().waitFor({ state: 'hidden', timeout: 5_000 });
      assert.equal(ledgerLength(), lines);
      assert.equal(budgetLines().at(-1)!.epsilon, 6);
      assert.equal(await number(wv, '[data-testid=budget-total]'), 6);
    }));

  it('raising from a refused plan: after the confirmation the ledger says 12, and the panel, the plan and the status bar follow', () =>
    withDiagnostics('budget-raise', async () => {
      const wv = visibleWebview();
      await wv.locator('#shots').fill('1');
      await wv.locator('#max-tokens').fill('4');
      await wv.locator('#prompts').fill('2');
      await wv.locator('#epsilon').fill('7');
      await wv.locator('#preview').click();
      await wv.locator('.refusal').waitFor({ timeout: 30_000 });
      await wv.locator('#refusal-set-budget').click();
      const { input } = await budgetBox();
      await input.fill('12');
      await input.press('Enter');
      await dialog().waitFor({ timeout: 10_000 });
      await dialog().getByRole('button', { name: 'Raise to ε = 12' }).click();
      await wv.locator('[data-testid=budget-total]', { hasText: /^12$/ }).waitFor({ timeout: 15_000 });
      const last = budgetLines().at(-1)!;
      assert.equal(last.epsilon, 12);
      assert.equal(last.source, 'user');
      // The plan on display was checked again against the new total: it fits now.
      await wv
        .locator('.plan')
        .filter({ hasNot: wv.locator('.refusal') })
        .waitFor({ timeout: 30_000 });
      const spent = await number(wv, '[data-testid=budget-spent]');
      const bar = page.locator('.statusbar-item', { hasText: /ε \d+\.\d\d left/ });
      await until(
        'the status bar shows the raised budget',
        async () => {
          const shown = Number(/ε (\d+\.\d\d) left/.exec((await bar.textContent()) ?? '')?.[1]);
          return Math.abs(shown - (12 - spent)) < 0.006;
        },
        15_000,
      );
    }));

  it('lowering from the explorer menu needs no confirmation; a run over the new total is refused with the Set Privacy Budget… button', () =>
    withDiagnostics('budget-lower', async () => {
      const wv = visibleWebview();
      await fromExplorer(SAMPLE, 'Set Privacy Budget…');
      const { input } = await budgetBox();
      assert.equal(await input.inputValue(), '12');
      await input.fill('5');
      await input.press('Enter');
      await wv.locator('[data-testid=budget-total]', { hasText: /^5$/ }).waitFor({ timeout: 15_000 });
      assert.equal(await dialog().count(), 0);
      assert.equal(budgetLines().at(-1)!.epsilon, 5);
      // The ε 7 plan on display no longer fits; Generate is refused before anything is reserved.
      await wv.locator('.refusal').waitFor({ timeout: 30_000 });
      const lines = ledgerLength();
      await wv.locator('#generate').click();
      await wv.locator('#error-set-budget').waitFor({ timeout: 30_000 });
      const hint = (await wv.locator('.error .hint').textContent()) ?? '';
      assert.match(hint, /Set Privacy Budget…/);
      assert.doesNotMatch(hint, /--set-total/);
      assert.equal(ledgerLength(), lines);
    }));

  it("the palette route asks for the file (the status bar's dataset first); Escape in the box writes nothing", () =>
    withDiagnostics('budget-palette', async () => {
      const lines = ledgerLength();
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.fill('>Private Few-Shot: Set Privacy Budget');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Set Privacy Budget…' }).first().click();
      await page
        .locator('.quick-input-widget')
        .getByText('Set privacy budget', { exact: true })
        .waitFor({ timeout: 10_000 });
      await page.waitForFunction(
        (f) => document.querySelector<HTMLInputElement>('.quick-input-widget input')?.value === f,
        join(server!.workspace, SAMPLE),
        { timeout: 10_000 },
      );
      await page.keyboard.press('Enter');
      const box = await budgetBox();
      assert.equal(await box.input.inputValue(), '5');
      await page.keyboard.press('Escape');
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5_000 });
      assert.equal(ledgerLength(), lines);
    }));

  it("the status-bar budget's tooltip links to Set Privacy Budget… for its dataset", () =>
    withDiagnostics('budget-tooltip', async () => {
      const lines = ledgerLength();
      await page.locator('.statusbar-item', { hasText: /ε \d+\.\d\d left/ }).hover();
      const link = page.locator('.monaco-hover a', { hasText: 'Set Privacy Budget…' });
      await link.waitFor({ timeout: 10_000 });
      assert.match(
        (await page.locator('.monaco-hover', { hasText: 'Set Privacy Budget…' }).last().textContent()) ?? '',
        /Privacy budget of banking77-sample\.csv: total ε 5 /,
      );
      await link.click();
      const box = await budgetBox();
      assert.equal(await box.input.inputValue(), '5');
      await page.keyboard.press('Escape');
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5_000 });
      assert.equal(ledgerLength(), lines);
    }));

  it('logged no CSP violation', () => {
    assert.deepEqual(
      logs.filter(isCspViolation).map((m) => m.text),
      [],
    );
    // The screenshots exist (looked at by hand).
    assert.ok(readFileSync(join(ARTIFACTS, 'generate-banking77.png')).length > 1000);
  });
});
