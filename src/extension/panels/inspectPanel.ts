import * as vscode from 'vscode';
import { parseWebviewMessage, type HostMessage } from '../../shared/protocol';
import { createWebviewPanel } from './webviewPanel';
import { summarize } from '../../core/data';
import { DataError, UserError } from '../../core/errors';
import { ledgerDatasetOf, openLedger } from '../../core/ledger';
import type { Config } from '../config';
import { budgetOf, ledgerRootFor, type BudgetUpdate } from '../datasetLedger';

/**
 * The dataset summary panel. One panel per dataset file; the host keeps the latest state and re-sends it after
 * every `ready` (the webview is not retained when hidden, so it reloads and asks again).
 */
export class InspectPanel {
  static readonly viewType = 'privateFewShot.inspect';
  private static readonly panels = new Map<string, InspectPanel>();

  private state: HostMessage | undefined;
  private disposed = false;
  private readonly disposables: vscode.Disposable[] = [];

  static show(
    extensionUri: vscode.Uri,
    file: vscode.Uri,
    log: vscode.LogOutputChannel,
    onRefresh: (panel: InspectPanel) => void,
  ): InspectPanel {
    const key = file.toString();
    const existing = InspectPanel.panels.get(key);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = createWebviewPanel(extensionUri, {
      viewType: InspectPanel.viewType,
      tab: `Dataset: ${file.path.split('/').pop()}`,
      kind: 'inspect',
      title: 'Private Few-Shot: dataset',
    });
    const p = new InspectPanel(panel, file, log, onRefresh);
    InspectPanel.panels.set(key, p);
    return p;
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    readonly file: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    onRefresh: (panel: InspectPanel) => void,
  ) {
    const webview = panel.webview;
    webview.onDidReceiveMessage(
      (raw: unknown) => {
        const msg = parseWebviewMessage(raw);
        if (!msg) {
          this.log.warn('Ignored a malformed message from the webview.');
          return;
        }
        switch (msg.type) {
          case 'ready':
            if (this.state) void webview.postMessage(this.state);
            break;
          case 'refresh':
            onRefresh(this);
            break;
          case 'openSource':
            void vscode.window.showTextDocument(file, {
              selection: msg.line ? new vscode.Range(msg.line - 1, 0, msg.line - 1, 0) : undefined,
            });
            break;
        }
      },
      undefined,
      this.disposables,
    );
    panel.onDidDispose(() => this.dispose(), undefined, this.disposables);
  }

  /** Records the state and sends it if the webview is listening (it will ask again with `ready` otherwise). */
  post(message: HostMessage): void {
    this.state = message;
    // A load that finishes after the panel was closed must not post to it (VS Code throws "Webview is disposed").
    if (this.disposed) return;
    void this.panel.webview.postMessage(message);
  }

  private dispose(): void {
    this.disposed = true;
    InspectPanel.panels.delete(this.file.toString());
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/**
 * Loads `panel`'s dataset and posts its local summary (or the load error, with file and line), then shows its budget
 * in the status bar. A ledger problem must not hide the summary (Generate reports it in full).
 */
export async function loadSummary(
  panel: InspectPanel,
  deps: { config: Config; log: vscode.LogOutputChannel; showBudget: (u: BudgetUpdate) => void },
): Promise<void> {
  const { config, log, showBudget } = deps;
  const file = panel.file;
  const root = ledgerRootFor(file);
  const name = vscode.workspace.asRelativePath(file, false);
  panel.post({ type: 'loading', file: name });
  const started = Date.now();
  try {
    const ds = await config.loadDataset(file, root);
    const summary = summarize(ds);
    panel.post({ type: 'summary', summary });
    log.info(`Inspected ${name} in ${Date.now() - started} ms.`);
    void openLedger(root)
      .status(ledgerDatasetOf(ds, summary.units))
      .then(
        (status) => showBudget({ file, name, budget: budgetOf(status) }),
        (e: unknown) => log.warn(`Could not read the privacy budget of ${name}: ${(e as Error).message}`),
      );
  } catch (e) {
    if (e instanceof UserError) {
      const line = e instanceof DataError ? e.line : undefined;
      panel.post({ type: 'error', file: name, message: e.message, hint: e.hint, line });
      log.warn(`Could not load ${name}: ${e.message}`);
    } else {
      panel.post({ type: 'error', file: name, message: `Unexpected error: ${(e as Error).message}` });
      log.error(e as Error);
    }
  }
}
