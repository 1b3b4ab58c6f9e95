// The "Runs" view of the Private Few-Shot activity-bar container: each dataset a workspace ledger names, with its
// budget, and its past runs with Open, Insert, Export… and Copy on each saved release. A thin vscode wrapper: what it
// lists and says comes from runsModel.ts (plain Node, unit-tested); what it inserts, copies and exports is the saved
// release rendered by src/core/release.ts, never a local diagnostic.
import path from 'node:path';
import * as vscode from 'vscode';
import { LEDGER_DIR } from '../../core/ledger';
import { releaseFilePath } from '../../core/release-file';
import { editorExportFormat, editorExportText, editorReleaseText, type Release } from '../../core/release';
import { UserError } from '../../core/errors';
import type { BudgetMessage } from '../../shared/protocol';
import type { BudgetUpdate } from '../datasetLedger';
import { insertAtCursor, writeExport } from '../editorOutput';
import { describeDatasetBudget, describeRun, readRuns, type DatasetRuns, type PastRun } from './runsModel';

export const RUNS_VIEW_ID = 'privateFewShot.runs';
/** Set when another part of the extension has registered `privateFewShot.evaluateRun` (see package.json menus). */
export const CAN_EVALUATE_CONTEXT = 'privateFewShot.canEvaluateRun';
export const EVALUATE_RUN_COMMAND = 'privateFewShot.evaluateRun';

/** A dataset line: its ledger-relative path, its file, and its runs. */
export interface DatasetNode {
  kind: 'dataset';
  file: vscode.Uri;
  entry: DatasetRuns;
}

/**
 * A run line: what the item commands (Open, Insert, Export…, Copy, and `privateFewShot.evaluateRun` when registered)
 * receive. `run.release` is the saved release (checked against the release key set), undefined when there is none.
 */
export interface RunNode {
  kind: 'run';
  /** The run's dataset file. */
  dataset: vscode.Uri;
  run: PastRun;
}

type Node = DatasetNode | RunNode;

export interface RunsViewDeps {
  log: vscode.LogOutputChannel;
  /** Reads a dataset's budget (loads the dataset and the ledger status; extension.ts). */
  budgetFor: (file: vscode.Uri) => Promise<BudgetUpdate>;
}

/** The folders whose `.private-fewshot/` ledgers are listed: every workspace folder, and ledgers found below them. */
async function ledgerRoots(): Promise<string[]> {
  const roots = new Set<string>();
  const found = await vscode.workspace.findFiles(`**/${LEDGER_DIR}/ledger.jsonl`, '**/node_modules/**', 50);
  for (const f of found) roots.add(path.dirname(path.dirname(f.fsPath)));
  for (const folder of vscode.workspace.workspaceFolders ?? [])
    if (folder.uri.scheme === 'file') roots.add(folder.uri.fsPath);
  return [...roots].sort();
}

