import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { canonicalRecords } from '../data';
import { UserError } from '../errors';
import type { Charge, Reservation } from '../ledger';
import { cryptoRandom, epsilonFor, type MechanismSpec, type RandomSource } from '../privacy';
import { ProviderError } from '../providers/errors';
import { PROBE } from '../providers/probe';
import { isRequestRefusal, settleEmbeddings } from '../providers/refusal';
import type { GenerateRequest, Provider, Usage } from '../providers/types';
import { journalDiagnostics } from '../release';
import {
  openCheckpoint,
  releasedHash,
  runsDir,
  runStatus,
  writeJournal,
  type Checkpoint,
  type RunStatus,
} from '../runs/checkpoint';
import { buildPools } from '../runs/pools';
import { thisProcess, writeState } from '../runs/state';
import { minusUsage, plusUsage, ZERO_USAGE } from '../runs/usage';
import { TOOL_VERSION } from '../version';
import { privatizeHistogram, toMatrix, voteHistogramsAsync, type Matrix, type VoteGroup } from './histogram';
import { lookaheadMean } from './lookahead';
import { promptSettings, releaseClassCounts, runSpecs, type AugPePlan } from './plan';
import { selectCandidates } from './select';
import { cleanOutput, humanizeLabel, randomApiRequest, variationRequest, type PromptSettings } from './prompts';
import {
  augPeParameters,
  firstPartCharges,
  histogramCharges,
  resumePlan,
  type AugPeState,
  type Selected,
} from './resume';
import type { AugPeProgress, AugPeReport, AugPeResult, AugPeRunOptions, SyntheticRecord } from './types';

export {
  augPeParameters,
  loadAugPeResume,
  resumePlan,
  type AugPeParameters,
  type AugPeResumePoint,
  type AugPeState,
  type ResumeCheck,
  type Selected,
} from './resume';
export type { AugPeProgress, AugPeReport, AugPeResult, AugPeRunOptions, SyntheticRecord };

/**
 * Runs a planned Aug-PE generation (Xie et al., ICML 2024, Alg. 1 with rank selection and kept samples):
 * reserve before any private text is embedded; embed the private rows once; write the initial population with
 * RANDOM_API (n_c per label) plus L−1 VARIATION_API outputs of each; then T times: embed the new candidates, let the
 * private units vote (DP nearest-neighbour histogram), keep the top n_c by noisy votes, checkpoint them, and (except
 * after the last histogram) add L−1 variations of each. The output is the last selected population.
 *
 * Accounting: T is fixed before the run, so a stop after i histograms settles i steps (every started histogram
 * counts). A crash leaves the reservation charged in full. A resumed run (o.resume) starts from the stopped run's
 * last selection, reserves only the T − i histograms left, in the stopped run's ledger group, so the two parts are
 * valued as one run of T histograms; a crashed part is closed first at the i it started.
 */
export async function runAugPe(o: AugPeRunOptions): Promise<AugPeResult> {
  const started = (o.now ?? Date.now)();
  const run = new AugPeRun(o, await checkProviders(o));
  await run.reserve();
  let failure: Error | undefined;
  try {
    const privateGroups = await run.embedPrivate();
    if (o.resume) await run.resumeFrom(o.resume.state);
    else await run.initialPopulation();
    await run.iterate(privateGroups);
  } catch (e) {
    failure = e as Error;
  }
  return run.settle(failure, started);
}

async function checkProviders(o: AugPeRunOptions): Promise<{ generator: Provider; embedder: Provider }> {
  const generator = o.provider;
  const embedder = o.embedder ?? o.provider;
  const genCaps = await generator.capabilities(o.signal);
  if (!genCaps.generate)
    throw new UserError(
      `${generator.kind}/${generator.model} cannot generate text, which Aug-PE needs`,
      genCaps.notes.join(' ') || 'Use a chat model.',
    );
  const embCaps = embedder === generator ? genCaps : await embedder.capabilities(o.signal);
  if (!embCaps.embed) {
    throw new UserError(
      `${embedder.kind}/${embedder.model} returns no embeddings, which Aug-PE needs`,
      'Use an embedding model (e.g. text-embedding-3-small, nomic-embed-text on Ollama) or the built-in embedder (--embedder builtin).',
    );
  }
  return { generator, embedder };
}

