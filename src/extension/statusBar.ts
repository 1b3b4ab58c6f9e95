import * as vscode from 'vscode';
import type { BudgetUpdate } from './panels/generatePanel';

/** The remaining privacy budget (ε) of the last dataset inspected or generated for; a click opens its Generate panel. */
export class BudgetStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('privateFewShot.budget', vscode.StatusBarAlignment.Right, 100);

  constructor() {
    this.item.name = 'Private Few-Shot: privacy budget';
  }

  update(u: BudgetUpdate): void {
    const f = (x: number) => Number(x.toFixed(3)).toString();
    const remaining = Math.max(0, u.budget.remaining);
    this.item.text = `$(shield) ε ${remaining.toFixed(2)} left`;
    this.item.tooltip = `Privacy budget of ${u.name}: total ε ${f(u.budget.total)} (δ ${u.budget.delta.toPrecision(3)}), spent ${f(u.budget.spent)}, remaining ${f(remaining)}. Click to generate demonstrations.`;
    this.item.command = { title: 'Generate DP Demonstrations…', command: 'privateFewShot.generateDemonstrations', arguments: [u.file] };
    this.item.backgroundColor = remaining <= 0 ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
