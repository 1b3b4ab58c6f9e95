import * as vscode from 'vscode';

import { UserError } from '../core/errors';
import { ledgerDatasetOf, openLedger } from '../core/ledger';
import { describeBudget, fmt, parseTotalEpsilon, raiseConfirmation } from './budget';
import type { Config } from './config';
import { budgetOf, ledgerRootFor, type BudgetUpdate } from './datasetLedger';

export interface SetBudgetDeps {
  config: Config;
  log: vscode.LogOutputChannel;
  /** The dataset the status bar shows (the file dialog starts there). */
  lastDataset: () => vscode.Uri | undefined;
  /** After a change: the status bar and an open Generate panel show the new budget. */
  onChanged: (update: BudgetUpdate) => void;
}

/** A command's dataset argument: a Uri (menus, panels) or a URI string (command links in the status-bar tooltip). */
const DATASET_FILTERS = { 'Labelled datasets': ['csv', 'jsonl', 'ndjson', 'json'] };

/**
 * The dataset a command works on: `given` when the command was invoked on a file, otherwise the one the user picks
 * in the file dialog (opened at `preferred`, the active editor's file or the first workspace folder). Undefined when
 * the user cancels.
 */
export async function pickDataset(
  given: vscode.Uri | undefined,
  openLabel: string,
  preferred?: vscode.Uri,
): Promise<vscode.Uri | undefined> {
  if (given) return given;
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: DATASET_FILTERS,
    defaultUri:
      preferred ?? vscode.window.activeTextEditor?.document.uri ?? vscode.workspace.workspaceFolders?.[0]?.uri,
    openLabel,
  });
  return picked?.[0];
}

export function datasetArgument(target: unknown): vscode.Uri | undefined {
  if (target instanceof vscode.Uri) return target;
  if (typeof target !== 'string' || !target) return undefined;
  try {
    return vscode.Uri.parse(target, true);
  } catch {
    return undefined;
  }
}

/**
 * "Private Few-Shot: Set Privacy Budget…": shows the dataset's total, spent and remaining ε, asks for the new total
 * (validated as typed), asks for a modal confirmation before raising it (raising weakens the guarantee of every
 * release, past and future), and writes a budget line with Ledger.setTotal (docs/LEDGER.md).
 * `target` is the dataset: a Uri (explorer menu, Generate panel) or a URI string (status-bar tooltip link).
 */
export async function setBudget(deps: SetBudgetDeps, target?: unknown): Promise<void> {
  const file = await pickDataset(datasetArgument(target), 'Set privacy budget', deps.lastDataset());
  if (!file) return;
  const name = vscode.workspace.asRelativePath(file, false);
  // The ledger is a file in the workspace: like runs, changing it needs a trusted workspace.
  if (!vscode.workspace.isTrusted) {
    const manage = 'Manage Workspace Trust';
    const pick = await vscode.window.showWarningMessage(
      `Private Few-Shot: setting the privacy budget writes the workspace's ledger (.private-fewshot/ledger.jsonl); trust this workspace first.`,
      manage,
    );
    if (pick === manage) await vscode.commands.executeCommand('workbench.trust.manage');
    return;
  }
  try {
    const root = ledgerRootFor(file);
    const ds = await deps.config.loadDataset(file, root);
    const dataset = ledgerDatasetOf(ds);
    const ledger = openLedger(root);
    const current = budgetOf(await ledger.status(dataset));

    const typed = await vscode.window.showInputBox({
      title: `Privacy budget of ${name}`,
      prompt: `${describeBudget(current)} New total ε:`,
      value: String(current.total),
      ignoreFocusOut: true,
      validateInput: (text) => {
        const r = parseTotalEpsilon(text, current);
        return r.ok ? undefined : r.message;
      },
    });
    if (typed === undefined) return;
    const input = parseTotalEpsilon(typed, current);
    if (!input.ok) return;
    const epsilon = input.epsilon;
    if (epsilon === current.total) {
      void vscode.window.showInformationMessage(`Private Few-Shot: the total ε of ${name} stays ${fmt(epsilon)}.`);
      return;
    }
    if (epsilon > current.total) {
      const c = raiseConfirmation(name, current.total, epsilon, current.delta);
      if ((await vscode.window.showWarningMessage(c.message, { modal: true, detail: c.detail }, c.button)) !== c.button)
        return;
    }
    // Another process (the CLI, another window) may have spent since the box opened: check against a fresh read.
    const fresh = parseTotalEpsilon(typed, budgetOf(await ledger.status(dataset)));
    if (!fresh.ok) {
      void vscode.window.showErrorMessage(`Private Few-Shot: ${fresh.message}`);
      return;
    }
    await ledger.setTotal(dataset, { epsilon });
    const after = budgetOf(await ledger.status(dataset));
    deps.onChanged({ file, name, budget: after });
    deps.log.info(
      `Privacy budget of ${name}: total ε ${fmt(current.total)} → ${fmt(after.total)} (spent ${fmt(after.spent)}).`,
    );
    void vscode.window.showInformationMessage(
      `Private Few-Shot: the total ε of ${name} is now ${fmt(after.total)}; spent ${fmt(after.spent)}, remaining ${fmt(Math.max(0, after.remaining))}.`,
    );
  } catch (e) {
    // Ledger.setTotal's own refusals (and load or ledger errors) are shown with their text and hint.
    const message = e instanceof UserError ? e.describe() : `Unexpected error: ${(e as Error).message}`;
    deps.log.warn(`Set budget (${name}): ${message}`);
    void vscode.window.showErrorMessage(`Private Few-Shot: ${message}`);
  }
}