type PrivateGroups = Map<string, { embeddings: Matrix; units: string[] }>;

/** One run's state between reserve and settle: counters, the population, the checkpoint. */
class AugPeRun {
  private readonly generator: Provider;
  private readonly embedder: Provider;
  private readonly sameProvider: boolean;
  private readonly random: (stream: string) => RandomSource;
  private readonly plan: AugPePlan;
  private readonly s: AugPePlan['settings'];
  private readonly prompts: PromptSettings;
  private readonly dir: string;
  private readonly genStart: Usage;
  private readonly embStart: Usage;
  private reservation!: Reservation;
  private checkpoint!: Checkpoint;
  private state!: AugPeState;
  /** Histograms started in this part (each is charged from its start). */
  private histograms = 0;
  /** The first iteration this part runs (1, or the stopped run's last + 1). */
  private firstIteration = 1;
  private completions = 0;
  private generateRequests = 0;
  private syntheticEmbedded = 0;
  private privateEmbeddingUsage: Usage = ZERO_USAGE;
  private refusedPrivateRows = 0;
  private readonly selected = new Map<string, Selected[]>();
  private readonly populations = new Map<string, string[]>();
  private readonly embeddingCache = new Map<string, Float32Array>();
  /** Records per label: the plan's, or with DP class fractions the sizes from the noisy label counts. */
  private counts: number[] = [];
  private readonly countOf = new Map<string, number>();
  /** DP class fractions: the noisy counts were released (by this part, or by the part it continues). */
  private classCounts: { counts: number[]; noisy: number[] } | undefined;
  /** This part released the class counts (and charges them). */
  private classReleasedHere = false;

  constructor(
    private readonly o: AugPeRunOptions,
    providers: { generator: Provider; embedder: Provider },
  ) {
    this.generator = providers.generator;
    this.embedder = providers.embedder;
    this.sameProvider = this.embedder === this.generator;
    this.random = o.random ?? (() => cryptoRandom());
    this.plan = o.plan;
    this.s = o.plan.settings;
    this.prompts = promptSettings(this.s);
    this.dir = o.resume?.dir ?? runsDir(o.ledger.workspaceRoot, o.checkpointDir);
    this.genStart = this.generator.usage();
    this.embStart = this.sameProvider ? this.genStart : this.embedder.usage();
  }

  private get T(): number {
    return this.s.iterations;
  }

  /** Histograms charged before this part (0 for a fresh run). */
  private get before(): number {
    return this.o.resume?.state.started ?? 0;
  }

  /** The histogram charges of `steps` steps (the plan's charges, one per partition). */
  private charges(steps: number): Charge[] {
    return histogramCharges(this.plan, steps);
  }

