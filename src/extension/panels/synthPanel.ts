import path from 'node:path';
import * as vscode from 'vscode';
import { AUGPE_DEFAULTS, prepareAugPe, type PreparedAugPe } from '../../core/augpe';
import { canonicalRecords, summarize, type Dataset, type DatasetSummary } from '../../core/data';
import { DataError, UserError } from '../../core/errors';
import { chooseLabels } from '../../core/fewshot/prepare';
import {
  BudgetExceededError,
  Ledger,
  defaultAccountant,
  defaultDeltaWarning,
  defaultRecordIndex,
  overlapNotes,
} from '../../core/ledger';
import { BUILTIN_MODEL_ID } from '../../core/providers/builtin';
import {
  editorExportFormat,
  editorExportText,
  editorReleaseText,
  localJournalPath,
  type AugPeRelease,
} from '../../core/release';
import { parseWebviewMessage, type BudgetMessage, type HostMessage, type SynthSettings } from '../../shared/protocol';
import { editorHint } from '../budget';
import { providerConfigFromSettings, providerFromSettings } from '../providers/settings';
import { budgetOf, insertAtCursor, ledgerRootFor, writeExport, type GenerateDeps } from './generatePanel';
import { renderWebviewHtml } from './html';
import { augPeResultMessage } from './release';
import { panelIcon } from './icons';
import { Throttle } from './progress';
import { runInWorker, SynthProgressBoard, WorkerRunError, type WorkerInput } from './synthRun';

/** Providers whose API offers no embeddings (Anthropic; the editor's language models): only the built-in embedder can
 * run. */
const NO_EMBEDDINGS = ['anthropic', 'vscode-lm'];
const BUILTIN_EMBEDDER = { kind: 'builtin', model: BUILTIN_MODEL_ID, offline: true };

interface Loaded {
  ds: Dataset;
  summary: DatasetSummary;
  ledger: Ledger;
  root: string;
}

/**
 * The Synthesize panel: synthetic labelled records by Aug-PE (Xie et al., ICML 2024; docs/AUGPE.md). One per dataset
 * file, built like the Generate panel (form, plan preview, budget, progress, Cancel, Insert / Export… / Copy). The
 * run itself goes to a worker thread (synthRun.ts): the vote histograms and the built-in model are synchronous CPU
 * work that would otherwise freeze the extension host. The webview gets the label names (local display), the plan's
 * figures with the private row counts (local display) and the released records (DP output); never rows or keys.
 */
export class SynthPanel {
  static readonly viewType = 'privateFewShot.synthesize';
  private static readonly panels = new Map<string, SynthPanel>();

  private init: HostMessage | undefined;
  private latest: HostMessage | undefined;
  private loaded: Loaded | undefined;
  private running: AbortController | undefined;
  /** The last run's release: the only thing Copy, Insert and Export… render (src/core/release.ts). */
  private result: AugPeRelease | undefined;
  private board: SynthProgressBoard | undefined;
  private previewed: SynthSettings | undefined;
  private budget: BudgetMessage | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly name: string;
  private disposed = false;

