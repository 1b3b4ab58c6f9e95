import { existsSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { writeFileAtomic } from '../../core/io/atomic';
import { fsUserError, isFsError } from '../../core/io/fs-errors';
import { checkOutputPath } from '../../core/io/output-path';
import { LEDGER_DIR, locateLedger } from '../../core/ledger';
import { canonicalRecords, summarize, type Dataset, type DatasetSummary } from '../../core/data';
import { DataError, UserError } from '../../core/errors';
import { FEWSHOT_DEFAULTS } from '../../core/fewshot/plan';
import { chooseLabels, prepareFewShot, type PreparedFewShot } from '../../core/fewshot/prepare';
import { runFewShot } from '../../core/fewshot/run';
import {
  BudgetExceededError,
  Ledger,
  defaultAccountant,
  defaultDeltaWarning,
  overlapNotes,
  type BudgetStatus,
} from '../../core/ledger';
import {
  editorExportFormat,
  editorExportText,
  editorReleaseText,
  localJournalPath,
  type FewShotRelease,
} from '../../core/release';
import {
  parseWebviewMessage,
  type BudgetMessage,
  type GenerateSettings,
  type HostMessage,
  type ProgressRow,
  type ProgressTotals,
} from '../../shared/protocol';
import type { Config } from '../config';
import { providerFromSettings } from '../providers/settings';
import { editorHint } from '../budget';
import { renderWebviewHtml } from './html';
import { fewShotResultMessage } from './release';
import { panelIcon } from './icons';
import { RunProgress, Throttle } from './progress';

/** What the status bar shows: the budget of the last dataset inspected or generated for. */
export interface BudgetUpdate {
  file: vscode.Uri;
  name: string;
  budget: BudgetMessage;
}

export interface GenerateDeps {
  extensionUri: vscode.Uri;
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  config: Config;
  onBudget: (update: BudgetUpdate) => void;
}

/**
 * Where the ledger lives for a file: the same rule as the CLI (core/ledger/locate.ts): the nearest existing
 * .private-fewshot/ above the file, else its workspace folder or repository root, else the file's folder.
 */
export function ledgerRootFor(file: vscode.Uri): string {
  return locateLedger(file.fsPath, { workspaceFolder: vscode.workspace.getWorkspaceFolder(file)?.uri.fsPath }).root;
}

/**
 * Writes an export: never over the dataset or into .private-fewshot/, and atomically (temp file + rename) on disk,
 * so a failure never leaves a truncated file. Throws a UserError naming the path and what to do.
 */
export async function writeExport(target: vscode.Uri, body: string, dataset: vscode.Uri): Promise<void> {
  if (target.scheme !== 'file') return vscode.workspace.fs.writeFile(target, new TextEncoder().encode(body));
  const ledgerDir = path.join(ledgerRootFor(dataset), LEDGER_DIR);
  const file = checkOutputPath(target.fsPath, path.dirname(target.fsPath), { inputs: [dataset.fsPath], ledgerDir });
  try {
    writeFileAtomic(file, body);
  } catch (e) {
    throw isFsError(e) ? fsUserError(e, { context: 'could not export', path: file }) : e;
  }
}

export function budgetOf(status: BudgetStatus): BudgetMessage {
  return {
    total: status.total.epsilon,
    delta: status.total.delta,
    spent: status.spent,
    remaining: status.remaining,
    asPlanned: status.pldIfPlanned,
  };
}

/** The last text editor the user had focus in (a focused webview panel has no active text editor). */
let lastTextEditor: vscode.TextEditor | undefined;
export function trackTextEditors(): vscode.Disposable {
  lastTextEditor = vscode.window.activeTextEditor;
  return vscode.window.onDidChangeActiveTextEditor((e) => {
    if (e) lastTextEditor = e;
  });
}

/** Inserts `text` at the cursor of the last active text editor, else into a new untitled document (both panels). */
export async function insertAtCursor(text: string): Promise<void> {
  const editor = lastTextEditor && !lastTextEditor.document.isClosed ? lastTextEditor : undefined;
  if (!editor) {
    const doc = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
    await vscode.window.showTextDocument(doc);
    return;
  }
  const edit = new vscode.WorkspaceEdit();
  edit.insert(editor.document.uri, editor.selection.active, text);
  if (!(await vscode.workspace.applyEdit(edit)))
    throw new UserError(
      `could not insert into ${editor.document.fileName}`,
      'Is the editor read-only? Use Copy instead.',
    );
  await vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn });
}

