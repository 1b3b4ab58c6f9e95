import { existsSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { LEDGER_DIR, BudgetExceededError } from '../../core/ledger';
import { FEWSHOT_DEFAULTS, planFewShot } from '../../core/fewshot/plan';
import { fewShotDataFlow, flowParty, providerEndpoint } from '../../core/providers/endpoint';
import { NO_LOGPROBS_FIX, ProviderError } from '../../core/providers';
import { fewShotTraffic } from '../../core/traffic';
import { prepareFewShot, type PreparedFewShot } from '../../core/fewshot/prepare';
import { runInWorker } from '../../core/worker/host';
import { modelRefOf } from '../../core/worker/protocol';
import { GENERATE_PRESETS, balanced } from '../../shared/presets';
import type { Provider } from '../../core/providers/types';
import { editorExportFormat, type FewShotRelease, type ReleaseFormat } from '../../core/release';
import type {
  BudgetMessage,
  GenerateSettings,
  HostMessage,
  ProgressRow,
  ProgressTotals,
  WebviewMessage,
} from '../../shared/protocol';
import { providerFromSettings } from '../providers/settings';
import { fewShotResultMessage } from './release';
import { RunProgress } from './progress';
import { RunPanel, type Loaded, type PanelBoard, type RunPanelSpec } from './runPanelHost';
import { withLargestFit } from './problems';

const SPEC: RunPanelSpec = {
  kind: 'generate',
  viewType: 'privateFewShot.generate',
  action: 'Generate',
  title: 'Private Few-Shot: generate demonstrations',
  initType: 'generateInit',
  planType: 'plan',
  exportTitle: 'Export demonstrations',
  exportFile: 'demonstrations.jsonl',
};

/**
 * The Generate panel for DP few-shot demonstrations (Tang et al. 2024). One per dataset file (the frame is the shared
 * run-panel host, runPanelHost.ts). The host does all the work (load, plan, ledger, model calls); the webview gets
 * the label names for the form (local display), the plan's figures and the released demonstrations (DP output).
 * Never rows, prompts or keys.
 */
export class GeneratePanel extends RunPanel<GenerateSettings, FewShotRelease> {
  static readonly spec = SPEC;

  /** The rows of the current or last run (replayed to a reloaded webview). */
  private progress: RunProgress | undefined;

  protected initMessage(loaded: Loaded, budget: BudgetMessage, provider: Provider): HostMessage {
    return {
      type: 'generateInit',
      ...this.formBasics(loaded, budget, provider),
      // The Balanced preset (src/shared/presets.ts): no plan warning on the example data.
      defaults: balanced(GENERATE_PRESETS).values,
    };
  }

  protected async onRunMessage(msg: WebviewMessage): Promise<void> {
    if (msg.type === 'preview') await this.preview(msg.settings);
    else if (msg.type === 'generate') await this.generate(msg.settings);
  }

  protected progressSnapshot(): HostMessage | undefined {
    return this.progress && this.progressMessage(this.progress.snapshot());
  }

  protected describe(r: FewShotRelease): string {
    return `${r.demonstrations.length} demonstration(s)`;
  }

  private async prepare(s: GenerateSettings): Promise<{ prepared: PreparedFewShot; loaded: Loaded }> {
    const { loaded, labels } = this.loadedFor(s);
    const settings = { labels, shots: s.shots, epsilon: s.epsilon, prompts: s.prompts, maxTokens: s.maxTokens };
    const prepared = await prepareFewShot(loaded.ds, loaded.ledger, settings, loaded.summary);
    return { prepared, loaded };
  }

  /** The largest ε for this run that the ledger admits (runPanelHost.ts largestFit). */
  private largestFitOf(prep: { prepared: PreparedFewShot; loaded: Loaded }): Promise<number | undefined> {
    return this.largestFit(prep, (ds, epsilon) => planFewShot(ds, { ...prep.prepared.plan.settings, epsilon }));
  }

  protected async preview(s: GenerateSettings, wanted: () => boolean = () => true): Promise<void> {
    const prep = await this.prepare(s);
    const { prepared, loaded } = prep;
    // Preview plan checks the endpoint first (the probe sends fixed public text only).
    const provider = await providerFromSettings(this.deps.context);
    const caps = await this.probeEndpoint(provider);
    if (caps && !caps.nextTokenLogprobs) {
      // Said before the plan, with the endpoint buttons (Use the Built-in Model is one way out).
      throw new ProviderError(
        'no-logprobs',
        `${provider.kind}/${provider.model} returns no next-token logprobs, which DP few-shot needs`,
        caps.notes.join(' ') || NO_LOGPROBS_FIX,
        { provider: provider.kind, url: providerEndpoint(provider) },
      );
    }
    const endpointChecked = caps !== undefined;
    const largestFit = prepared.check.fits ? undefined : await this.largestFitOf(prep);
    if (!wanted()) return;
    const { plan } = prepared;
    const dataFlow = fewShotDataFlow(flowParty(provider));
    // Calls and completion tokens from public parameters; prompt tokens and cost from the private texts' mean
    // length: a local diagnostic, labelled so in the view.
    const traffic = provider.offline ? undefined : fewShotTraffic(plan, loaded.summary.textLength.mean, provider.model);
    this.post(
      {
        type: 'plan',
        epsilonRun: plan.epsilonRun,
        delta: plan.settings.delta,
        countRelease: { sigma: plan.counts.sigma, epsilon: plan.counts.epsilon, share: plan.settings.countShare },
        labels: plan.labels.map((l) => ({ label: l.label, steps: l.steps })),
        ...this.planFigures(s, prepared, { largestFit, dataFlow, traffic, endpointChecked }),
      },
      'latest',
    );
  }

  private async generate(s: GenerateSettings): Promise<void> {
    this.checkCanRun('private rows', 'Generate again');
    this.progress = undefined;
    const prep = await this.prepare(s);
    const { prepared, loaded } = prep;
    const { plan, check, target, status: before } = prepared;
    if (!check.fits)
      throw withLargestFit(new BudgetExceededError(check, this.name, plan.ledgerPlan), await this.largestFitOf(prep));
    // The run goes to a worker thread (core/worker/): the built-in model's CPU work never blocks the editor, and its
    // calls yield to the worker's event loop (createProvider wraps it), so Cancel is handled at once.
    const provider = await providerFromSettings(this.deps.context);
    const started = Date.now();
    const ledgerDir = path.join(loaded.ledger.workspaceRoot, LEDGER_DIR);
    const ledgerExisted = existsSync(ledgerDir);
    this.deps.log.info(
      `Generating ${plan.settings.labels.length} label(s) × ${plan.settings.shots} shot(s) for ${this.name} with ${provider.kind}/${provider.model}.`,
    );
    // One row per demonstration; the demonstration so far is DP output (safe to show).
    const rows = new RunProgress(plan.settings.labels.length * plan.settings.shots);
    this.progress = rows;
    const board: PanelBoard = {
      get pending() {
        return rows.pending;
      },
      take: (running) => this.progressMessage(rows.take(), running),
      summary: (m) => {
        const t = m.type === 'progress' ? m.totals : undefined;
        return t ? `${t.done} of ${t.planned} done, ${t.started - t.done} in flight, ${t.calls} calls` : '';
      },
    };
    try {
      const { result, after } = await this.runFramed({
        title: `generating demonstrations for ${this.name}`,
        board,
        target,
        run: (signal, changed) =>
          runInWorker({
            workerFile: path.join(this.deps.extensionUri.fsPath, 'dist', 'run-worker.js'),
            job: {
              algorithm: 'dp-few-shot',
              dataset: loaded.ds,
              plan,
              units: target.units,
              root: loaded.ledger.workspaceRoot,
              generator: modelRefOf(provider),
              lookahead: provider.offline ? FEWSHOT_DEFAULTS.lookahead : 1,
              // The built-in model computes on one thread, so writing a label's shots at once buys no time, and a
              // cancel would charge every started shot (all of them). Network models: all at once (the core default).
              ...(provider.offline ? { shotConcurrency: 1 } : {}),
            },
            // The ledger and a model with a key or the editor's API stay here; the worker reaches them by calls.
            ledger: loaded.ledger,
            models: { generator: provider },
            signal,
            // Warnings from the noisy pool counts (DP outputs), e.g. q = 1 or weak signal.
            onWarnings: (ws) => ws.forEach((w) => this.deps.log.warn(w)),
            onProgress: (p) => {
              rows.update(p);
              changed();
            },
          }),
      });
      const { release, message: shown } = fewShotResultMessage(
        { plan, result },
        this.ledgered(before, after, result, {
          failed: 'What was written is kept and charged.',
          cancelled: 'Cancelled: the demonstrations written so far are kept and charged.',
        }),
      );
      this.settled(release, shown, after, result.checkpoint);
      this.deps.log.info(
        `Generate ${this.name}: ${result.status}, ${result.demonstrations.length} demonstration(s), ε planned ${result.reservation.epsilonRun.toFixed(3)}, budget used ${(after.spent - before.spent).toFixed(3)}; local only, not private: ${result.report.usage.calls} calls, ${Date.now() - started} ms.`,
      );
    } finally {
      if (!ledgerExisted && existsSync(ledgerDir)) this.deps.log.info(`Created the privacy ledger at ${ledgerDir}.`);
    }
  }

  /** A batch of progress rows; `running` false marks the final state (the view stops showing a run in flight). */
  private progressMessage(
    batch: { reset: boolean; rows: ProgressRow[]; totals: ProgressTotals },
    running = this.running !== undefined,
  ): HostMessage {
    return { type: 'progress', running, ...batch };
  }

  /** JSON is either the release or chat messages: the user picks. */
  protected override async exportFormat(target: vscode.Uri): Promise<ReleaseFormat | undefined> {
    if (editorExportFormat(target.path) !== 'json') return editorExportFormat(target.path);
    const pick = await vscode.window.showQuickPick(
      [
        {
          label: 'Demonstrations and public run parameters',
          description: 'the release: demonstrations, ε, δ, σ, model, settings (no usage or dataset details)',
          json: 'release' as const,
        },
        {
          label: 'Chat messages',
          description: 'OpenAI messages: user = text, assistant = label',
          json: 'chat' as const,
        },
      ],
      { title: 'Export as which JSON?' },
    );
    return pick && editorExportFormat(target.path, pick.json);
  }
}
