import path from 'node:path';
import * as vscode from 'vscode';
import { AUGPE_DEFAULTS, prepareAugPe, type PreparedAugPe } from '../../core/augpe';
import { planAugPe } from '../../core/augpe/plan';
import { largestEpsilonFor } from '../../core/largest-fit';
import { augPeDataFlow, providerEndpoint } from '../../core/providers/endpoint';
import { augPeTraffic } from '../../core/traffic';
import { UserError } from '../../core/errors';
import { BudgetExceededError, defaultRecordIndex } from '../../core/ledger';
import { BUILTIN_MODEL_ID } from '../../core/providers/builtin';
import type { Provider } from '../../core/providers/types';
import { localJournalPath, type AugPeRelease } from '../../core/release';
import type { BudgetMessage, HostMessage, SynthSettings, WebviewMessage } from '../../shared/protocol';
import { budgetOf } from '../datasetLedger';
import { providerConfigFromSettings, providerFromSettings } from '../providers/settings';
import { augPeResultMessage } from './release';
import { Throttle } from './progress';
import { RunPanel, type Loaded, type RunPanelDeps, type RunPanelSpec } from './runPanelHost';
import { runInWorker, SynthProgressBoard, WorkerRunError, type WorkerInput } from './synthRun';

/** Providers whose API offers no embeddings (Anthropic; the editor's language models): only the built-in embedder can
 * run. */
const NO_EMBEDDINGS = ['anthropic', 'vscode-lm'];
const BUILTIN_EMBEDDER = { kind: 'builtin', model: BUILTIN_MODEL_ID, offline: true };

const SPEC: RunPanelSpec = {
  kind: 'synth',
  viewType: 'privateFewShot.synthesize',
  action: 'Synthesize',
  title: 'Private Few-Shot: synthetic records (Aug-PE)',
  initType: 'synthInit',
  planType: 'synthPlan',
  exportTitle: 'Export synthetic records',
  exportFile: 'synthetic-records.jsonl',
};

/**
 * The Synthesize panel: synthetic labelled records by Aug-PE (Xie et al., ICML 2024; docs/AUGPE.md). One per dataset
 * file, built like the Generate panel (form, plan preview, budget, progress, Cancel, Insert / Export… / Copy). The
 * run itself goes to a worker thread (synthRun.ts): the vote histograms and the built-in model are synchronous CPU
 * work that would otherwise freeze the extension host. The webview gets the label names (local display), the plan's
 * figures with the private row counts (local display) and the released records (DP output); never rows or keys.
 */
export class SynthPanel extends RunPanel<SynthSettings, AugPeRelease> {
  static readonly viewType = SPEC.viewType;

  private board: SynthProgressBoard | undefined;

  static show(deps: RunPanelDeps, file: vscode.Uri): SynthPanel {
    return RunPanel.open(SPEC, deps, file, (panel) => new SynthPanel(panel, deps, file));
  }

  private constructor(panel: vscode.WebviewPanel, deps: RunPanelDeps, file: vscode.Uri) {
    super(SPEC, panel, deps, file);
  }

  protected initMessage(loaded: Loaded, budget: BudgetMessage, provider: Provider): HostMessage {
    const providerEmbeds = !NO_EMBEDDINGS.includes(provider.kind);
    return {
      type: 'synthInit',
      file: this.name,
      labels: loaded.summary.labels.map((l) => l.label),
      provider: { kind: provider.kind, model: provider.model, offline: provider.offline },
      providerEmbeds,
      budget,
      // The provider's own embeddings by default (as the CLI's --embedder same); the form says where rows go.
      defaults: {
        count: 10,
        epsilon: 1,
        iterations: AUGPE_DEFAULTS.iterations,
        variations: AUGPE_DEFAULTS.variations,
        embedder: providerEmbeds ? 'same' : 'builtin',
      },
    };
  }