export class RunsTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** Budgets as last read, by dataset file (cleared on refresh). */
  private readonly budgets = new Map<string, Promise<BudgetMessage | Error>>();

  constructor(private readonly deps: RunsViewDeps) {}

  refresh(): void {
    this.budgets.clear();
    this.changed.fire(undefined);
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (node?.kind === 'run') return [];
    if (node?.kind === 'dataset')
      return node.entry.runs.map((run) => ({ kind: 'run' as const, dataset: node.file, run }));
    const all: Node[] = [];
    for (const root of await ledgerRoots()) {
      let entries: DatasetRuns[];
      try {
        entries = await readRuns(root);
      } catch (e) {
        this.deps.log.warn(`Runs view: could not read the ledger under ${root}: ${(e as Error).message}`);
        continue;
      }
      for (const entry of entries)
        all.push({ kind: 'dataset', file: vscode.Uri.file(path.join(root, ...entry.dataset.split('/'))), entry });
    }
    return all;
  }

  private budgetOf(file: vscode.Uri): Promise<BudgetMessage | Error> {
    const key = file.toString();
    let b = this.budgets.get(key);
    if (!b) {
      b = this.deps.budgetFor(file).then(
        (u) => u.budget,
        (e: unknown) => e as Error,
      );
      this.budgets.set(key, b);
    }
    return b;
  }

  async getTreeItem(node: Node): Promise<vscode.TreeItem> {
    if (node.kind === 'dataset') {
      const item = new vscode.TreeItem(
        vscode.workspace.asRelativePath(node.file, false),
        node.entry.runs.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None,
      );
      item.id = `dataset:${node.file.toString()}`;
      item.contextValue = 'dataset';
      item.resourceUri = node.file;
      item.iconPath = new vscode.ThemeIcon('database');
      const budget = await this.budgetOf(node.file);
      if (budget instanceof Error) {
        item.description = 'budget unavailable';
        item.tooltip = `${node.entry.dataset}: the budget could not be read: ${budget.message}`;
      } else {
        item.description = describeDatasetBudget(budget);
        item.tooltip = `${node.entry.dataset}: ${describeDatasetBudget(budget)} (δ ${budget.delta.toExponential(2)}). ${node.entry.runs.length} run(s).`;
      }
      return item;
    }
    const d = describeRun(node.run);
    const item = new vscode.TreeItem(d.label, vscode.TreeItemCollapsibleState.None);
    item.id = `run:${node.run.root}:${node.run.id}`;
    item.description = d.description;
    item.tooltip = d.tooltip;
    // 'run.released' (demonstrations: can be evaluated in context), 'run.released.records' (Aug-PE records: the
    // Evaluate action, which scores demonstrations, is not offered; `private-fewshot evaluate --records` does them).
    item.contextValue = !node.run.release
      ? 'run.unsaved'
      : node.run.release.algorithm === 'dp-few-shot'
        ? 'run.released'
        : 'run.released.records';
    item.iconPath = new vscode.ThemeIcon(
      node.run.release
        ? node.run.release.algorithm === 'dp-few-shot'
          ? 'sparkle'
          : 'beaker'
        : node.run.status === 'reserved'
          ? 'loading'
          : 'circle-slash',
    );
    item.command = { command: 'privateFewShot.runs.open', title: 'Open', arguments: [node] };
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

function releaseOf(node: unknown): { release: Release; node: RunNode } {
  const n = node as RunNode | undefined;
  if (n?.kind !== 'run') throw new UserError('no run selected', 'Pick a run in the Private Few-Shot Runs view.');
  if (!n.run.release)
    throw new UserError(
      `run ${n.run.id} has no saved release`,
      `${n.run.problem ?? ''}. Use Open to see its run file.`,
    );
  return { release: n.run.release, node: n };
}

function countOf(r: Release): string {
  const n = r.algorithm === 'dp-few-shot' ? r.demonstrations.length : r.records.length;
  return `${n} ${r.algorithm === 'dp-few-shot' ? 'demonstration' : 'record'}${n === 1 ? '' : 's'}`;
}

/** The JSON export of a DP few-shot release is the release or chat messages: the user picks (as the Generate panel). */
async function exportFormat(target: vscode.Uri, r: Release) {
  if (editorExportFormat(target.path) !== 'json' || r.algorithm !== 'dp-few-shot')
    return editorExportFormat(target.path);
  const pick = await vscode.window.showQuickPick(
    [
      { label: 'Demonstrations and public run parameters', description: 'the release', json: 'release' as const },
      { label: 'Chat messages', description: 'OpenAI messages: user = text, assistant = label', json: 'chat' as const },
    ],
    { title: 'Export as which JSON?' },
  );
  return pick && editorExportFormat(target.path, pick.json);
}

/**
 * Registers the Runs view, its commands and its refresh on ledger and release writes. Also sets
 * `privateFewShot.canEvaluateRun` once `privateFewShot.evaluateRun` is registered, which shows "Evaluate Run…" in a
 * run's context menu (package.json).
 */
export function registerRunsView(deps: RunsViewDeps): vscode.Disposable {
  const tree = new RunsTree(deps);
  const view = vscode.window.createTreeView(RUNS_VIEW_ID, { treeDataProvider: tree, showCollapseAll: true });
  const checkEvaluate = async () => {
    const has = (await vscode.commands.getCommands(true)).includes(EVALUATE_RUN_COMMAND);
    await vscode.commands.executeCommand('setContext', CAN_EVALUATE_CONTEXT, has);
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const refreshSoon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      tree.refresh();
      void checkEvaluate();
    }, 300);
  };
  const watcher = vscode.workspace.createFileSystemWatcher(`**/${LEDGER_DIR}/{ledger.jsonl,runs/*.release.json}`);
  watcher.onDidChange(refreshSoon);
  watcher.onDidCreate(refreshSoon);
  watcher.onDidDelete(refreshSoon);
  // Other parts of the extension register their commands during activation, after this view.
  setTimeout(() => void checkEvaluate(), 1000);

  const guarded =
    (f: (node: unknown) => Promise<void>) =>
    async (node: unknown): Promise<void> => {
      try {
        await f(node ?? view.selection[0]);
      } catch (e) {
        const msg = e instanceof UserError ? e.describe() : (e as Error).message;
        if (!(e instanceof UserError)) deps.log.error(e as Error);
        void vscode.window.showErrorMessage(`Private Few-Shot: ${msg}`);
      }
    };

  return vscode.Disposable.from(
    tree,
    view,
    watcher,
    { dispose: () => clearTimeout(timer) },
    vscode.workspace.onDidChangeWorkspaceFolders(refreshSoon),
    vscode.commands.registerCommand('privateFewShot.runs.refresh', () => tree.refresh()),
    vscode.commands.registerCommand(
      'privateFewShot.runs.open',
      guarded(async (node) => {
        const n = node as RunNode | undefined;
        if (n?.kind !== 'run') return;
        // The saved release (DP outputs and public parameters), else the run checkpoint (what it released as it went).
        const file = n.run.release ? releaseFilePath(n.run.checkpoint) : n.run.checkpoint;
        await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: true });
      }),
    ),
    vscode.commands.registerCommand(
      'privateFewShot.runs.insert',
      guarded(async (node) => {
        const { release } = releaseOf(node);
        await insertAtCursor(editorReleaseText(release));
      }),
    ),
    vscode.commands.registerCommand(
      'privateFewShot.runs.copy',
      guarded(async (node) => {
        const { release } = releaseOf(node);
        await vscode.env.clipboard.writeText(editorReleaseText(release));
        void vscode.window.showInformationMessage(`Private Few-Shot: copied ${countOf(release)}.`);
      }),
    ),
    vscode.commands.registerCommand(
      'privateFewShot.runs.export',
      guarded(async (node) => {
        const { release, node: n } = releaseOf(node);
        const base = release.algorithm === 'dp-few-shot' ? 'demonstrations' : 'synthetic';
        const target = await vscode.window.showSaveDialog({
          title: `Export the release of run ${n.run.id}`,
          saveLabel: 'Export',
          defaultUri: vscode.Uri.joinPath(n.dataset, '..', `${base}.jsonl`),
          filters: { 'JSON Lines': ['jsonl'], JSON: ['json'], Text: ['txt'] },
        });
        if (!target) return;
        const format = await exportFormat(target, release);
        if (!format) return;
        await writeExport(target, editorExportText(release, format), n.dataset);
        void vscode.window.showInformationMessage(
          `Private Few-Shot: exported ${countOf(release)} as ${format} to ${vscode.workspace.asRelativePath(target, false)}.`,
        );
      }),
    ),
  );
}