  /**
   * Reserve before any private text is embedded. A continuation closes a crashed part at the histograms it started,
   * then reserves only the histograms left, in the first part's group, and marks the stopped state as resumed.
   */
  async reserve(): Promise<void> {
    const o = this.o;
    const resume = o.resume;
    const target = {
      identity: o.dataset.identity,
      units: o.units,
      unitColumn: o.dataset.columns.unit,
      records: canonicalRecords(o.dataset),
    };
    if (resume?.crashed)
      await o.ledger.abort(resume.state.id, {
        // A crashed first part also made the class-count release (if planned) right after its reservation.
        used:
          resume.state.id === resume.state.group
            ? firstPartCharges(this.plan, resume.state.started, resume.state.classCounts !== undefined)
            : this.charges(resume.state.started),
        reason: 'the process stopped without settling; continued by a resumed run',
      });
    this.reservation = await o.ledger.reserve(target, resume ? resumePlan(this.plan, resume) : this.plan.ledgerPlan);
    const id = this.reservation.id;
    if (resume) writeState(this.dir, { ...resume.state, resumedBy: id });
    // DP class fractions (plan.ts releaseClassCounts): the noisy label counts, released once, after the reservation
    // that charges them; a continuation reuses the first part's.
    if (this.plan.sigmaClass !== undefined) {
      this.classCounts =
        resume?.state.classCounts ?? releaseClassCounts(o.dataset, this.plan, this.random('noise:class-counts'));
      this.classReleasedHere = !resume?.state.classCounts;
    }
    this.counts = this.classCounts?.counts ?? this.plan.labels.map((l) => l.count);
    this.plan.labels.forEach((l, i) => this.countOf.set(l.label, this.counts[i]!));
    this.checkpoint = await openCheckpoint(this.dir, id);
    await this.checkpoint.write({
      type: 'run',
      id,
      algorithm: 'aug-pe',
      time: new Date((o.now ?? Date.now)()).toISOString(),
      labels: this.s.labels,
      counts: this.counts,
      ...(this.classCounts ? { noisyClassCounts: this.classCounts.noisy, sigmaClass: this.plan.sigmaClass } : {}),
      iterations: this.T,
      sigma: this.plan.sigma,
      ...(resume ? { resumes: resume.state.id, group: resume.state.group, histogramsBefore: this.before } : {}),
    });
    this.state = {
      type: 'aug-pe-state',
      version: 1,
      id,
      group: resume?.state.group ?? id,
      status: 'running',
      ...thisProcess(),
      parameters: augPeParameters(o),
      started: this.before,
      iteration: resume?.state.iteration ?? 0,
      selected: resume?.state.selected ?? {},
      ...(this.classCounts ? { classCounts: this.classCounts } : {}),
    };
    writeState(this.dir, this.state);
  }

  private totalUsage(): Usage {
    return this.sameProvider ? this.generator.usage() : plusUsage(this.generator.usage(), this.embedder.usage());
  }

  private progress(phase: AugPeProgress['phase'], iteration: number, label?: string): void {
    const u = this.totalUsage();
    this.o.onProgress?.({
      phase,
      iteration,
      iterations: this.T,
      ...(label !== undefined ? { label } : {}),
      histograms: this.before + this.histograms,
      completions: this.completions,
      calls: u.calls,
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      cost: u.cost,
    });
  }

  /** Sends the requests, one generate call per distinct request with n = its multiplicity; answers in request order. */
  private async generateAll(reqs: GenerateRequest[], fallbacks: string[]): Promise<string[]> {
    const groups = new Map<string, number[]>();
    reqs.forEach((r, i) => {
      const key = JSON.stringify([r.messages, r.prompt, r.maxTokens, r.temperature]);
      const g = groups.get(key);
      if (g) g.push(i);
      else groups.set(key, [i]);
    });
    const out = new Array<string>(reqs.length);
    await Promise.all(
      [...groups.values()].map(async (idx) => {
        const r = await this.generator.generate({ ...reqs[idx[0]!]!, n: idx.length, signal: this.o.signal });
        this.generateRequests++;
        idx.forEach((i, j) => (out[i] = cleanOutput(r.texts[j] ?? '', fallbacks[i]!)));
        this.completions += idx.length;
      }),
    );
    return out;
  }

  private variationsOf(
    label: string,
    samples: readonly string[],
    stream: string,
    per = this.s.variations,
  ): Promise<string[]> {
    const rng = this.random(stream);
    const reqs: GenerateRequest[] = [];
    const fallbacks: string[] = [];
    for (const sample of samples) {
      for (let v = 0; v < per; v++) {
        reqs.push(variationRequest(label, sample, this.prompts, rng));
        fallbacks.push(sample);
      }
    }
    return this.generateAll(reqs, fallbacks);
  }