  static show(deps: GenerateDeps, file: vscode.Uri): SynthPanel {
    const key = file.toString();
    const existing = SynthPanel.panels.get(key);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      SynthPanel.viewType,
      `Synthesize: ${file.path.split('/').pop()}`,
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
    const p = new SynthPanel(panel, deps, file);
    SynthPanel.panels.set(key, p);
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
      title: 'Private Few-Shot: synthetic records (Aug-PE)',
    });
    webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw), undefined, this.disposables);
    panel.onDidDispose(() => this.dispose(), undefined, this.disposables);
  }

  /** The budget of `file` changed (set from the editor, or written by the CLI): update its panel, if one is open. */
  static budgetChanged(file: vscode.Uri, budget: BudgetMessage): void {
    SynthPanel.panels.get(file.toString())?.onBudgetChanged(budget);
  }

  private onBudgetChanged(budget: BudgetMessage): void {
    if (this.budget && JSON.stringify(this.budget) === JSON.stringify(budget)) return;
    this.budget = budget;
    this.post({ type: 'budget', budget });
    // A plan on display was checked against the old budget: check it again (a preview spends nothing).
    const shown = this.latest;
    if (shown?.type === 'synthPlan' && this.previewed && !this.running) {
      void this.preview(this.previewed, () => this.latest === shown).catch((e: unknown) => {
        if (this.latest === shown) this.fail(e);
      });
    }
  }

  private post(message: HostMessage, keep: 'init' | 'latest' | false = false): void {
    if (keep === 'init') this.init = message;
    if (keep === 'latest') this.latest = message;
    // A run outlives its panel when the panel is closed mid-run (the close cancels it; the result still settles).
    if (!this.disposed) void this.panel.webview.postMessage(message);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const msg = parseWebviewMessage(raw);
    if (!msg) {
      this.deps.log.warn('Ignored a malformed message from the Synthesize webview.');
      return;
    }
    try {
      switch (msg.type) {
        case 'ready':
          if (this.init) void this.panel.webview.postMessage(this.init);
          if (this.latest) void this.panel.webview.postMessage(this.latest);
          if (this.board) void this.panel.webview.postMessage(this.board.snapshot(this.running !== undefined));
          if (this.budget && this.init?.type === 'synthInit')
            void this.panel.webview.postMessage({ type: 'budget', budget: this.budget } satisfies HostMessage);
          break;
        case 'setBudget':
          await vscode.commands.executeCommand('privateFewShot.setBudget', this.file);
          break;
        case 'refresh':
          await this.load();
          break;
        case 'synthPreview':
          await this.preview(msg.settings);
          break;
        case 'synthRun':
          await this.synthesize(msg.settings);
          break;
        case 'cancel':
          this.running?.abort();
          break;
        case 'insert':
          if (this.result) await insertAtCursor(this.text());
          break;
        case 'export':
          await this.export();
          break;
        case 'copy':
          if (this.result) {
            await vscode.env.clipboard.writeText(this.text());
            this.post({ type: 'notice', message: `Copied ${this.result.records.length} record(s).` });
          }
          break;
        case 'openSource':
          await vscode.window.showTextDocument(this.file, {
            selection: msg.line ? new vscode.Range(msg.line - 1, 0, msg.line - 1, 0) : undefined,
          });
          break;
        default:
          // The Generate panel's own messages (preview, generate) do not apply here.
          break;
      }
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    const datasetPath = this.loaded?.ds.identity.path ?? this.name;
    if (e instanceof BudgetExceededError || (e instanceof WorkerRunError && e.budget)) {
      const hint = (e as UserError).hint;
      this.post(
        {
          type: 'generateError',
          message: (e as UserError).message,
          hint: hint && editorHint(editorHint(hint, this.name), datasetPath),
          action: 'setBudget',
        },
        'latest',
      );
      this.deps.log.warn(`Synthesize (${this.name}): refused by the budget.`);
    } else if (e instanceof UserError) {
      this.post({ type: 'generateError', message: e.message, hint: e.hint }, 'latest');
      this.deps.log.warn(`Synthesize (${this.name}): ${e.message}`);
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
      this.loaded = { ds, summary, ledger, root };
      const status = await ledger.status({
        identity: ds.identity,
        units: summary.units,
        records: canonicalRecords(ds),
      });
      this.budget = budgetOf(status);
      const provider = await providerFromSettings(this.deps.context);
      const providerEmbeds = !NO_EMBEDDINGS.includes(provider.kind);
      this.post(
        {
          type: 'synthInit',
          file: this.name,
          labels: summary.labels.map((l) => l.label),
          provider: { kind: provider.kind, model: provider.model, offline: provider.offline },
          providerEmbeds,
          budget: budgetOf(status),
          // The provider's own embeddings by default (as the CLI's --embedder same); the form says where rows go.
          defaults: {
            count: 10,
            epsilon: 1,
            iterations: AUGPE_DEFAULTS.iterations,
            variations: AUGPE_DEFAULTS.variations,
            embedder: providerEmbeds ? 'same' : 'builtin',
          },
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

  private async prepare(s: SynthSettings): Promise<{ prepared: PreparedAugPe; loaded: Loaded }> {
    const loaded = this.loaded;
    if (!loaded) throw new UserError('the dataset is not loaded', 'Reload the panel.');
    const prepared = await prepareAugPe(
      loaded.ds,
      loaded.ledger,
      {
        labels: chooseLabels(
          loaded.summary.labels.map((l) => l.label),
          s.labels,
          s.allLabels,
        ),
        count: s.count,
        epsilon: s.epsilon,
        iterations: s.iterations,
        variations: s.variations,
      },
      loaded.summary,
    );
    return { prepared, loaded };
  }

  /** The generator and the embedder a run with `s` would use (for the plan and the run). */
  private async models(s: SynthSettings) {
    const provider = await providerFromSettings(this.deps.context);
    const generator = { kind: provider.kind, model: provider.model, offline: provider.offline };
    if (s.embedder === 'same' && NO_EMBEDDINGS.includes(provider.kind)) {
      throw new UserError(
        `${provider.kind}/${provider.model} offers no embeddings, which Aug-PE needs`,
        'Choose "Built-in embedder" in the form (private rows then stay on this machine), or an OpenAI-compatible provider with an embedding model.',
      );
    }
    const embedder = s.embedder === 'builtin' || provider.kind === 'builtin' ? BUILTIN_EMBEDDER : generator;
    return { provider, generator, embedder };
  }

  /** Plans and checks the budget; touches nothing. `wanted` can withdraw the result before it is shown. */
  private async preview(s: SynthSettings, wanted: () => boolean = () => true): Promise<void> {
    const { prepared } = await this.prepare(s);
    const { generator, embedder } = await this.models(s);
    if (!wanted()) return;
    const { plan, check, status } = prepared;
    // Local only (the panel's plan area): the default δ against 1/(n·ln n) for the exact n; never in a release.
    const deltaWarning = defaultDeltaWarning(check.total, prepared.target.units, this.name);
    const refusal = check.fits ? undefined : new BudgetExceededError(check, this.name, plan.ledgerPlan);
    this.previewed = s;
    this.budget = budgetOf(status);
    this.post(
      {
        type: 'synthPlan',
        epsilonRun: plan.epsilonRun,
        delta: plan.settings.delta,
        sigma: plan.sigma,
        mu: plan.mu,
        iterations: plan.settings.iterations,
        variations: plan.settings.variations,
        labels: plan.labels.map((l) => ({
          label: l.label,
          count: l.count,
          population: l.population,
          rows: l.rows,
          units: l.units,
        })),
        wholeDataset: plan.sequential,
        estimate: plan.estimate,
        generator,
        embedder,
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

  private async synthesize(s: SynthSettings): Promise<void> {
    if (this.running) throw new UserError('a run is already going for this dataset', 'Wait for it, or cancel it.');
    // package.json declares limited support for untrusted workspaces: inspecting and planning only.
    if (!vscode.workspace.isTrusted) {
      throw new UserError(
        'runs need a trusted workspace: a run sends text to the model and writes the ledger in .private-fewshot/',
        'Trust this workspace (command "Workspaces: Manage Workspace Trust"), then run again. The plan preview works without trust.',
      );
    }
    this.board = undefined;
    const { prepared, loaded } = await this.prepare(s);
    const { plan, check, target, status: before } = prepared;
    if (!check.fits) throw new BudgetExceededError(check, this.name, plan.ledgerPlan);
    const { provider, generator, embedder } = await this.models(s);
    const config = await providerConfigFromSettings(this.deps.context);
    const input: WorkerInput = {
      dataset: loaded.ds,
      plan,
      units: target.units,
      root: loaded.root,
      generator: config.kind === 'vscode-lm' ? { host: generator } : { config },
      embedder: s.embedder,
      ...(defaultRecordIndex() ? { indexDir: defaultRecordIndex()!.dir } : {}),
    };
    const controller = new AbortController();
    this.running = controller;
    const started = Date.now();
    this.deps.log.info(
      `Synthesizing ${plan.settings.count} record(s) over ${plan.labels.length} label(s) for ${this.name}, T ${plan.settings.iterations}, with ${generator.kind}/${generator.model}; embedder ${embedder.kind}/${embedder.model}.`,
    );
    const board = new SynthProgressBoard(plan.labels, plan.settings.iterations);
    this.board = board;
    let report: ((message: string) => void) | undefined;
    const throttle = new Throttle(100, () => {
      const running = this.running === controller;
      if (running && !board.pending) return;
      const m = board.take(running);
      report?.(`iteration ${m.iteration} of ${m.iterations}, ${m.histograms} histogram(s), ${m.calls} calls`);
      this.post(m);
    });
    throttle.flushNow();
    try {
      const result = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `Private Few-Shot: synthesizing records for ${this.name}`,
          cancellable: true,
        },
        async (progress, token) => {
          token.onCancellationRequested(() => controller.abort());
          report = (message) => progress.report({ message });
          return runInWorker({
            workerFile: path.join(this.deps.extensionUri.fsPath, 'dist', 'augpe-worker.js'),
            input,
            // vscode.lm exists only in the extension host: the worker sends its (synthetic-only) requests here.
            hostGenerator: config.kind === 'vscode-lm' ? provider : undefined,
            signal: controller.signal,
            onProgress: (p) => {
              board.update(p);
              throttle.poke();
            },
          });
        },
      );
      report = undefined;
      this.running = undefined;
      board.finish(result.status);
      throttle.flushNow();
      const after = await loaded.ledger.status(target);
      this.budget = budgetOf(after);
      const message =
        result.status === 'failed'
          ? `The run stopped early: ${result.error?.message ?? 'unknown error'}. The last selected records are kept, and the ${result.histograms} histogram(s) that ran are charged.`
          : result.status === 'cancelled'
            ? `Cancelled after ${result.histograms} of ${plan.settings.iterations} histogram(s): the last selected records are kept, and only those histograms are charged.`
            : undefined;
      const { release, message: shown } = augPeResultMessage(
        { plan, result },
        {
          budgetUsed: Math.max(0, after.spent - before.spent),
          budget: budgetOf(after),
          journal: path.relative(loaded.root, localJournalPath(result.checkpoint)),
          message,
        },
      );
      // Copy, Insert and Export… render this release and nothing else.
      this.result = release;
      this.post(shown, 'latest');
      this.deps.onBudget({ file: this.file, name: this.name, budget: budgetOf(after) });
      this.deps.log.info(
        `Synthesize ${this.name}: ${result.status}, ${result.records.length} record(s), ${result.histograms} of ${plan.settings.iterations} histogram(s), ε charged ${result.epsilonCharged.toFixed(3)}; local only, not private: ${result.report.usage.calls} calls, ${Date.now() - started} ms.`,
      );
    } catch (e) {
      // Refused or crashed in the worker: the rows stop spinning, and the budget is re-read (a crash after the
      // reservation leaves it charged in full).
      this.running = undefined;
      board.finish('failed');
      throttle.flushNow();
      const after = await loaded.ledger.status(target).catch(() => undefined);
      if (after) {
        this.budget = budgetOf(after);
        this.post({ type: 'budget', budget: this.budget });
        this.deps.onBudget({ file: this.file, name: this.name, budget: this.budget });
      }
      throw e;
    } finally {
      throttle.cancel();
      this.running = undefined;
    }
  }

  private text(): string {
    return editorReleaseText(this.result!);
  }

  private async export(): Promise<void> {
    const r = this.result;
    if (!r) return;
    const target = await vscode.window.showSaveDialog({
      title: 'Export synthetic records',
      saveLabel: 'Export',
      defaultUri: vscode.Uri.joinPath(this.file, '..', 'synthetic-records.jsonl'),
      filters: { 'JSON Lines': ['jsonl'], JSON: ['json'], Text: ['txt'] },
    });
    if (!target) return;
    // JSON is the release, as the CLI's `synth --format json` writes it: the records and the public run parameters.
    const format = editorExportFormat(target.path);
    const body = editorExportText(r, format);
    await writeExport(target, body, this.file);
    this.post({
      type: 'notice',
      message: `Exported ${r.records.length} record(s) as ${format} to ${vscode.workspace.asRelativePath(target, false)}.`,
    });
  }

  private dispose(): void {
    this.disposed = true;
    this.running?.abort();
    SynthPanel.panels.delete(this.file.toString());
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