  protected async onRunMessage(msg: WebviewMessage): Promise<void> {
    // The Generate panel's own messages (preview, generate) do not apply here.
    if (msg.type === 'synthPreview') await this.preview(msg.settings);
    else if (msg.type === 'synthRun') await this.synthesize(msg.settings);
  }

  protected progressSnapshot(): HostMessage | undefined {
    return this.board?.snapshot(this.running !== undefined);
  }

  protected describe(r: AugPeRelease): string {
    return `${r.records.length} record(s)`;
  }

  /** A refusal by the budget inside the worker is one too (it offers Set Privacy Budget…). */
  protected override isBudgetRefusal(e: unknown): e is UserError {
    return super.isBudgetRefusal(e) || (e instanceof WorkerRunError && e.budget);
  }

  private async prepare(s: SynthSettings): Promise<{ prepared: PreparedAugPe; loaded: Loaded }> {
    const { loaded, labels } = this.loadedFor(s);
    const { count, epsilon, iterations, variations } = s;
    const settings = { labels, count, epsilon, iterations, variations };
    const prepared = await prepareAugPe(loaded.ds, loaded.ledger, settings, loaded.summary);
    return { prepared, loaded };
  }

  /** The generator and the embedder a run with `s` would use (for the plan and the run). */
  private async models(s: SynthSettings) {
    const provider = await providerFromSettings(this.deps.context);
    const generator = { kind: provider.kind, model: provider.model, offline: provider.offline };
    if (s.embedder === 'same' && NO_EMBEDDINGS.includes(provider.kind)) {
      throw new UserError(
        `${provider.kind}/${provider.model} offers no embeddings, which Aug-PE needs`,
        'Choose "Built-in embedder" in the form (private rows then stay on this machine), or an OpenAI-compatible provider with an embedding model.',
      );
    }
    const embedder = s.embedder === 'builtin' || provider.kind === 'builtin' ? BUILTIN_EMBEDDER : generator;
    return { provider, generator, embedder };
  }

  /** The largest ε for this run that the ledger admits, for a refused plan (reads only). */
  private largestFit({ prepared, loaded }: { prepared: PreparedAugPe; loaded: Loaded }): Promise<number | undefined> {
    const { plan, target } = prepared;
    return largestEpsilonFor(loaded.ledger, target, plan.settings.epsilon, (epsilon) =>
      planAugPe(loaded.ds, { ...plan.settings, epsilon }),
    );
  }

  protected async preview(s: SynthSettings, wanted: () => boolean = () => true): Promise<void> {
    const prep = await this.prepare(s);
    const { prepared, loaded } = prep;
    const { provider, generator, embedder } = await this.models(s);
    // Preview plan checks the endpoint first (the probe sends fixed public text only).
    const endpointChecked = (await this.probeEndpoint(provider)) !== undefined;
    const largestFit = prepared.check.fits ? undefined : await this.largestFit(prep);
    if (!wanted()) return;
    const { plan } = prepared;
    const url = providerEndpoint(provider);
    const dataFlow = augPeDataFlow(
      { ...generator, endpoint: url },
      { ...embedder, endpoint: embedder.offline ? undefined : url },
    );
    // Calls and completion tokens from public parameters; prompt tokens, the private embeddings and the cost from
    // the private rows: a local diagnostic, labelled so in the view.
    const traffic = provider.offline
      ? undefined
      : augPeTraffic(
          plan,
          loaded.summary.textLength.mean,
          generator.model,
          embedder.offline ? undefined : embedder.model,
        );
    this.post(
      {
        type: 'synthPlan',
        epsilonRun: plan.epsilonRun,
        delta: plan.settings.delta,
        sigma: plan.sigma,
        mu: plan.mu,
        iterations: plan.settings.iterations,
        variations: plan.settings.variations,
        labels: plan.labels.map((l) => ({
          label: l.label,
          count: l.count,
          population: l.population,
          rows: l.rows,
          units: l.units,
        })),
        wholeDataset: plan.sequential,
        estimate: plan.estimate,
        generator,
        embedder,
        ...this.checked(s, prepared),
        ...(largestFit !== undefined ? { largestFit } : {}),
        dataFlow,
        ...(traffic ? { traffic } : {}),
        ...(endpointChecked ? { endpointChecked } : {}),
      },
      'latest',
    );
  }

