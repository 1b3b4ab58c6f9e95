import * as vscode from 'vscode';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { DataError, UserError } from '../../core/errors';
import { evaluateInContext, type InContextResult } from '../../core/evaluate/incontext';
import { planInContext } from '../../core/evaluate/plan';
import { EVALUATION_NOTE } from '../../core/evaluate/report';
import { createSplit } from '../../core/evaluate/split';
import { LEDGER_DIR } from '../../core/ledger';
import { parseWebviewMessage, type EvaluateCondition, type HostMessage } from '../../shared/protocol';
import type { Config } from '../config';
import { ledgerRootFor } from '../datasetLedger';
import { providerFromSettings } from '../providers/settings';
import { datasetArgument, pickDataset } from '../setBudget';
import { createWebviewPanel } from './webviewPanel';

export interface EvaluateDeps {
  extensionUri: vscode.Uri;
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  config: Config;
}

/**
 * The Evaluate panel: runs `evaluate --demos` for a dataset and a release or run, and draws accuracy with its 95%
 * interval per condition. Local only, not private (core/evaluate/report.ts): the results stay in this panel.
 */
export class EvaluatePanel {
  static readonly viewType = 'privateFewShot.evaluate';
  private state: HostMessage | undefined;

  private constructor(readonly panel: vscode.WebviewPanel) {
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      const msg = parseWebviewMessage(raw);
      if (msg?.type === 'ready' && this.state) void panel.webview.postMessage(this.state);
    });
  }

  post(message: HostMessage): void {
    this.state = message;
    void this.panel.webview.postMessage(message);
  }

  static async run(deps: EvaluateDeps, file: vscode.Uri, refs: string[]): Promise<void> {
    const name = vscode.workspace.asRelativePath(file, false);
    const panel = createWebviewPanel(deps.extensionUri, {
      viewType: EvaluatePanel.viewType,
      tab: `Evaluate: ${path.basename(file.fsPath)}`,
      kind: 'evaluate',
      title: 'Private Few-Shot: evaluate',
    });
    const p = new EvaluatePanel(panel);
    const controller = new AbortController();
    panel.onDidDispose(() => controller.abort());
    p.post({ type: 'loading', file: name });
    try {
      const root = ledgerRootFor(file);
      const ds = await deps.config.loadDataset(file, root);
      const provider = await providerFromSettings(deps.context);
      const plan = await planInContext({ ds, ledgerDir: path.join(root, LEDGER_DIR), ref: refs, cwd: root, provider });
      const demos = refs.map((r) => (path.isAbsolute(r) ? path.relative(root, r) : r)).join(', ');
      p.post({ type: 'evaluatePlan', file: name, demos, lines: plan.lines });
      if (plan.view.rowsWithinCap === 0) throw new UserError('the call cap is below what one row may need');
      if (!provider.offline) {
        const go = await vscode.window.showWarningMessage(
          `Evaluate with ${provider.kind}/${provider.model}? About ${plan.view.typicalCalls} calls (at most ${plan.view.maxCallsNeeded}, capped at ${plan.maxCalls}), cost ${plan.view.costUSD === null ? 'unknown' : `≈ $${plan.view.costUSD.toFixed(2)}`}. The held-out rows are sent to the model.`,
          { modal: true },
          'Evaluate',
        );
        if (go !== 'Evaluate') {
          panel.dispose();
          return;
        }
      }
      const started = Date.now();
      const result = await evaluateInContext({
        provider,
        mode: plan.mode,
        labels: plan.labels,
        conditions: plan.conditions,
        rows: plan.rows,
        topK: plan.topK,
        maxCalls: plan.maxCalls,
        signal: controller.signal,
      });
      deps.log.info(`Evaluate (${name}): ${result.calls} calls in ${Date.now() - started} ms (local diagnostic).`);
      p.post(resultMessage(name, demos, provider, result));
    } catch (e) {
      if (controller.signal.aborted) return;
      if (e instanceof UserError) {
        p.post({
          type: 'error',
          file: name,
          message: e.message,
          hint: e.hint,
          line: e instanceof DataError ? e.line : undefined,
        });
        deps.log.warn(`Evaluate (${name}): ${e.message}`);
      } else {
        p.post({ type: 'error', file: name, message: `Unexpected error: ${(e as Error).message}` });
        deps.log.error(e as Error);
      }
    }
  }
}

const finite = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : x);

