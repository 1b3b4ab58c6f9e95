import * as vscode from 'vscode';
import path from 'node:path';
import { trainingPart } from '../../core/evaluate/split';
import { summarize, type Dataset, type DatasetSummary } from '../../core/data';
import { DataError, UserError } from '../../core/errors';
import {
  BudgetExceededError,
  Ledger,
  LEDGER_DIR,
  openLedger,
  defaultDeltaWarning,
  ledgerDatasetOf,
  overlapNotes,
  type PlanCheck,
  type BudgetStatus,
  type LedgerDataset,
  type RunPlan,
} from '../../core/ledger';
import type { Capabilities, Provider } from '../../core/providers/types';
import type { DataFlow } from '../../core/providers/endpoint';
import { largestEpsilonFor } from '../../core/largest-fit';
import {
  editorExportFormat,
  editorExportText,
  localJournalPath,
  type Release,
  type ReleaseFormat,
} from '../../core/release';
import { inFormWords } from '../../shared/format';
import { parseWebviewMessage, type BudgetMessage, type HostMessage, type WebviewMessage } from '../../shared/protocol';
import { editorHint } from '../budget';
import type { Config } from '../config';
import { budgetOf, ledgerRootFor, type BudgetUpdate } from '../datasetLedger';
import { insertRelease, releaseClipboardText, writeExport } from '../editorOutput';
import { chooseLabels } from '../../core/fewshot/prepare';
import { providerFromSettings } from '../providers/settings';
import { Throttle } from './progress';
import type { Ledgered } from './release';
import { createWebviewPanel, datasetOfState, setUpWebview, webviewOptions } from './webviewPanel';
import { releaseFilePath, writeReleaseFile } from '../../core/release-file';
import { latestRelease, readLocalDiagnostics } from '../views/runsModel';
import { endpointCheckOf, problemOf } from './problems';
import { missingJournal, rememberRun, restoredMessage } from './restore';

export interface RunPanelDeps {
  extensionUri: vscode.Uri;
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  config: Config;
  onBudget: (update: BudgetUpdate) => void;
}

/** What differs between the run panels' frames: names, message types and the export dialog. */
export interface RunPanelSpec {
  kind: 'generate' | 'synth';
  viewType: string;
  /** In the tab ("Generate: file.csv") and the log. */
  action: string;
  title: string;
  initType: 'generateInit' | 'synthInit';
  planType: 'plan' | 'synthPlan';
  exportTitle: string;
  exportFile: string;
}

/** A concrete run panel class: its spec, and the constructor it inherits from RunPanel. */
type PanelClass<P> = {
  readonly spec: RunPanelSpec;
  new (spec: RunPanelSpec, panel: vscode.WebviewPanel, deps: RunPanelDeps, file: vscode.Uri): P;
};

/** A run's progress board as the run frame uses it (runFramed): the view's message, and a line for the notification. */
export interface PanelBoard {
  /** Something changed since the last take. */
  readonly pending: boolean;
  take(running: boolean): HostMessage;
  summary(m: HostMessage): string;
  /** The end of the run (rows still in flight are marked done or stopped). */
  finish?(status: 'completed' | 'cancelled' | 'failed'): void;
}

export interface Loaded {
  ds: Dataset;
  summary: DatasetSummary;
  ledger: Ledger;
  root: string;
  /** Set when the dataset has a held-out split: generation reads only its training part (core/evaluate/split.ts). */
  splitNote?: string;
}

/** What both planners return (core/fewshot/prepare.ts, core/augpe): the plan, its budget check and the status. */
interface Checked {
  plan: { ledgerPlan: RunPlan; warnings: string[]; settings: { epsilon: number } };
  check: PlanCheck;
  status: BudgetStatus;
  target: LedgerDataset;
}