interface Loaded {
  ds: Dataset;
  summary: DatasetSummary;
  ledger: Ledger;
}

/**
 * The Generate panel for DP few-shot demonstrations (Tang et al. 2024). One per dataset file. The host does all the
 * work (load, plan, ledger, model calls); the webview gets the label names for the form (local display), the plan's
 * figures and the released demonstrations (DP output). Never rows, prompts or keys.
 */
export class GeneratePanel {
  static readonly viewType = 'privateFewShot.generate';
  private static readonly panels = new Map<string, GeneratePanel>();

  /** Messages replayed after every `ready` (the webview reloads when hidden): init, then the latest plan/result. */
  private init: HostMessage | undefined;
  private latest: HostMessage | undefined;
  private loaded: Loaded | undefined;
  private running: AbortController | undefined;
  /** The last run's release: the only thing Copy, Insert and Export… render (src/core/release.ts). */
  private result: FewShotRelease | undefined;
  /** The rows of the current or last run (replayed to a reloaded webview). */
  private progress: RunProgress | undefined;
  /** The settings of the plan on display, re-previewed when the budget changes under it. */
  private previewed: GenerateSettings | undefined;
  /** The dataset's budget as last read (sent after every replay, so a stale plan or result cannot overwrite it). */
  private budget: BudgetMessage | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly name: string;

