import { existsSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import {
  DOMAIN_FILE,
  domainDeclaration,
  ensureDomainFile,
  loadAugPeResume,
  loadDomain,
  prepareAugPe,
  resumePlan,
  type PreparedAugPe,
} from '../../core/augpe';
import { runsDir } from '../../core/runs/checkpoint';
import { planAugPe } from '../../core/augpe/plan';
import { augPeDataFlow, providerEndpoint } from '../../core/providers/endpoint';
import { augPeTraffic } from '../../core/traffic';
import { UserError } from '../../core/errors';
import { BudgetExceededError } from '../../core/ledger';
import { SYNTH_PRESETS, balanced, presetCount } from '../../shared/presets';
import { BUILTIN_MODEL_ID } from '../../core/providers/builtin';
import type { Provider } from '../../core/providers/types';
import type { AugPeRelease } from '../../core/release';
import type { BudgetMessage, HostMessage, SynthSettings, WebviewMessage } from '../../shared/protocol';
import { providerFromSettings } from '../providers/settings';
import { augPeResultMessage } from './release';
import { RunPanel, type Loaded, type RunPanelSpec } from './runPanelHost';
import { withLargestFit } from './problems';
import { runInWorker } from '../../core/worker/host';
import { modelRefOf } from '../../core/worker/protocol';
import { SynthProgressBoard } from './synthProgress';

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
 * run itself goes to a worker thread (core/worker/): the vote histograms and the built-in model are synchronous CPU
 * work that would otherwise freeze the extension host. The webview gets the label names (local display), the plan's
 * figures with the private row counts (local display) and the released records (DP output); never rows or keys.
 */
export class SynthPanel extends RunPanel<SynthSettings, AugPeRelease> {
  static readonly spec = SPEC;

  private board: SynthProgressBoard | undefined;

  protected initMessage(loaded: Loaded, budget: BudgetMessage, provider: Provider): HostMessage {
    const providerEmbeds = !NO_EMBEDDINGS.includes(provider.kind);
    return {
      type: 'synthInit',
      ...this.formBasics(loaded, budget, provider),
      providerEmbeds,
      domain: domainInfo(loaded.root),
      // The provider's own embeddings by default (as the CLI's --embedder same); the form says where rows go.
      defaults: {
        // The Balanced preset (src/shared/presets.ts) for three labels: no plan warning on the example data.
        count: presetCount(balanced(SYNTH_PRESETS).values, 3),
        epsilon: balanced(SYNTH_PRESETS).values.epsilon,
        iterations: balanced(SYNTH_PRESETS).values.iterations,
        variations: balanced(SYNTH_PRESETS).values.variations,
        embedder: providerEmbeds ? 'same' : 'builtin',
      },
    };
  }

  protected async onRunMessage(msg: WebviewMessage): Promise<void> {
    // The Generate panel's own messages (preview, generate) do not apply here.
    if (msg.type === 'synthPreview') await this.preview(msg.settings);
    else if (msg.type === 'synthRun') await this.synthesize(msg.settings);
    else if (msg.type === 'synthResume') await this.synthesize(msg.settings, msg.run);
    else if (msg.type === 'synthEditDomain') await this.editDomain(msg.labels);
  }

  /**
   * Opens the workspace's domain file in an editor, creating it from a template first when there is none (never
   * overwriting). The template names only the labels ticked in the form (named by the user: public).
   */
  private async editDomain(labels: string[]): Promise<void> {
    const root = this.loaded?.root;
    if (!root) return;
    const known = new Set(this.loaded!.summary.labels.map((l) => l.label));
    const { file, created } = ensureDomainFile(
      root,
      labels.filter((l) => known.has(l)),
    );
    if (created) this.deps.log.info(`Created the domain file ${path.relative(root, file)} from the template.`);
    await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
    this.refreshDomain(root);
  }

  /** Tells the view which domain file is in use, and keeps it in the init message a reloaded view gets. */
  private refreshDomain(root: string): void {
    const domain = domainInfo(root);
    if (this.init?.type === 'synthInit') this.init = { ...this.init, domain };
    this.post({ type: 'synthDomain', domain });
  }

  protected progressSnapshot(): HostMessage | undefined {
    return this.board?.snapshot(this.running !== undefined);
  }

  protected describe(r: AugPeRelease): string {
    return `${r.records.length} record(s)`;
  }

  private async prepare(s: SynthSettings): Promise<{ prepared: PreparedAugPe; loaded: Loaded }> {
    const { loaded, labels } = this.loadedFor(s);
    const { count, epsilon, iterations, variations } = s;
    // The workspace's domain file, if any: public by declaration (the plan says so). A bad file is a refusal here.
    const domain = loadDomain(path.join(loaded.root, DOMAIN_FILE), false);
    const settings = {
      labels,
      count,
      epsilon,
      iterations,
      variations,
      domain,
      ...(s.lookahead !== undefined ? { lookahead: s.lookahead } : {}),
      ...(s.selection !== undefined ? { selection: s.selection } : {}),
      ...(s.dpFractions !== undefined ? { dpFractions: s.dpFractions } : {}),
    };
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

  /** The largest ε for this run that the ledger admits (runPanelHost.ts largestFit). */
  private largestFitOf(prep: { prepared: PreparedAugPe; loaded: Loaded }): Promise<number | undefined> {
    return this.largestFit(prep, (ds, epsilon) => planAugPe(ds, { ...prep.prepared.plan.settings, epsilon }));
  }

  protected async preview(s: SynthSettings, wanted: () => boolean = () => true): Promise<void> {
    const prep = await this.prepare(s);
    const { prepared, loaded } = prep;
    const { provider, generator, embedder } = await this.models(s);
    // Preview plan checks the endpoint first (the probe sends fixed public text only).
    const endpointChecked = (await this.probeEndpoint(provider)) !== undefined;
    const largestFit = prepared.check.fits ? undefined : await this.largestFitOf(prep);
    if (!wanted()) return;
    this.refreshDomain(loaded.root);
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
        ...(plan.sigmaClass !== undefined ? { sigmaClass: plan.sigmaClass } : {}),
        declarations: [domainDeclaration(plan.settings.domain, DOMAIN_FILE)],
        ...this.planFigures(s, prepared, { largestFit, dataFlow, traffic, endpointChecked }),
      },
      'latest',
    );
  }

  /** Runs Aug-PE with `s`; with `resume`, continues that stopped run (same settings) for the histograms left. */
  private async synthesize(s: SynthSettings, resume?: string): Promise<void> {
    this.checkCanRun('text', 'run again');
    this.board = undefined;
    const prep = await this.prepare(s);
    const { prepared, loaded } = prep;
    const { plan, target, status: before } = prepared;
    // A continuation is admitted for the histograms left (checked below), not for the whole plan.
    if (!resume && !prepared.check.fits)
      throw withLargestFit(
        new BudgetExceededError(prepared.check, this.name, plan.ledgerPlan),
        await this.largestFitOf(prep),
      );
    const { provider, generator, embedder } = await this.models(s);
    // A continuation is checked here first (one-line refusal: finished, resumed, running, changed settings) and
    // admitted for the histograms left only.
    const point = resume
      ? loadAugPeResume(runsDir(loaded.root), resume, { dataset: loaded.ds, plan, provider: generator, embedder })
      : undefined;
    const ledgerPlan = point ? resumePlan(plan, point) : plan.ledgerPlan;
    const check = point ? await loaded.ledger.check(target, ledgerPlan) : prepared.check;
    if (!check.fits) throw new BudgetExceededError(check, this.name, ledgerPlan);
    const started = Date.now();
    this.deps.log.info(
      `Synthesizing ${plan.settings.count} record(s) over ${plan.labels.length} label(s) for ${this.name}, T ${plan.settings.iterations}, with ${generator.kind}/${generator.model}; embedder ${embedder.kind}/${embedder.model}.`,
    );
    const rows = new SynthProgressBoard(plan.labels, plan.settings.iterations);
    this.board = rows;
    const { result, after } = await this.runFramed({
      title: `synthesizing records for ${this.name}`,
      board: {
        get pending() {
          return rows.pending;
        },
        take: (running) => rows.take(running),
        summary: (m) =>
          m.type === 'synthProgress'
            ? `iteration ${m.iteration} of ${m.iterations}, ${m.histograms} histogram(s), ${m.calls} calls`
            : '',
        finish: (status) => rows.finish(status),
      },
      target,
      run: (signal, changed) =>
        runInWorker({
          workerFile: path.join(this.deps.extensionUri.fsPath, 'dist', 'run-worker.js'),
          job: {
            algorithm: 'aug-pe',
            dataset: loaded.ds,
            plan,
            units: target.units,
            root: loaded.root,
            generator: modelRefOf(provider),
            embedder: s.embedder,
            ...(resume ? { resume } : {}),
          },
          // The ledger and a model with a key or the editor's API stay here; the worker reaches them by calls.
          ledger: loaded.ledger,
          models: { generator: provider },
          signal,
          onProgress: (p) => {
            rows.update(p);
            changed();
          },
        }),
    });
    const { release, message: shown } = augPeResultMessage(
      { plan, result },
      this.ledgered(before, after, result, {
        failed: `The last selected records are kept, and the ${result.histograms} histogram(s) that ran are charged.`,
        cancelled: `Cancelled after ${result.histograms} of ${plan.settings.iterations} histogram(s): the last selected records are kept, and only those histograms are charged.`,
      }),
    );
    // A stop with histograms left can be resumed from the panel (the id goes back with the Resume button).
    const left = result.status !== 'completed' && result.histograms < plan.settings.iterations;
    this.settled(release, left ? { ...shown, resumable: result.reservation.id } : shown, after, result.checkpoint);
    this.deps.log.info(
      `Synthesize ${this.name}: ${result.status}, ${result.records.length} record(s), ${result.histograms} of ${plan.settings.iterations} histogram(s), ε charged ${result.epsilonCharged.toFixed(3)}; local only, not private: ${result.report.usage.calls} calls, ${Date.now() - started} ms.`,
    );
  }
}

/** The workspace's domain file for the panel (workspace-relative path, and whether it exists). */
function domainInfo(root: string): { file: string; exists: boolean } {
  return { file: DOMAIN_FILE, exists: existsSync(path.join(root, DOMAIN_FILE)) };
}