/**
 * The host of a run panel (Generate, Synthesize): one panel per dataset file, revealed when shown again; the dataset,
 * ledger status and provider loaded into the form's init message; the ready handshake that replays the last state
 * (the webview is not retained when hidden, so it reloads and asks again); budget updates; posting, never to a
 * disposed panel; load and run errors; Copy, Insert and Export… of the last release; dispose. A subclass adds its
 * settings, plan and run.
 */
export abstract class RunPanel<S, R extends Release> {
  private static readonly panels = new Map<string, RunPanel<unknown, Release>>();
  /** Messages replayed after every `ready`: init, then the latest plan/result/error. */
  protected init: HostMessage | undefined;
  protected latest: HostMessage | undefined;
  /** The last refusal or error, replayed after `latest`: shown next to the Run button, it never replaces a result. */
  private problem: HostMessage | undefined;
  protected loaded: Loaded | undefined;
  protected running: AbortController | undefined;
  /** The last run's release: the only thing Copy, Insert and Export… render (src/core/release.ts). */
  protected result: R | undefined;
  /** The settings of the plan on display, re-previewed when the budget changes under it. */
  private previewed: S | undefined;
  /** The dataset's budget as last read (sent after every replay, so a stale plan or result cannot overwrite it). */
  protected budget: BudgetMessage | undefined;
  /** The notification of the run in flight, if any. */
  protected report: ((message: string) => void) | undefined;
  protected readonly name: string;
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;

  /** The panel of `spec.viewType` for `file`: the open one revealed, else a new one that starts loading. */
  protected static open<P extends RunPanel<unknown, Release>>(
    spec: RunPanelSpec,
    deps: RunPanelDeps,
    file: vscode.Uri,
    create: (panel: vscode.WebviewPanel) => P,
  ): P {
    const key = `${spec.viewType} ${file.toString()}`;
    const existing = RunPanel.panels.get(key);
    if (existing) {
      existing.panel.reveal();
      return existing as P;
    }
    const panel = createWebviewPanel(deps.extensionUri, {
      viewType: spec.viewType,
      tab: `${spec.action}: ${file.path.split('/').pop()}`,
      kind: spec.kind,
      title: spec.title,
      dataset: file,
    });
    const p = create(panel);
    RunPanel.panels.set(key, p);
    void p.load();
    return p;
  }

