import * as vscode from 'vscode';
import { Config } from './config';
import { budgetOf, ledgerRootFor, type BudgetUpdate } from './datasetLedger';
import { trackTextEditors } from './editorOutput';
import { GeneratePanel } from './panels/generatePanel';
import { InspectPanel, loadSummary } from './panels/inspectPanel';
import { RunPanel } from './panels/runPanelHost';
import { SynthPanel } from './panels/synthPanel';
import { evaluateCommand, splitCommand } from './panels/evaluatePanel';
import { BudgetStatusBar } from './statusBar';
import { ledgerDatasetOf, openLedger, RecordIndex, setDefaultRecordIndex } from '../core/ledger';
import { checkEndpoint, setApiKey } from './providers/commands';
import { datasetArgument, pickDataset, setBudget } from './setBudget';
import { registerRunsView } from './views/runsView';

export function activate(context: vscode.ExtensionContext): void {
  // The per-user record index (core/ledger/record-index.ts) lives in the editor's global storage.
  setDefaultRecordIndex(new RecordIndex(context.globalStorageUri.fsPath));
  // Logs never include dataset rows, prompts or keys: only file names, counts of problems and timings.
  const log = vscode.window.createOutputChannel('Private Few-Shot', { log: true });
  const config = new Config();
  // A budget re-read after a ledger write made outside the editor also reaches that dataset's run panels.
  const budgetChanged = (u: BudgetUpdate) => RunPanel.budgetChanged(u.file, u.budget);
  const statusBar = new BudgetStatusBar((message) => log.warn(message), budgetChanged);
  context.subscriptions.push(log, statusBar, trackTextEditors());
  /** Re-reads a dataset's budget (for ledger writes made outside the editor, e.g. by the CLI). */
  const budgetFor = async (file: vscode.Uri): Promise<BudgetUpdate> => {
    const root = ledgerRootFor(file);
    const ds = await config.loadDataset(file, root);
    const status = await openLedger(root).status(ledgerDatasetOf(ds));
    return { file, name: vscode.workspace.asRelativePath(file, false), budget: budgetOf(status) };
  };
  const showBudget = (u: BudgetUpdate) => {
    statusBar.update(u);
    statusBar.follow(() => budgetFor(u.file));
  };
  const generateDeps = { extensionUri: context.extensionUri, context, log, config, onBudget: showBudget };
  // The Runs view, and the run panels brought back after a window reload with their last saved release.
  context.subscriptions.push(
    registerRunsView({ log, budgetFor }),
    GeneratePanel.registerSerializer(generateDeps),
    SynthPanel.registerSerializer(generateDeps),
  );
  const setBudgetDeps = {
    config,
    log,
    lastDataset: () => statusBar.dataset,
    onChanged: (u: BudgetUpdate) => {
      showBudget(u);
      budgetChanged(u);
    },
  };

  const load = (panel: InspectPanel) => loadSummary(panel, { config, log, showBudget });

  // Activated because the workspace has a ledger: show the budget of its most recently charged dataset at once.
  void lastChargedDataset().then(
    (file) => (file ? budgetFor(file).then(showBudget) : undefined),
    (e: unknown) => log.warn(`Could not read the workspace's privacy ledger: ${(e as Error).message}`),
  );

  context.subscriptions.push(
    vscode.commands.registerCommand('privateFewShot.openWalkthrough', () =>
      vscode.commands.executeCommand(
        'workbench.action.openWalkthrough',
        `${context.extension.packageJSON.publisher}.${context.extension.packageJSON.name}#getStarted`,
        false,
      ),
    ),
    vscode.commands.registerCommand('privateFewShot.inspectDataset', async (uri?: vscode.Uri) => {
      const file = await pickDataset(uri instanceof vscode.Uri ? uri : undefined, 'Inspect dataset');
      if (!file) return;
      const panel = InspectPanel.show(context.extensionUri, file, log, (p) => void load(p));
      await load(panel);
    }),
    vscode.commands.registerCommand('privateFewShot.generateDemonstrations', async (uri?: unknown) => {
      const file = await pickDataset(datasetArgument(uri), 'Generate demonstrations');
      if (file) GeneratePanel.show(generateDeps, file);
    }),
    vscode.commands.registerCommand('privateFewShot.synthesizeRecords', async (uri?: unknown) => {
      const file = await pickDataset(datasetArgument(uri), 'Generate synthetic records');
      if (file) SynthPanel.show(generateDeps, file);
    }),
    vscode.commands.registerCommand('privateFewShot.setBudget', (target?: unknown) => setBudget(setBudgetDeps, target)),
    // Evaluation (core/evaluate): hold out a split, then measure demonstrations on it. evaluateRun takes a dataset and
    // a run id or release file (or { dataset, run | file }) so the Runs view can call it.
    vscode.commands.registerCommand('privateFewShot.splitDataset', (target?: unknown) =>
      splitCommand(generateDeps, target),
    ),
    vscode.commands.registerCommand('privateFewShot.evaluateRun', (a?: unknown, b?: unknown) =>
      evaluateCommand(generateDeps, a, b),
    ),
    vscode.commands.registerCommand('privateFewShot.setApiKey', () => setApiKey(context)),
    vscode.commands.registerCommand('privateFewShot.checkEndpoint', () => checkEndpoint(context, log)),
  );
}

/**
 * The dataset of the last ledger line that names one, in the first workspace folder whose ledger names a file that
 * still exists. Reads only the `dataset.path` members (workspace-relative), never records.
 */
async function lastChargedDataset(): Promise<vscode.Uri | undefined> {
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const ledger = vscode.Uri.joinPath(folder.uri, '.private-fewshot', 'ledger.jsonl');
    let text: string;
    try {
      text = new TextDecoder().decode(await vscode.workspace.fs.readFile(ledger));
    } catch {
      continue;
    }
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    for (let i = lines.length - 1; i >= 0; i--) {
      let rel: unknown;
      try {
        rel = (JSON.parse(lines[i]!) as { dataset?: { path?: unknown } }).dataset?.path;
      } catch {
        continue;
      }
      if (typeof rel !== 'string' || rel === '') continue;
      const file = vscode.Uri.joinPath(folder.uri, ...rel.split('/'));
      try {
        await vscode.workspace.fs.stat(file);
        return file;
      } catch {
        // The file was moved or deleted: try an earlier line.
      }
    }
  }
  return undefined;
}

export function deactivate(): void {}