  private async embedCandidates(texts: readonly string[]): Promise<Matrix> {
    const missing = [...new Set(texts.filter((t) => !this.embeddingCache.has(t)))];
    if (missing.length) {
      const vs = await this.embedder.embed(missing, this.o.signal);
      if (vs.length !== missing.length)
        throw new UserError(`the embedder returned ${vs.length} vectors for ${missing.length} texts`);
      missing.forEach((t, i) => this.embeddingCache.set(t, vs[i]!));
      this.syntheticEmbedded += missing.length;
    }
    return toMatrix(texts.map((t) => this.embeddingCache.get(t)!));
  }

  /** 1. The private rows, embedded once. Private text goes to the embedder only. */
  async embedPrivate(): Promise<PrivateGroups> {
    const o = this.o;
    this.progress('embed-private', 0);
    const { pools } = buildPools(o.dataset, this.s.labels);
    const privateGroups: PrivateGroups = new Map();
    const batch = Math.max(1, o.embedBatch ?? 256);
    try {
      for (const label of this.s.labels) {
        const texts: string[] = [];
        const units: string[] = [];
        for (const u of pools.get(label)!) {
          for (const t of u.texts) {
            texts.push(t);
            units.push(u.id);
          }
        }
        const vectors: Float32Array[] = [];
        const kept: string[] = [];
        for (let i = 0; i < texts.length; i += batch) {
          o.signal?.throwIfAborted();
          const chunk = texts.slice(i, i + batch);
          // A row the embedder refuses (e.g. too long) casts no vote: its unit's vote vector is L2-normalised over its
          // other rows, or is zero, so ‖v_u‖₂ ≤ 1 and the sensitivity 1 of histogram.ts holds. Whether a row is refused
          // depends on that row alone (a refused batch is split until it stands alone).
          const vs = await settleEmbeddings(this.embedder, chunk, o.signal);
          let inDoubt = false;
          vs.forEach((v, j) => {
            if (v instanceof ProviderError) {
              this.refusedPrivateRows++;
              if (!isRequestRefusal(v)) inDoubt = true;
            } else {
              vectors.push(v);
              kept.push(units[i + j]!);
            }
          });
          // Timeouts/5xx on private rows only: stop if a public request fails too (the server is down), else go on.
          if (inDoubt) await this.embedder.embed([PROBE.embed], o.signal);
        }
        privateGroups.set(label, { embeddings: toMatrix(vectors), units: kept });
      }
    } finally {
      this.privateEmbeddingUsage = minusUsage(this.embedder.usage(), this.embStart);
    }
    return privateGroups;
  }

  /** 2. Initial population: n_c RANDOM_API samples, plus L−1 variations of each (pe initial_variation_api_fold). */
  async initialPopulation(): Promise<void> {
    this.progress('initial', 0);
    await Promise.all(
      this.plan.labels.map(async (lp) => {
        const rng = this.random(`prompts:${lp.label}:init`);
        const seeds = await this.generateAll(
          Array.from({ length: this.countOf.get(lp.label)! }, () => randomApiRequest(lp.label, this.prompts, rng)),
          Array.from({ length: this.countOf.get(lp.label)! }, () => humanizeLabel(lp.label)),
        );
        const vars = await this.variationsOf(lp.label, seeds, `prompts:${lp.label}:init-variations`);
        this.populations.set(lp.label, [...seeds, ...vars]);
        await this.checkpoint.write({ type: 'initial', label: lp.label, candidates: [...seeds, ...vars] });
        this.progress('initial', 0, lp.label);
      }),
    );
  }

  /**
   * 2'. A continuation starts from the stopped run's last selection (a DP output) and writes its variations, as the
   * stopped run would have after that histogram; with no histogram kept it starts afresh.
   */
  async resumeFrom(state: AugPeState): Promise<void> {
    if (state.iteration === 0) return this.initialPopulation();
    this.firstIteration = state.iteration + 1;
    for (const [label, picked] of Object.entries(state.selected)) this.selected.set(label, picked);
    await this.vary(state.iteration);
  }