function resultMessage(
  file: string,
  demos: string,
  provider: { kind: string; model: string; offline: boolean },
  r: InContextResult,
): HostMessage {
  const cell = (a: { accuracy: number; low: number; high: number; correct: number; n: number }) => ({
    accuracy: finite(a.accuracy),
    low: a.low,
    high: a.high,
    correct: a.correct,
    n: a.n,
  });
  const conditions: EvaluateCondition[] = r.conditions.map((c) => ({
    kind: c.kind,
    name: c.name,
    epsilon: finite(c.epsilon),
    ...cell(c.overall),
    unanswered: c.unanswered,
    perLabel: c.perLabel.map((l) => ({ label: l.label, ...cell(l) })),
  }));
  return {
    type: 'evaluateResult',
    file,
    demos,
    note: EVALUATION_NOTE,
    model: { kind: provider.kind, model: provider.model, offline: provider.offline },
    mode: r.mode,
    rowsEvaluated: r.rowsEvaluated,
    rowsPlanned: r.rowsPlanned,
    calls: r.calls,
    stoppedAtCap: r.stoppedAtCap,
    conditions,
  };
}

/** The demonstrations to evaluate: release files in the workspace and the runs of the dataset's ledger. */
async function pickDemonstrations(file: vscode.Uri): Promise<string | undefined> {
  const root = ledgerRootFor(file);
  const files = await vscode.workspace.findFiles('**/*.{json,jsonl}', '**/{node_modules,.private-fewshot}/**', 200);
  let runs: string[] = [];
  try {
    runs = readdirSync(path.join(root, LEDGER_DIR, 'runs'))
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => f.slice(0, -'.jsonl'.length));
  } catch {
    // no runs yet
  }
  const items = [
    ...files
      .filter((u) => u.fsPath !== file.fsPath)
      .map((u) => ({ label: vscode.workspace.asRelativePath(u, false), description: 'file', ref: u.fsPath })),
    ...runs.map((id) => ({ label: id, description: 'run', ref: id })),
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Evaluate: which demonstrations? (a release written by Generate/Export, or a run)',
    placeHolder: 'demos.json, demos.jsonl or a run id',
  });
  return picked?.ref;
}

/**
 * `privateFewShot.evaluateRun`: evaluates runs or release files on a dataset's held-out split. Arguments (all
 * optional; asked for when missing): a dataset Uri and a run id or file path (or a list of them: one DP condition
 * each, for accuracy against ε), or one object { dataset, run | runs | file | files } (for the Runs view).
 */
export async function evaluateCommand(deps: EvaluateDeps, a?: unknown, b?: unknown): Promise<void> {
  // A run id or path, a Uri, a list, or a run of the Runs view (views/runsModel.ts PastRun: its id).
  const refsOf = (v: unknown): string[] =>
    typeof v === 'string'
      ? [v]
      : v instanceof vscode.Uri
        ? [v.fsPath]
        : Array.isArray(v)
          ? v.flatMap(refsOf)
          : v && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string'
            ? [(v as { id: string }).id]
            : [];
  let dataset: vscode.Uri | undefined;
  let refs: string[];
  if (a && typeof a === 'object' && !(a instanceof vscode.Uri)) {
    const o = a as { dataset?: unknown; run?: unknown; runs?: unknown; file?: unknown; files?: unknown };
    dataset = datasetArgument(o.dataset);
    refs = [o.run, o.runs, o.file, o.files].flatMap(refsOf);
  } else {
    dataset = datasetArgument(a);
    // From the explorer the second argument is the list of selected files (Uris, the dataset among them): only a
    // single Uri or run ids / paths as strings name demonstrations here.
    refs = b instanceof vscode.Uri ? [b.fsPath] : (Array.isArray(b) ? b : [b]).filter((x) => typeof x === 'string');
  }
  const file = await pickDataset(dataset, 'Evaluate on this dataset');
  if (!file) return;
  if (refs.length === 0) {
    const picked = await pickDemonstrations(file);
    if (!picked) return;
    refs = [picked];
  }
  await EvaluatePanel.run(deps, file, refs);
}

/** `privateFewShot.splitDataset`: holds out a part of a dataset for evaluation (core/evaluate/split.ts). */
export async function splitCommand(deps: EvaluateDeps, target?: unknown): Promise<void> {
  const file = await pickDataset(datasetArgument(target), 'Hold out part of this dataset');
  if (!file) return;
  const answer = await vscode.window.showInputBox({
    title: 'Hold out part of the dataset for evaluation',
    prompt:
      'Fraction of records held out (each record on its own, by a keyed hash with a random seed). Generation then reads only the rest; the split is fixed once made.',
    value: '0.2',
    validateInput: (v) => (Number(v) > 0 && Number(v) < 1 ? undefined : 'A fraction between 0 and 1, e.g. 0.2'),
  });
  if (answer === undefined) return;
  try {
    const root = ledgerRootFor(file);
    const ds = await deps.config.loadDataset(file, root);
    const made = createSplit(path.join(root, LEDGER_DIR), ds.identity.path, Number(answer));
    void vscode.window.showInformationMessage(
      `${made.created ? 'Held out' : 'Already held out'} ${Number(answer) * 100}% of ${vscode.workspace.asRelativePath(file, false)} for evaluation; generation reads only the rest.`,
    );
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    void vscode.window.showErrorMessage(`${e.message}${e.hint ? ` — ${e.hint}` : ''}`);
  }
}