  private async synthesize(s: SynthSettings): Promise<void> {
    this.checkCanRun('text', 'run again');
    this.board = undefined;
    const prep = await this.prepare(s);
    const { prepared, loaded } = prep;
    const { plan, check, target, status: before } = prepared;
    if (!check.fits)
      throw this.refusedWith(new BudgetExceededError(check, this.name, plan.ledgerPlan), await this.largestFit(prep));
    const { provider, generator, embedder } = await this.models(s);
    const config = await providerConfigFromSettings(this.deps.context);
    const input: WorkerInput = {
      dataset: loaded.ds,
      plan,
      units: target.units,
      root: loaded.root,
      generator: config.kind === 'vscode-lm' ? { host: generator } : { config },
      embedder: s.embedder,
      ...(defaultRecordIndex() ? { indexDir: defaultRecordIndex()!.dir } : {}),
    };
    const controller = new AbortController();
    this.running = controller;
    const started = Date.now();
    this.deps.log.info(
      `Synthesizing ${plan.settings.count} record(s) over ${plan.labels.length} label(s) for ${this.name}, T ${plan.settings.iterations}, with ${generator.kind}/${generator.model}; embedder ${embedder.kind}/${embedder.model}.`,
    );
    const board = new SynthProgressBoard(plan.labels, plan.settings.iterations);
    this.board = board;
    const throttle = new Throttle(100, () => {
      const running = this.running === controller;
      if (running && !board.pending) return;
      const m = board.take(running);
      this.report?.(`iteration ${m.iteration} of ${m.iterations}, ${m.histograms} histogram(s), ${m.calls} calls`);
      this.post(m);
    });
    throttle.flushNow();
    try {
      const result = await this.inNotification(`synthesizing records for ${this.name}`, controller, () =>
        runInWorker({
          workerFile: path.join(this.deps.extensionUri.fsPath, 'dist', 'augpe-worker.js'),
          input,
          // vscode.lm exists only in the extension host: the worker sends its (synthetic-only) requests here.
          hostGenerator: config.kind === 'vscode-lm' ? provider : undefined,
          signal: controller.signal,
          onProgress: (p) => {
            board.update(p);
            throttle.poke();
          },
        }),
      );
      this.running = undefined;
      board.finish(result.status);
      throttle.flushNow();
      const after = await loaded.ledger.status(target);
      const message =
        result.status === 'failed'
          ? `The run stopped early: ${result.error?.message ?? 'unknown error'}. The last selected records are kept, and the ${result.histograms} histogram(s) that ran are charged.`
          : result.status === 'cancelled'
            ? `Cancelled after ${result.histograms} of ${plan.settings.iterations} histogram(s): the last selected records are kept, and only those histograms are charged.`
            : undefined;
      const { release, message: shown } = augPeResultMessage(
        { plan, result },
        {
          budgetUsed: Math.max(0, after.spent - before.spent),
          budget: budgetOf(after),
          journal: path.relative(loaded.root, localJournalPath(result.checkpoint)),
          message,
        },
      );
      this.settled(release, shown, after);
      this.deps.log.info(
        `Synthesize ${this.name}: ${result.status}, ${result.records.length} record(s), ${result.histograms} of ${plan.settings.iterations} histogram(s), ε charged ${result.epsilonCharged.toFixed(3)}; local only, not private: ${result.report.usage.calls} calls, ${Date.now() - started} ms.`,
      );
    } catch (e) {
      // Refused or crashed in the worker: the rows stop spinning, and the budget is re-read (a crash after the
      // reservation leaves it charged in full).
      this.running = undefined;
      board.finish('failed');
      throttle.flushNow();
      const after = await loaded.ledger.status(target).catch(() => undefined);
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
}