  /** Adds L−1 variations of each kept candidate (after histogram t). */
  private async vary(t: number): Promise<void> {
    this.progress('variations', t);
    await Promise.all(
      this.plan.labels.map(async (lp) => {
        const keep = this.selected.get(lp.label)!.map((x) => x.text);
        const vars = await this.variationsOf(lp.label, keep, `prompts:${lp.label}:${t}`);
        this.populations.set(lp.label, [...keep, ...vars]);
        this.progress('variations', t, lp.label);
      }),
    );
  }

  /** 3. The iterations left: vote, select, vary. */
  async iterate(privateGroups: PrivateGroups): Promise<void> {
    const o = this.o;
    for (let t = this.firstIteration; t <= this.T; t++) {
      o.signal?.throwIfAborted();
      const groups: VoteGroup[] = [];
      for (const lp of this.plan.labels) {
        const pg = privateGroups.get(lp.label)!;
        const pop = this.populations.get(lp.label)!;
        // Lookahead (Lin et al. 2024, PE, Alg. 1): a candidate's embedding is the mean of the embeddings of K
        // variations of it, written from public text only; they are discarded after the vote.
        const candidates =
          this.s.lookahead > 0
            ? lookaheadMean(
                await this.embedCandidates(
                  await this.variationsOf(lp.label, pop, `prompts:${lp.label}:lookahead:${t}`, this.s.lookahead),
                ),
                this.s.lookahead,
              )
            : await this.embedCandidates(pop);
        groups.push({ private: pg.embeddings, units: pg.units, candidates });
      }
      o.signal?.throwIfAborted();
      this.histograms++; // charged from here on, whatever happens next
      this.state.started = this.before + this.histograms;
      writeState(this.dir, this.state);
      this.progress('histogram', t);
      const clean = await voteHistogramsAsync(groups, this.s.neighbours, this.s.metric);
      for (let i = 0; i < this.plan.labels.length; i++) {
        const lp = this.plan.labels[i]!;
        const noisy = privatizeHistogram(
          clean[i]!,
          this.plan.sigma,
          this.random(`noise:${lp.label}:${t}`),
          this.s.threshold,
        );
        const pop = this.populations.get(lp.label)!;
        const picked = selectCandidates(this.s.selection, noisy, this.countOf.get(lp.label)!, () =>
          this.random(`select:${lp.label}:${t}`),
        ).map((j) => ({ text: pop[j]!, votes: noisy[j]! }));
        this.selected.set(lp.label, picked);
        await this.checkpoint.write({ type: 'selected', iteration: t, label: lp.label, records: picked });
      }
      this.state.iteration = t;
      this.state.selected = Object.fromEntries(this.selected);
      writeState(this.dir, this.state);
      if (t === this.T) break;
      await yieldToEventLoop();
      await this.vary(t);
    }
  }

