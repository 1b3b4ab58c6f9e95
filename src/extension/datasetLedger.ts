// Where a dataset's ledger lives and how its budget is shown: for the panels, Set Privacy Budget… and the status bar.
import * as vscode from 'vscode';
import { locateLedger, type BudgetStatus } from '../core/ledger';
import type { BudgetMessage } from '../shared/protocol';

/** What the status bar shows: the budget of the last dataset inspected or generated for. */
export interface BudgetUpdate {
  file: vscode.Uri;
  name: string;
  budget: BudgetMessage;
}

/**
 * Where the ledger lives for a file: the same rule as the CLI (core/ledger/locate.ts): the nearest existing
 * .private-fewshot/ above the file, else its workspace folder or repository root, else the file's folder.
 */
export function ledgerRootFor(file: vscode.Uri): string {
  return locateLedger(file.fsPath, { workspaceFolder: vscode.workspace.getWorkspaceFolder(file)?.uri.fsPath }).root;
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
