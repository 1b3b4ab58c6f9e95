import * as vscode from 'vscode';
import type { BudgetUpdate } from './datasetLedger';
import { formatDelta, formatEpsilon } from '../shared/format';

/**
 * The remaining privacy budget (ε) of the last dataset inspected or generated for; a click opens its Generate panel.
 * It also follows ledger writes made outside the editor (the CLI, another window): a watcher on
 * .private-fewshot/ledger.jsonl re-reads the budget of the shown dataset.
 */
export class BudgetStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    'privateFewShot.budget',
    vscode.StatusBarAlignment.Right,
    100,
  );
  private readonly watcher = vscode.workspace.createFileSystemWatcher('**/.private-fewshot/ledger.jsonl');
  private refresh: (() => Promise<BudgetUpdate>) | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** The dataset shown. */
  dataset: vscode.Uri | undefined;

  constructor(
    private readonly onError: (message: string) => void = () => {},
    private readonly onRefreshed: (u: BudgetUpdate) => void = () => {},
  ) {
    this.item.name = 'Private Few-Shot: privacy budget';
    const changed = () => this.scheduleRefresh();
    this.watcher.onDidChange(changed);
    this.watcher.onDidCreate(changed);
  }

  /** How to re-read the shown dataset's budget when its ledger changes on disk. */
  follow(refresh: () => Promise<BudgetUpdate>): void {
    this.refresh = refresh;
  }

  private scheduleRefresh(): void {
    if (!this.refresh) return;
    clearTimeout(this.timer);
    const refresh = this.refresh;
    this.timer = setTimeout(() => {
      refresh().then(
        (u) => {
          if (this.refresh !== refresh) return;
          this.update(u);
          this.onRefreshed(u);
        },
        (e: unknown) => this.onError(`Could not re-read the privacy budget: ${(e as Error).message}`),
      );
    }, 300);
  }

  update(u: BudgetUpdate): void {
    const f = formatEpsilon;
    const remaining = Math.max(0, u.budget.remaining);
    this.item.text = `$(shield) ε ${remaining.toFixed(2)} left`;
    // Command links take the dataset as a URI string (setBudget accepts one); only these two commands may run.
    const arg = encodeURIComponent(JSON.stringify([u.file.toString()]));
    const tooltip = new vscode.MarkdownString(
      `Privacy budget of ${escapeMarkdown(u.name)}: total ε ${f(u.budget.total)} (δ ${formatDelta(u.budget.delta)}), spent ${f(u.budget.spent)}, remaining ${f(remaining)}${u.budget.asPlanned !== undefined && Math.abs(u.budget.asPlanned - u.budget.spent) > 1e-9 ? ` (budget filter; ε ${f(u.budget.asPlanned)} if all runs had been planned in advance)` : ''}.\n\n` +
        `[$(sparkle) Generate…](command:privateFewShot.generateDemonstrations?${arg} "Open the Generate panel") · [$(shield) Set Privacy Budget…](command:privateFewShot.setBudget?${arg} "Change the total ε")`,
      true,
    );
    tooltip.isTrusted = { enabledCommands: ['privateFewShot.generateDemonstrations', 'privateFewShot.setBudget'] };
    this.item.tooltip = tooltip;
    this.dataset = u.file;
    this.item.command = {
      title: 'Generate DP Demonstrations…',
      command: 'privateFewShot.generateDemonstrations',
      arguments: [u.file],
    };
    this.item.backgroundColor = remaining <= 0 ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.watcher.dispose();
    this.item.dispose();
  }
}

/** Escapes Markdown syntax in a file name shown in the tooltip. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~$]/g, '\\$&');
}