  /** Settles this part with the histograms it started, writes the report and the journal. */
  async settle(failure: Error | undefined, started: number): Promise<AugPeResult> {
    const o = this.o;
    const s = this.s;
    const records: SyntheticRecord[] = s.labels.flatMap((label) =>
      (this.selected.get(label) ?? []).map((x) => ({ label, text: x.text })),
    );
    const status: RunStatus = runStatus(failure, o.signal);
    const cancelled = status === 'cancelled';
    const released = releasedHash(records);
    await this.reservation.settle({ used: this.used(), released });
    await this.checkpoint.write({ type: 'settled', status, histograms: this.histograms, released });
    // What the records rest on: every histogram of the run, those of a stopped part it continues included.
    const histograms = this.before + this.histograms;
    this.state.status = status;
    writeState(this.dir, this.state);

    // What the records rest on: every histogram of the run and, with DP class fractions, the one count release.
    const charged = runSpecs(this.plan, histograms, this.classCounts !== undefined);
    const epsilonCharged = charged.length === 0 ? 0 : epsilonFor(charged, s.delta, 'gdp');
    // Synthetic-only use: everything since the start minus the private embedding.
    const spent = minusUsage(
      this.sameProvider
        ? minusUsage(this.generator.usage(), this.genStart)
        : plusUsage(
            minusUsage(this.generator.usage(), this.genStart),
            minusUsage(this.embedder.usage(), this.embStart),
          ),
      this.privateEmbeddingUsage,
    );
    const report = this.report(histograms, charged, epsilonCharged, spent, (o.now ?? Date.now)() - started);
    // The run journal: the local diagnostics in a file beside the checkpoint (never in a release: src/core/release.ts).
    await writeJournal(this.checkpoint.path, {
      ...journalDiagnostics(report),
      privateEmbeddingUsage: this.privateEmbeddingUsage,
    });
    return {
      records,
      status,
      ...(failure && !cancelled ? { error: failure } : {}),
      histograms,
      reservation: {
        id: this.reservation.id,
        epsilonRun: this.reservation.epsilonRun,
        spentAfter: this.reservation.spentAfter,
      },
      epsilonCharged,
      report,
      checkpoint: this.checkpoint.path,
      privateEmbeddingUsage: this.privateEmbeddingUsage,
      refusedPrivateRows: this.refusedPrivateRows,
      ...(o.resume ? { resumed: { from: o.resume.state.id, histogramsBefore: this.before } } : {}),
    };
  }

  /**
   * What this part used: the class-count release if this part made it (1 step, or 0 when it stopped before), then the
   * histograms it started, on the plan's charges in order (plan.ts puts the class release first).
   */
  private used(): Charge[] {
    return this.o.resume
      ? this.charges(this.histograms)
      : firstPartCharges(this.plan, this.histograms, this.classCounts !== undefined);
  }

  private report(
    histograms: number,
    charged: MechanismSpec[],
    epsilonCharged: number,
    spent: Usage,
    durationMs: number,
  ): AugPeReport {
    const { o, s, plan, generator, embedder } = this;
    return {
      tool: TOOL_VERSION,
      algorithm: 'aug-pe',
      dataset: { path: o.dataset.identity.path, contentSha256: o.dataset.identity.contentSha256 },
      provider: { kind: generator.kind, model: generator.model, offline: generator.offline },
      embedder: { kind: embedder.kind, model: embedder.model, offline: embedder.offline },
      privacy: {
        epsilon: s.epsilon,
        delta: s.delta,
        sigma: plan.sigma,
        iterations: this.T,
        histograms,
        ...(plan.sigmaClass !== undefined ? { sigmaClass: plan.sigmaClass } : {}),
        mu:
          plan.sigmaClass === undefined
            ? Math.sqrt(histograms) / plan.sigma
            : Math.sqrt(charged.reduce((a, m) => a + m.steps / (m.sigma * m.sigma), 0)),
        accountant: 'gdp',
        epsilonCharged,
        unit: o.dataset.columns.unit ?? 'row',
      },
      parameters: {
        labels: s.labels,
        counts: this.counts,
        variations: s.variations,
        neighbours: s.neighbours,
        metric: s.metric,
        threshold: s.threshold,
        lookahead: s.lookahead,
        selection: s.selection,
        classCounts: plan.classCounts,
        variation: s.variation,
        maskProbability: s.maskProbability,
        temperature: s.temperature,
        maxTokens: s.maxTokens,
      },
      usage: {
        calls: spent.calls,
        generateRequests: this.generateRequests,
        completions: this.completions,
        syntheticEmbedded: this.syntheticEmbedded,
        inputTokens: spent.inputTokens,
        outputTokens: spent.outputTokens,
        cost: spent.cost,
      },
      durationMs,
    };
  }
}