  static show(deps: GenerateDeps, file: vscode.Uri): GeneratePanel {
    const key = file.toString();
    const existing = GeneratePanel.panels.get(key);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      GeneratePanel.viewType,
      `Generate: ${file.path.split('/').pop()}`,
      vscode.ViewColumn.Active,
      {
        enableScripts: true,
        localResourceRoots: [
          vscode.Uri.joinPath(deps.extensionUri, 'dist'),
          vscode.Uri.joinPath(deps.extensionUri, 'media'),
        ],
      },
    );
    panel.iconPath = panelIcon(deps.extensionUri, 'generate');
    const p = new GeneratePanel(panel, deps, file);
    GeneratePanel.panels.set(key, p);
    void p.load();
    return p;
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly deps: GenerateDeps,
    readonly file: vscode.Uri,
  ) {
    this.name = vscode.workspace.asRelativePath(file, false);
    const webview = panel.webview;
    const asset = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(deps.extensionUri, ...p)).toString();
    webview.html = renderWebviewHtml({
      cspSource: webview.cspSource,
      scriptUri: asset('dist', 'webview.js'),
      styleUri: asset('dist', 'webview.css'),
      codiconUri: asset('dist', 'codicon.css'),
      title: 'Private Few-Shot: generate demonstrations',
    });
    webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw), undefined, this.disposables);
    panel.onDidDispose(() => this.dispose(), undefined, this.disposables);
  }

  /** The budget of `file` changed (set from the editor, or written by the CLI): update its panel, if one is open. */
  static budgetChanged(file: vscode.Uri, budget: BudgetMessage): void {
    GeneratePanel.panels.get(file.toString())?.onBudgetChanged(budget);
  }

  private onBudgetChanged(budget: BudgetMessage): void {
    // The ledger watcher re-reads after our own writes too: only a real change is news.
    if (this.budget && JSON.stringify(this.budget) === JSON.stringify(budget)) return;
    this.budget = budget;
    this.post({ type: 'budget', budget });
    // A plan on display was checked against the old budget: check it again (a preview spends nothing), unless
    // something else (a run, an error) has replaced it by the time the check is done.
    const shown = this.latest;
    if (shown?.type === 'plan' && this.previewed && !this.running) {
      void this.preview(this.previewed, () => this.latest === shown).catch((e: unknown) => {
        if (this.latest === shown) this.fail(e);
      });
    }
  }

  private post(message: HostMessage, keep: 'init' | 'latest' | false = false): void {
    if (keep === 'init') this.init = message;
    if (keep === 'latest') this.latest = message;
    void this.panel.webview.postMessage(message);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const msg = parseWebviewMessage(raw);
    if (!msg) {
      this.deps.log.warn('Ignored a malformed message from the Generate webview.');
      return;
    }
    try {
      switch (msg.type) {
        case 'ready':
          if (this.init) void this.panel.webview.postMessage(this.init);
          if (this.latest) void this.panel.webview.postMessage(this.latest);
          if (this.progress) this.postProgress(this.progress.snapshot());
          if (this.budget && this.init?.type === 'generateInit')
            void this.panel.webview.postMessage({ type: 'budget', budget: this.budget } satisfies HostMessage);
          break;
        case 'setBudget':
          await vscode.commands.executeCommand('privateFewShot.setBudget', this.file);
          break;
        case 'refresh':
          await this.load();
          break;
        case 'preview':
          await this.preview(msg.settings);
          break;
        case 'generate':
          await this.generate(msg.settings);
          break;
        case 'cancel':
          this.running?.abort();
          break;
        case 'insert':
          await this.insert();
          break;
        case 'export':
          await this.export();
          break;
        case 'copy':
          if (this.result) {
            await vscode.env.clipboard.writeText(this.text());
            this.post({ type: 'notice', message: `Copied ${this.result.demonstrations.length} demonstration(s).` });
          }
          break;
        case 'openSource':
          await vscode.window.showTextDocument(this.file, {
            selection: msg.line ? new vscode.Range(msg.line - 1, 0, msg.line - 1, 0) : undefined,
          });
          break;
      }
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    if (e instanceof BudgetExceededError) {
      this.post(
        {
          type: 'generateError',
          message: e.message,
          hint: e.hint && editorHint(editorHint(e.hint, this.name), this.loaded?.ds.identity.path ?? this.name),
          action: 'setBudget',
        },
        'latest',
      );
      this.deps.log.warn(`Generate (${this.name}): refused by the budget.`);
    } else if (e instanceof UserError) {
      this.post({ type: 'generateError', message: e.message, hint: e.hint }, 'latest');
      this.deps.log.warn(`Generate (${this.name}): ${e.message}`);
    } else {
      this.post({ type: 'generateError', message: `Unexpected error: ${(e as Error).message}` }, 'latest');
      this.deps.log.error(e as Error);
    }
  }

  /** Loads the dataset, the ledger status and the provider, and sends the form's initial state. */
  async load(): Promise<void> {
    this.post({ type: 'loading', file: this.name }, 'init');
    this.latest = undefined;
    try {
      const root = ledgerRootFor(this.file);
      const ds = await this.deps.config.loadDataset(this.file, root);
      const summary = summarize(ds);
      const ledger = new Ledger(root, { accountant: defaultAccountant() });
      this.loaded = { ds, summary, ledger };
      const status = await ledger.status({
        identity: ds.identity,
        units: summary.units,
        records: canonicalRecords(ds),
      });
      this.budget = budgetOf(status);
      const provider = await providerFromSettings(this.deps.context);
      this.post(
        {
          type: 'generateInit',
          file: this.name,
          labels: summary.labels.map((l) => l.label),
          provider: { kind: provider.kind, model: provider.model, offline: provider.offline },
          budget: budgetOf(status),
          defaults: { shots: 2, epsilon: 1, prompts: FEWSHOT_DEFAULTS.prompts, maxTokens: FEWSHOT_DEFAULTS.maxTokens },
        },
        'init',
      );
      this.deps.onBudget({ file: this.file, name: this.name, budget: budgetOf(status) });
    } catch (e) {
      if (e instanceof UserError) {
        this.post(
          {
            type: 'error',
            file: this.name,
            message: e.message,
            hint: e.hint,
            line: e instanceof DataError ? e.line : undefined,
          },
          'init',
        );
        this.deps.log.warn(`Could not load ${this.name}: ${e.message}`);
      } else {
        this.post({ type: 'error', file: this.name, message: `Unexpected error: ${(e as Error).message}` }, 'init');
        this.deps.log.error(e as Error);
      }
    }
  }

  private async prepare(s: GenerateSettings): Promise<{ prepared: PreparedFewShot; loaded: Loaded }> {
    const loaded = this.loaded;
    if (!loaded) throw new UserError('the dataset is not loaded', 'Reload the panel.');
    const prepared = await prepareFewShot(
      loaded.ds,
      loaded.ledger,
      {
        labels: chooseLabels(
          loaded.summary.labels.map((l) => l.label),
          s.labels,
          s.allLabels,
        ),
        shots: s.shots,
        epsilon: s.epsilon,
        prompts: s.prompts,
        maxTokens: s.maxTokens,
      },
      loaded.summary,
    );
    return { prepared, loaded };
  }

  /** Plans and checks the budget; touches nothing. `wanted` can withdraw the result before it is shown. */
  private async preview(s: GenerateSettings, wanted: () => boolean = () => true): Promise<void> {
    const { prepared } = await this.prepare(s);
    if (!wanted()) return;
    const { plan, check, status } = prepared;
    // Local only (the panel's plan area): the default δ against 1/(n·ln n) for the exact n; never in a release.
    const deltaWarning = defaultDeltaWarning(check.total, prepared.target.units, this.name);
    const refusal = check.fits ? undefined : new BudgetExceededError(check, this.name, plan.ledgerPlan);
    this.previewed = s;
    this.budget = budgetOf(status);
    this.post(
      {
        type: 'plan',
        epsilonRun: plan.epsilonRun,
        delta: plan.settings.delta,
        countRelease: { sigma: plan.counts.sigma, epsilon: plan.counts.epsilon, share: plan.settings.countShare },
        labels: plan.labels.map((l) => ({ label: l.label, steps: l.steps })),
        budget: budgetOf(status),
        remainingAfter: check.total.epsilon - check.spentAfter,
        fits: check.fits,
        over: check.over,
        refusal: refusal ? `${refusal.message}. ${editorHint(refusal.hint ?? '', this.name)}`.trim() : undefined,
        // Plus the local δ warning and records shared with other datasets or ledgers: local diagnostics, labelled so.
        warnings: [...plan.warnings, ...(deltaWarning ? [deltaWarning] : []), ...overlapNotes(status)],
      },
      'latest',
    );
  }

  private async generate(s: GenerateSettings): Promise<void> {
    if (this.running) throw new UserError('a run is already going for this dataset', 'Wait for it, or cancel it.');
    // package.json declares limited support for untrusted workspaces: inspecting and planning only.
    if (!vscode.workspace.isTrusted) {
      throw new UserError(
        'runs need a trusted workspace: a run sends private rows to the model and writes the ledger in .private-fewshot/',
        'Trust this workspace (command "Workspaces: Manage Workspace Trust"), then Generate again. The plan preview works without trust.',
      );
    }
    this.progress = undefined;
    const { prepared, loaded } = await this.prepare(s);
    const { plan, check, target, status: before } = prepared;
    if (!check.fits) throw new BudgetExceededError(check, this.name, plan.ledgerPlan);
    // The built-in model yields to the event loop between calls (createProvider wraps it), so Cancel is handled at
    // once.
    const provider = await providerFromSettings(this.deps.context);
    const controller = new AbortController();
    this.running = controller;
    const started = Date.now();
    const ledgerDir = path.join(loaded.ledger.workspaceRoot, LEDGER_DIR);
    const ledgerExisted = existsSync(ledgerDir);
    this.deps.log.info(
      `Generating ${plan.settings.labels.length} label(s) × ${plan.settings.shots} shot(s) for ${this.name} with ${provider.kind}/${provider.model}.`,
    );
    // One row per demonstration; posts at most every 100 ms, and a trailing post carries the last state (a
    // demonstration that finished inside a quiet interval still reaches the view before the result).
    const board = new RunProgress(plan.settings.labels.length * plan.settings.shots);
    this.progress = board;
    let report: ((message: string) => void) | undefined;
    const throttle = new Throttle(100, () => {
      const running = this.running === controller;
      // The last post goes out even when no row changed: it tells the view that the run is over.
      if (running && !board.pending) return;
      const batch = board.take();
      const t = batch.totals;
      report?.(`${t.done} of ${t.planned} done, ${t.started - t.done} in flight, ${t.calls} calls`);
      this.postProgress(batch, running);
    });
    throttle.flushNow();
    try {
      const result = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `Private Few-Shot: generating demonstrations for ${this.name}`,
          cancellable: true,
        },
        async (progress, token) => {
          token.onCancellationRequested(() => controller.abort());
          report = (message) => progress.report({ message });
          return runFewShot({
            dataset: loaded.ds,
            plan,
            provider,
            ledger: loaded.ledger,
            units: target.units,
            lookahead: provider.offline ? FEWSHOT_DEFAULTS.lookahead : 1,
            // The built-in model computes in this process, so writing a label's shots at once buys no time, and a
            // cancel would charge every started shot (all of them). Network models: all at once (the core default).
            shotConcurrency: provider.offline ? 1 : undefined,
            signal: controller.signal,
            // Warnings from the noisy pool counts (DP outputs), e.g. q = 1 or weak signal.
            onWarnings: (ws) => ws.forEach((w) => this.deps.log.warn(w)),
            onProgress: (p) => {
              // The demonstration so far is DP output (safe to show).
              board.update(p);
              throttle.poke();
            },
          });
        },
      );
      report = undefined;
      this.running = undefined;
      throttle.flushNow();
      const after = await loaded.ledger.status(target);
      this.budget = budgetOf(after);
      const message =
        result.status === 'failed'
          ? `The run stopped early: ${result.error?.message ?? 'unknown error'}. What was written is kept and charged.`
          : result.status === 'cancelled'
            ? 'Cancelled: the demonstrations written so far are kept and charged.'
            : undefined;
      const { release, message: shown } = fewShotResultMessage(
        { plan, result },
        {
          budgetUsed: Math.max(0, after.spent - before.spent),
          budget: budgetOf(after),
          journal: vscode.workspace.asRelativePath(localJournalPath(result.checkpoint), false),
          message,
        },
      );
      // Copy, Insert and Export… render this release and nothing else.
      this.result = release;
      this.post(shown, 'latest');
      this.deps.onBudget({ file: this.file, name: this.name, budget: budgetOf(after) });
      this.deps.log.info(
        `Generate ${this.name}: ${result.status}, ${result.demonstrations.length} demonstration(s), ε planned ${result.reservation.epsilonRun.toFixed(3)}, budget used ${(after.spent - before.spent).toFixed(3)}; local only, not private: ${result.report.usage.calls} calls, ${Date.now() - started} ms.`,
      );
    } finally {
      throttle.cancel();
      this.running = undefined;
      if (!ledgerExisted && existsSync(ledgerDir)) this.deps.log.info(`Created the privacy ledger at ${ledgerDir}.`);
    }
  }

  /** Sends a batch of progress rows; `running` false marks the final state (the view stops showing a run in flight). */
  private postProgress(
    batch: { reset: boolean; rows: ProgressRow[]; totals: ProgressTotals },
    running = this.running !== undefined,
  ): void {
    this.post({ type: 'progress', running, ...batch });
  }

  private text(): string {
    return editorReleaseText(this.result!);
  }

  /** Inserts the text export at the cursor of the last active text editor, else into a new untitled document. */
  private async insert(): Promise<void> {
    if (this.result) await insertAtCursor(this.text());
  }

  private async export(): Promise<void> {
    const r = this.result;
    if (!r) return;
    const target = await vscode.window.showSaveDialog({
      title: 'Export demonstrations',
      saveLabel: 'Export',
      defaultUri: vscode.Uri.joinPath(this.file, '..', 'demonstrations.jsonl'),
      filters: { 'JSON Lines': ['jsonl'], JSON: ['json'], Text: ['txt'] },
    });
    if (!target) return;
    let json: 'release' | 'chat' = 'release';
    if (editorExportFormat(target.path) === 'json') {
      const pick = await vscode.window.showQuickPick(
        [
          {
            label: 'Demonstrations and public run parameters',
            description: 'the release: demonstrations, ε, δ, σ, model, settings (no usage or dataset details)',
            json: 'release' as const,
          },
          {
            label: 'Chat messages',
            description: 'OpenAI messages: user = text, assistant = label',
            json: 'chat' as const,
          },
        ],
        { title: 'Export as which JSON?' },
      );
      if (!pick) return;
      json = pick.json;
    }
    const format = editorExportFormat(target.path, json);
    const body = editorExportText(r, format);
    await writeExport(target, body, this.file);
    this.post({
      type: 'notice',
      message: `Exported ${r.demonstrations.length} demonstration(s) as ${format} to ${vscode.workspace.asRelativePath(target, false)}.`,
    });
  }

  private dispose(): void {
    this.running?.abort();
    GeneratePanel.panels.delete(this.file.toString());
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