  /**
   * Brings back the panels of `spec.viewType` after a window reload (the serializer pattern of
   * microsoft/vscode-extension-samples' webview-sample): VS Code hands over the panel and the state the webview saved,
   * which names the dataset (webview/vscode-api.ts); the panel loads it again and shows its last saved release. A state
   * without a dataset (a panel from an older version) closes the panel: there is nothing to show in it.
   */
  protected static serializer(
    spec: RunPanelSpec,
    deps: RunPanelDeps,
    create: (panel: vscode.WebviewPanel, file: vscode.Uri) => RunPanel<unknown, Release>,
  ): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(spec.viewType, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => {
        const file = datasetOfState(state);
        const key = file && `${spec.viewType} ${file.toString()}`;
        if (!file || !key || RunPanel.panels.has(key)) {
          panel.dispose();
          return;
        }
        panel.webview.options = webviewOptions(deps.extensionUri);
        setUpWebview(panel, deps.extensionUri, { kind: spec.kind, title: spec.title, dataset: file });
        const p = create(panel, file);
        RunPanel.panels.set(key, p);
        await p.load();
      },
    });
  }

  /** The budget of `file` changed (set from the editor, or written by the CLI): update its run panels, if open. */
  static budgetChanged(file: vscode.Uri, budget: BudgetMessage): void {
    for (const p of RunPanel.panels.values()) if (p.file.toString() === file.toString()) p.onBudgetChanged(budget);
  }

  /**
   * Shows the panel of this kind for `file` (revealed when it is open), as `GeneratePanel.show(deps, file)`: the
   * subclass names its spec in a static `spec` and inherits this constructor (the webview samples' createOrShow).
   */
  static show<P extends RunPanel<unknown, Release>>(this: PanelClass<P>, deps: RunPanelDeps, file: vscode.Uri): P {
    return RunPanel.open(this.spec, deps, file, (panel) => new this(this.spec, panel, deps, file));
  }

  /** Revives this kind of panel after a window reload, with its last saved release (the samples' `revive`). */
  static registerSerializer(this: PanelClass<RunPanel<unknown, Release>>, deps: RunPanelDeps): vscode.Disposable {
    return RunPanel.serializer(this.spec, deps, (panel, file) => new this(this.spec, panel, deps, file));
  }

  constructor(
    private readonly spec: RunPanelSpec,
    readonly panel: vscode.WebviewPanel,
    protected readonly deps: RunPanelDeps,
    readonly file: vscode.Uri,
  ) {
    this.name = vscode.workspace.asRelativePath(file, false);
    panel.webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw), undefined, this.disposables);
    panel.onDidDispose(() => this.dispose(), undefined, this.disposables);
  }

  /** What every form starts from: the file, its label names (local display), the budget and the configured model. */
  protected formBasics(loaded: Loaded, budget: BudgetMessage, provider: Provider) {
    return {
      file: this.name,
      labels: loaded.summary.labels.map((l) => l.label),
      provider: { kind: provider.kind, model: provider.model, offline: provider.offline },
      budget,
    };
  }

  /** The form's initial state, from the loaded dataset, its budget and the configured provider. */
  protected abstract initMessage(loaded: Loaded, budget: BudgetMessage, provider: Provider): HostMessage;
  /** Handles the panel's own messages (plan and run); the shared ones are handled here. */
  protected abstract onRunMessage(msg: WebviewMessage): Promise<void>;
  /** Plans and checks the budget; touches nothing. `wanted` can withdraw the result before it is shown. */
  protected abstract preview(s: S, wanted?: () => boolean): Promise<void>;
  /** The progress of the current or last run, replayed to a reloaded webview. */
  protected abstract progressSnapshot(): HostMessage | undefined;
  /** "3 demonstration(s)", for notices. */
  protected abstract describe(r: R): string;

  /** The export format for `target`, or undefined when the user cancelled a choice. */
  protected exportFormat(target: vscode.Uri): Promise<ReleaseFormat | undefined> {
    return Promise.resolve(editorExportFormat(target.path));
  }

  /** A planner's or the ledger's message in the form's words: field names for CLI flags, numbers rounded. */
  protected words(text: string): string {
    return inFormWords(text, this.spec.kind);
  }

  private onBudgetChanged(budget: BudgetMessage): void {
    // The ledger watcher re-reads after our own writes too: only a real change is news.
    if (this.budget && JSON.stringify(this.budget) === JSON.stringify(budget)) return;
    this.budget = budget;
    this.post({ type: 'budget', budget });
    // A plan on display was checked against the old budget: check it again (a preview spends nothing), unless
    // something else (a run, an error) has replaced it by the time the check is done.
    const shown = this.latest;
    if (shown?.type === this.spec.planType && this.previewed !== undefined && !this.running) {
      void this.preview(this.previewed, () => this.latest === shown).catch((e: unknown) => {
        if (this.latest === shown) this.fail(e);
      });
    }
  }

  protected post(message: HostMessage, keep: 'init' | 'latest' | 'problem' | false = false): void {
    if (keep === 'init') this.init = message;
    if (keep === 'latest') this.latest = message;
    if (keep === 'latest' || keep === 'init') this.problem = undefined;
    if (keep === 'problem') this.problem = message;
    // A run outlives its panel when the panel is closed mid-run (the close cancels it; the result still settles).
    if (!this.disposed) void this.panel.webview.postMessage(message);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const msg = parseWebviewMessage(raw);
    if (!msg) {
      this.deps.log.warn(`Ignored a malformed message from the ${this.spec.action} webview.`);
      return;
    }
    try {
      switch (msg.type) {
        case 'ready': {
          if (this.init) this.post(this.init);
          if (this.latest) this.post(this.latest);
          if (this.problem) this.post(this.problem);
          const progress = this.progressSnapshot();
          if (progress) this.post(progress);
          if (this.budget && this.init?.type === this.spec.initType) this.post({ type: 'budget', budget: this.budget });
          break;
        }
        case 'setBudget':
          await vscode.commands.executeCommand('privateFewShot.setBudget', this.file);
          break;
        case 'refresh':
          await this.load();
          break;
        case 'cancel':
          this.running?.abort();
          break;
        case 'insert':
          if (this.result) await insertRelease(this.result, msg.format);
          break;
        case 'insertItem':
          if (this.result) await insertRelease(this.result, msg.format, msg.index);
          break;
        case 'copyItem':
          if (this.result) {
            await vscode.env.clipboard.writeText(releaseClipboardText(this.result, msg.format, msg.index));
            this.post({ type: 'notice', message: `Copied item ${msg.index + 1}.` });
          }
          break;
        case 'export':
          await this.export();
          break;
        case 'copy':
          if (this.result) {
            await vscode.env.clipboard.writeText(releaseClipboardText(this.result, msg.format));
            this.post({ type: 'notice', message: `Copied ${this.describe(this.result)}.` });
          }
          break;
        case 'openSettings':
          await vscode.commands.executeCommand('workbench.action.openSettings', 'privateFewShot.provider');
          break;
        case 'checkEndpoint':
          await this.checkEndpointNow();
          break;
        case 'useBuiltinModel':
          await this.useBuiltinModel();
          break;
        case 'openSource':
          await vscode.window.showTextDocument(this.file, {
            selection: msg.line ? new vscode.Range(msg.line - 1, 0, msg.line - 1, 0) : undefined,
          });
          break;
        default:
          await this.onRunMessage(msg);
      }
    } catch (e) {
      this.fail(e);
    }
  }

  protected fail(e: unknown): void {
    const { message, log } = problemOf(e, {
      action: this.spec.action,
      name: this.name,
      datasetPath: this.loaded?.ds.identity.path ?? this.name,
      words: (t) => this.words(t),
    });
    this.post(message, 'problem');
    if (log.level === 'warn') this.deps.log.warn(log.text);
    else this.deps.log.error(log.error);
  }

  /** Loads the dataset, the ledger status and the provider, and sends the form's initial state. */
  async load(): Promise<void> {
    this.post({ type: 'loading', file: this.name }, 'init');
    this.latest = undefined;
    try {
      const root = ledgerRootFor(this.file);
      // With a held-out split, the panels plan and run on the training part only (said in the plan's notes).
      const { dataset: ds, note: splitNote } = trainingPart(
        await this.deps.config.loadDataset(this.file, root),
        path.join(root, LEDGER_DIR),
      );
      const summary = summarize(ds);
      const ledger = openLedger(root);
      this.loaded = { ds, summary, ledger, root, splitNote };
      const status = await ledger.status(ledgerDatasetOf(ds, summary.units));
      this.budget = budgetOf(status);
      const provider = await providerFromSettings(this.deps.context);
      this.post(this.initMessage(this.loaded, budgetOf(status), provider), 'init');
      this.deps.onBudget({ file: this.file, name: this.name, budget: budgetOf(status) });
      await this.restoreLast(this.loaded, budgetOf(status)).catch((e: unknown) =>
        this.deps.log.warn(`Could not show the last release of ${this.name} again: ${(e as Error).message}`),
      );
    } catch (e) {
      if (e instanceof UserError) {
        const line = e instanceof DataError ? e.line : undefined;
        this.post({ type: 'error', file: this.name, message: e.message, hint: e.hint, line }, 'init');
        this.deps.log.warn(`Could not load ${this.name}: ${e.message}`);
      } else {
        this.post({ type: 'error', file: this.name, message: `Unexpected error: ${(e as Error).message}` }, 'init');
        this.deps.log.error(e as Error);
      }
    }
  }

  /** The loaded dataset and the labels chosen in the form (all of them needs the explicit acknowledgement). */
  protected loadedFor(s: { labels: string[]; allLabels: boolean }): { loaded: Loaded; labels: string[] } {
    const loaded = this.loaded;
    if (!loaded) throw new UserError('the dataset is not loaded', 'Reload the panel.');
    const all = loaded.summary.labels.map((l) => l.label);
    return { loaded, labels: chooseLabels(all, s.labels, s.allLabels) };
  }

  /**
   * The largest ε for a refused plan that the ledger admits (reads only); `replan` plans the same run at another ε
   * from public settings only.
   */
  protected largestFit(
    { prepared, loaded }: { prepared: Checked; loaded: Loaded },
    replan: (ds: Dataset, epsilon: number) => { ledgerPlan: RunPlan },
  ): Promise<number | undefined> {
    return largestEpsilonFor(loaded.ledger, prepared.target, prepared.plan.settings.epsilon, (epsilon) =>
      replan(loaded.ds, epsilon),
    );
  }

  /**
   * What every plan message carries besides its algorithm's figures: the budget check (`checked`), the largest ε
   * that fits a refused plan, where the data goes, the traffic estimate of a remote model (a local diagnostic) and
   * whether the endpoint answered the probe.
   */
  protected planFigures<T>(
    s: S,
    prepared: Checked,
    o: { largestFit: number | undefined; dataFlow: DataFlow; traffic: T | undefined; endpointChecked: boolean },
  ) {
    return {
      ...this.checked(s, prepared),
      ...(o.largestFit !== undefined ? { largestFit: o.largestFit } : {}),
      dataFlow: o.dataFlow,
      ...(o.traffic ? { traffic: o.traffic } : {}),
      ...(o.endpointChecked ? { endpointChecked: true } : {}),
    };
  }

  /**
   * The budget fields of a plan message for the checked plan of `s` (remembered for re-checks when the budget changes),
   * with the local-only δ warning.
   */
  protected checked(s: S, { plan, check, status, target }: Checked) {
    // Local only (the panel's plan area): the default δ against 1/(n·ln n) for the exact n; never in a release.
    const deltaWarning = defaultDeltaWarning(check.total, target.units, this.name);
    const refusal = check.fits ? undefined : new BudgetExceededError(check, this.name, plan.ledgerPlan);
    this.previewed = s;
    this.budget = budgetOf(status);
    return {
      budget: budgetOf(status),
      remainingAfter: check.total.epsilon - check.spentAfter,
      // What this run adds to the spent budget under the ledger's filter (the plan leads with it).
      marginal: Math.max(0, check.spentAfter - check.spentBefore),
      fits: check.fits,
      over: check.over,
      refusal: refusal
        ? this.words(`${refusal.message}. ${editorHint(refusal.hint ?? '', this.name)}`.trim())
        : undefined,
      // Plus the local δ warning and records shared with other datasets or ledgers: local diagnostics, labelled so.
      warnings: [
        ...(this.loaded?.splitNote ? [this.loaded.splitNote] : []),
        ...plan.warnings,
        ...(deltaWarning ? [deltaWarning] : []),
        ...overlapNotes(status),
      ].map((w) => this.words(w)),
    };
  }

  /**
   * Preview plan checks the endpoint before showing the plan: the capability probe (fixed public text only, cached
   * per endpoint once it answers). Throws the provider's error (shown with the endpoint buttons). Undefined for the
   * built-in model (nothing to check).
   */
  protected async probeEndpoint(provider: Provider): Promise<Capabilities | undefined> {
    if (provider.offline) return undefined;
    return provider.capabilities();
  }

  /** The panel's Check Endpoint button: probe the configured provider and say what it can run, or what failed. */
  private async checkEndpointNow(): Promise<void> {
    const { message, log } = await endpointCheckOf(await providerFromSettings(this.deps.context));
    this.post(message);
    if (log.level === 'info') this.deps.log.info(`Endpoint check from the ${this.spec.action} panel: ${log.text}`);
    else this.deps.log.warn(log.text);
  }

  /**
   * Use the Built-in Model: privateFewShot.provider.kind = builtin in this workspace's settings (switching TO the
   * offline model sends nothing anywhere, so a workspace value is safe; the base URL stays user-only). In an untrusted
   * workspace, or with no folder open, workspace values of the setting are not read, so the user setting is changed.
   */
  private async useBuiltinModel(): Promise<void> {
    const cfg = vscode.workspace.getConfiguration('privateFewShot.provider');
    const workspace = vscode.workspace.isTrusted && (vscode.workspace.workspaceFolders?.length ?? 0) > 0;
    const target = workspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await cfg.update('kind', 'builtin', target);
    // The remote model's id means nothing to the built-in provider (it has one model): clear it at the same level.
    if (cfg.get<string>('model')?.trim()) await cfg.update('model', '', target);
    this.deps.log.info(`Switched the provider to the built-in model (${workspace ? 'workspace' : 'user'} settings).`);
    await this.load();
    this.post({
      type: 'notice',
      message: `Switched to the built-in model in ${workspace ? "this workspace's" : 'your user'} settings: nothing leaves this machine. Preview the plan again.`,
    });
  }

  /** Refuses a second run, and runs in an untrusted workspace (package.json: inspecting and planning only). */
  protected checkCanRun(sends: string, again: string): void {
    if (this.running) throw new UserError('a run is already going for this dataset', 'Wait for it, or cancel it.');
    if (!vscode.workspace.isTrusted) {
      throw new UserError(
        `runs need a trusted workspace: a run sends ${sends} to the model and writes the ledger in .private-fewshot/`,
        `Trust this workspace (command "Workspaces: Manage Workspace Trust"), then ${again}. The plan preview works without trust.`,
      );
    }
  }

  /** Runs `run` under a cancellable notification (Cancel aborts `controller`); `this.report` updates its text. */
  protected async inNotification<T>(title: string, controller: AbortController, run: () => Promise<T>): Promise<T> {
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Private Few-Shot: ${title}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => controller.abort());
          this.report = (message) => progress.report({ message });
          return run();
        },
      );
    } finally {
      this.report = undefined;
    }
  }

  /**
   * The frame of a run, the same for both panels: Cancel (the panel's button and the notification's) aborts the
   * signal `run` gets; the board's state is posted at most every 100 ms, and once more at the end (a trailing post
   * carries the last state and tells the view the run is over); the ledger is read again afterwards. When the run
   * throws (a refusal, a crash of its worker), the budget is read again and sent before the error goes on: a crash
   * after the reservation leaves it charged in full.
   */
  protected async runFramed<T extends { status: 'completed' | 'cancelled' | 'failed' }>(o: {
    title: string;
    board: PanelBoard;
    target: LedgerDataset;
    /** `changed` tells the frame the board has news (posted within 100 ms). */
    run: (signal: AbortSignal, changed: () => void) => Promise<T>;
  }): Promise<{ result: T; after: BudgetStatus }> {
    const ledger = this.loaded!.ledger;
    const controller = new AbortController();
    this.running = controller;
    const throttle = new Throttle(100, () => {
      const running = this.running === controller;
      if (running && !o.board.pending) return;
      const m = o.board.take(running);
      this.report?.(o.board.summary(m));
      this.post(m);
    });
    throttle.flushNow();
    try {
      const result = await this.inNotification(o.title, controller, () =>
        o.run(controller.signal, () => throttle.poke()),
      );
      this.running = undefined;
      o.board.finish?.(result.status);
      throttle.flushNow();
      return { result, after: await ledger.status(o.target) };
    } catch (e) {
      this.running = undefined;
      o.board.finish?.('failed');
      throttle.flushNow();
      const after = await ledger.status(o.target).catch(() => undefined);
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

  /**
   * The ledger's figures and the status note around a finished run's release (the result message's frame, the same
   * for both panels): how much the run raised the dataset's spent budget (`before` → `after`), the budget now, its
   * journal as the workspace names it, and, for a run that did not complete, what stays and what is charged (`kept`).
   */
  protected ledgered(
    before: BudgetStatus,
    after: BudgetStatus,
    result: { status: 'completed' | 'cancelled' | 'failed'; error?: Error; checkpoint: string },
    kept: { failed: string; cancelled: string },
  ): Ledgered {
    const note =
      result.status === 'failed'
        ? `The run stopped early: ${result.error?.message ?? 'unknown error'}. ${kept.failed}`
        : result.status === 'cancelled'
          ? kept.cancelled
          : undefined;
    return {
      budgetUsed: Math.max(0, after.spent - before.spent),
      budget: budgetOf(after),
      journal: vscode.workspace.asRelativePath(localJournalPath(result.checkpoint), false),
      message: note,
    };
  }

  /**
   * A run ended with `release`: it is what Copy, Insert and Export… render; the budget after it goes everywhere. With
   * the run's `checkpoint`, the release is also saved beside it (src/core/release-file.ts), so that it comes back when
   * the panel is opened again or the window reloads, and the Runs view lists it.
   */
  protected settled(release: R, shown: HostMessage, after: BudgetStatus, checkpoint?: string): void {
    this.budget = budgetOf(after);
    this.result = release;
    this.post(shown, 'latest');
    this.deps.onBudget({ file: this.file, name: this.name, budget: budgetOf(after) });
    if (checkpoint) {
      rememberRun(checkpoint, shown);
      try {
        writeReleaseFile(checkpoint, release);
      } catch (e) {
        // The release is still on screen and in the checkpoint: say so, and keep going.
        this.deps.log.warn(`Could not save the release of ${this.name} beside ${checkpoint}: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Shows again the newest saved release of this panel's algorithm on this dataset (a panel opened again, or revived
   * after a reload), unless the panel already shows a result or something newer. Only the release and the ledger's
   * figures are shown as the result; the run's local diagnostics come from its journal, in the "Local only, not
   * private" area as after the run.
   */
  private async restoreLast(loaded: Loaded, budget: BudgetMessage): Promise<void> {
    const algorithm = this.spec.kind === 'generate' ? 'dp-few-shot' : 'aug-pe';
    const run = await latestRelease(loaded.root, loaded.ds.identity.path, algorithm);
    const release = run?.release;
    if (!run || !release || release.algorithm !== algorithm || this.result || this.latest || this.running) return;
    const journal = vscode.workspace.asRelativePath(localJournalPath(run.checkpoint), false);
    const local = (await readLocalDiagnostics(run.checkpoint, journal)) ?? missingJournal(journal);
    if (this.result || this.latest || this.running) return;
    const releaseFile = vscode.workspace.asRelativePath(releaseFilePath(run.checkpoint), false);
    const shown = restoredMessage({ release, run, releaseFile, local, budget });
    this.result = release as R;
    this.post(shown, 'latest');
  }

  private async export(): Promise<void> {
    const r = this.result;
    if (!r) return;
    const target = await vscode.window.showSaveDialog({
      title: this.spec.exportTitle,
      saveLabel: 'Export',
      defaultUri: vscode.Uri.joinPath(this.file, '..', this.spec.exportFile),
      filters: { 'JSON Lines': ['jsonl'], JSON: ['json'], Text: ['txt'] },
    });
    if (!target) return;
    const format = await this.exportFormat(target);
    if (!format) return;
    await writeExport(target, editorExportText(r, format), this.file);
    this.post({
      type: 'notice',
      message: `Exported ${this.describe(r)} as ${format} to ${vscode.workspace.asRelativePath(target, false)}.`,
    });
  }

  private dispose(): void {
    this.disposed = true;
    this.running?.abort();
    RunPanel.panels.delete(`${this.spec.viewType} ${this.file.toString()}`);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
