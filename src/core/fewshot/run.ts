import { canonicalRecords, type Dataset } from '../data';
import { UserError } from '../errors';
import { isBudgetRefusal, type Reservation, type RunLedger } from '../ledger';
import { cryptoRandom, gaussianNoise, type RandomSource } from '../privacy';
import { filterEpsilon } from '../privacy/filter';
import type { Provider } from '../providers/types';
import { journalDiagnostics, type FewShotParameters } from '../release';
import { openCheckpoint, releasedHash, runsDir, runStatus, writeJournal, type Checkpoint } from '../runs/checkpoint';
import { TOOL_VERSION } from '../version';
import { decodeDemonstration, type DecodeStats } from './decode';
import type { Demonstration } from './export';
import { exactPoolCounts, releasePoolCounts } from './counts';
import {
  calibrateFromCounts,
  FEWSHOT_DEFAULTS,
  runEpsilon,
  stepCharges,
  type FewShotPlan,
  type LabelPlan,
} from './plan';
import { buildPools, type PoolUnit } from '../runs/pools';
import { DEFAULT_FORMAT, type PromptFormat } from './prompt';
import { formatSignificant } from '../../shared/format';

export interface FewShotProgress {
  label: string;
  /** 0-based demonstration index within the label. */
  shot: number;
  /** The demonstration so far (DP output: safe to show). */
  text: string;
  tokens: number;
  done: boolean;
  /** HTTP requests to the model so far. */
  calls: number;
  /** Round trips on the critical path so far: the longest chain of requests that waited on each other. */
  roundTrips: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

export interface FewShotRunOptions {
  dataset: Dataset;
  plan: FewShotPlan;
  provider: Provider;
  ledger: RunLedger;
  /** Units in the dataset (the ledger's n). */
  units: number;
  format?: PromptFormat;
  /** K: candidate-set size; default the provider's cap. */
  topK?: number;
  /** Speculative lookahead (default 4 for the offline model, 1 otherwise); the output is identical for every value. */
  lookahead?: number;
  /**
   * Future steps queried ahead (default: lookahead − 1 for the offline model, whose requests are free; else 0: on the
   * benchmark it multiplied prompt tokens by ~4 for 1.1× fewer round trips, because the noisy release rarely
   * follows every prefetched prompt's own greedy path).
   */
  prefetch?: number;
  /**
   * How many of a label's demonstrations are written at the same time (default: all of them). The privacy cost is
   * the same whatever the order — a label's shots compose in sequence in the accountant either way, and each shot
   * has its own random streams, so the released text is identical too. What changes: the wall time (about
   * shots/concurrency times shorter) and what a cancel costs (every started demonstration is charged T_max, so
   * with all shots in flight a cancel charges the whole plan; 1 keeps a cancel cheap).
   */
  shotConcurrency?: number;
  /**
   * Randomness for a named stream. Production: a cryptographic source for every stream (the default). Tests inject
   * seeded streams; nothing else may.
   */
  random?: (stream: string) => RandomSource;
  /** Folder for checkpoints (default <workspace>/.private-fewshot/runs). */
  checkpointDir?: string;
  signal?: AbortSignal;
  onProgress?: (p: FewShotProgress) => void;
  /** Called once with the warnings that follow from the noisy pool counts (DP outputs), before any prompt is sent. */
  onWarnings?: (warnings: string[]) => void;
  now?: () => number;
}

export interface FewShotResult {
  demonstrations: Demonstration[];
  /** Completed, cancelled (partial results kept and charged), or failed (partial results kept and charged). */
  status: 'completed' | 'cancelled' | 'failed';
  error?: Error;
  /** The token-step reservation; epsilonRun is the whole run's ε (count release composed with the steps). */
  reservation: { id: string; epsilonRun: number; spentAfter: number };
  /** The noisy pool-count release (DP output, in plan label order) and the reservation that paid for it. */
  counts: { reservation: string; sigma: number; epsilon: number; noisy: number[] };
  /** Each label's mechanism as run: q̃ and σ from the noisy counts. */
  labels: LabelPlan[];
  /** Warnings that follow from the noisy counts (DP outputs): e.g. q̃ = 1, or weak signal. */
  warnings: string[];
  /** The ε this run was charged when it settled (the planned ε, or less after a cancel or failure). */
  epsilonCharged: number;
  report: FewShotReport;
  checkpoint: string;
  /**
   * Local diagnostic, never released nor in the report: private prompts (summed over token steps) that voted the zero
   * vector because the server refused them. It depends on the private data.
   */
  refusedPrompts: number;
}

/**
 * The run's full local record: public parameters AND local diagnostics (dataset path and hash, usage, duration),
 * which are computed from the private data without noise. Not a release: nothing renders it for export. What may
 * leave the machine is built from it by fewShotRelease (src/core/release.ts).
 */
export interface FewShotReport {
  tool: string;
  algorithm: 'dp-few-shot';
  dataset: { path: string; contentSha256: string };
  provider: { kind: string; model: string; offline: boolean };
  privacy: { epsilon: number; delta: number; accountant: 'pld'; epsilonCharged: number; unit: string };
  parameters: FewShotParameters;
  /**
   * calls: HTTP requests; queries: prompt distributions asked for (batched requests carry several); roundTrips: the
   * critical path — the most request waves any one chain of demonstrations waited for one after another (chains run
   * concurrently, so wall time ≈ roundTrips × latency); waves: request waves summed over all chains; chains: how
   * many ran concurrently.
   */
  usage: {
    calls: number;
    queries: number;
    roundTrips: number;
    waves: number;
    chains: number;
    reused: number;
    inputTokens: number;
    outputTokens: number;
    cost: number;
    tokensReleased: number;
  };
  durationMs: number;
}

/**
 * Runs a planned DP few-shot generation: reserve in the ledger before touching private data, write every label's
 * demonstrations (labels in parallel, and a label's shots `shotConcurrency` at a time), checkpoint each finished
 * demonstration, and settle with the steps actually charged — a started demonstration costs its full token budget
 * T_max whatever its length, because the stopping time depends on the data. Cancel or failure: stop, keep what was
 * written, settle the started demonstrations. A crash leaves the reservation charged in full.
 */
export async function runFewShot(o: FewShotRunOptions): Promise<FewShotResult> {
  const now = o.now ?? Date.now;
  const started = now();
  const topK = await checkLogprobs(o);
  const lookahead = o.lookahead ?? (o.provider.offline ? FEWSHOT_DEFAULTS.lookahead : 1);
  const random = o.random ?? (() => cryptoRandom());
  const { settings } = o.plan;
  const { pools, noisy, countsReservation, mechanism, reservation } = await releaseCountsAndReserve(o, random);
  const checkpoint = await openCheckpoint(runsDir(o.ledger.workspaceRoot, o.checkpointDir), reservation.id);
  await checkpoint.write({
    type: 'run',
    id: reservation.id,
    time: new Date(started).toISOString(),
    labels: settings.labels,
    shots: settings.shots,
  });
  await checkpoint.write({ type: 'counts', reservation: countsReservation.id, sigma: o.plan.counts.sigma, noisy });

  const concurrency = Math.max(1, Math.min(settings.shots, Math.floor(o.shotConcurrency ?? settings.shots)));
  const shots = new ShotWriter(o, { pools, random, topK, lookahead, checkpoint });
  await Promise.all(
    mechanism.labels.flatMap((lp) => Array.from({ length: concurrency }, () => shots.chain(lp, shots.newChain()))),
  );

  const demonstrations = shots.demonstrations();
  const status = runStatus(shots.failure, o.signal);
  const used = stepCharges(mechanism.labels, (lp) => shots.started(lp.label) * settings.maxTokens);
  const released = releasedHash(demonstrations);
  await reservation.settle({ used, released });
  // The steps' σ and q were chosen from the released counts, so the PLD composition of the two parts (which assumes
  // both fixed in advance) is not a guarantee; the budget split is (basic composition, Dwork & Roth 2014, Thm 3.16).
  // Without any step run, the count release alone (fixed parameters) is what was spent.
  // The ledger values it the same way: the smaller of that ε and the Rényi filter of what ran (ledger/filter.ts).
  const epsilonCharged = used.some((c) => c.mechanism.steps > 0)
    ? Math.min(
        settings.epsilon,
        filterEpsilon(
          [...o.plan.counts.charges, ...used].map((c) => c.mechanism),
          settings.delta,
        ),
      )
    : runEpsilon([...o.plan.counts.charges], settings.delta);
  await checkpoint.write({ type: 'settled', status, released });

  const report = fewShotReport(o, { topK, lookahead, concurrency, epsilonCharged, durationMs: now() - started }, shots);
  // The run journal: the local diagnostics in a file beside the checkpoint (never in a release: src/core/release.ts).
  await writeJournal(checkpoint.path, { ...journalDiagnostics(report) });
  return {
    demonstrations,
    status,
    ...(shots.failure && status === 'failed' ? { error: shots.failure } : {}),
    reservation: { id: reservation.id, epsilonRun: mechanism.epsilonRun, spentAfter: reservation.spentAfter },
    counts: {
      reservation: countsReservation.id,
      sigma: o.plan.counts.sigma,
      epsilon: o.plan.counts.epsilon,
      noisy,
    },
    labels: mechanism.labels,
    warnings: mechanism.warnings,
    epsilonCharged,
    report,
    checkpoint: checkpoint.path,
    refusedPrompts: shots.refused(),
  };
}

/** The provider's top-K of next-token log-probabilities, or a refusal when it has none. */
async function checkLogprobs(o: FewShotRunOptions): Promise<number> {
  const caps = await o.provider.capabilities(o.signal);
  if (!caps.nextTokenLogprobs) {
    throw new UserError(
      `${o.provider.kind}/${o.provider.model} returns no next-token log-probabilities, which DP few-shot generation needs`,
      caps.notes.join(' ') ||
        'Use an OpenAI-compatible model with logprobs (gpt-4.1-mini, or a local vLLM/Ollama/llama.cpp model), or the built-in offline model.',
    );
  }
  return Math.min(o.topK ?? caps.nextTokenLogprobs.maxTopK, caps.nextTokenLogprobs.maxTopK);
}

/**
 * 1. Reserve the whole run before any mechanism reads private data: the count release plus a stand-in for the
 *    token steps (their σ and q are not known before the noisy counts). The run's parameters are public values only;
 *    which earlier runs the admission counts follows the records' keyed fingerprints (ledger identity by records).
 * 2. Read the pools and release their sizes once, with Gaussian noise from the cryptographic sampler.
 * 3. Settle that reservation with the count release alone; its stand-in steps are replaced by the real ones next.
 * 4. The token-step mechanisms from the noisy counts only (post-processing), reserved before any prompt is sent.
 */
async function releaseCountsAndReserve(o: FewShotRunOptions, random: (stream: string) => RandomSource) {
  const { settings } = o.plan;
  const target = {
    identity: o.dataset.identity,
    units: o.units,
    unitColumn: o.dataset.columns.unit,
    records: canonicalRecords(o.dataset),
  };
  const countsReservation: Reservation = await o.ledger.reserve(target, o.plan.ledgerPlan);
  const { pools } = buildPools(o.dataset, settings.labels);
  const noisy = releasePoolCounts(exactPoolCounts(pools, settings.labels), o.plan.counts.sigma, random('counts'));
  await countsReservation.settle({ used: o.plan.counts.charges, released: releasedHash(noisy) });
  const mechanism = calibrateFromCounts(o.plan, noisy);
  if (mechanism.warnings.length) o.onWarnings?.(mechanism.warnings);
  let reservation: Reservation;
  try {
    reservation = await o.ledger.reserve(target, {
      ...mechanism.ledgerPlan,
      group: countsReservation.id,
      guarantee: { epsilon: settings.epsilon, delta: settings.delta },
    });
  } catch (e) {
    if (isBudgetRefusal(e))
      e.message += `; the noisy pool-count release (ε ${fmtEps(o.plan.counts.epsilon)}) was charged`;
    throw e;
  }
  return { pools, noisy, countsReservation, mechanism, reservation };
}

/**
 * Writes the demonstrations: one chain is one worker writing a label's shots one after another. Chains run
 * concurrently, so the run's critical path is the longest chain. The first failure stops every chain.
 */
class ShotWriter {
  failure: Error | undefined;
  readonly chains: DecodeStats[] = [];
  private readonly startedShots: Map<string, number>;
  /** Indexed by shot, so the output order does not depend on which demonstration finished first. */
  private readonly results: Map<string, (Demonstration | undefined)[]>;

  constructor(
    private readonly o: FewShotRunOptions,
    private readonly x: {
      pools: Map<string, PoolUnit[]>;
      random: (stream: string) => RandomSource;
      topK: number;
      lookahead: number;
      checkpoint: Checkpoint;
    },
  ) {
    const labels = o.plan.settings.labels;
    this.startedShots = new Map(labels.map((l) => [l, 0]));
    this.results = new Map(labels.map((l) => [l, []]));
  }

  newChain(): DecodeStats {
    const stats: DecodeStats = { queries: 0, roundTrips: 0, tokens: 0, reused: 0, refused: 0 };
    this.chains.push(stats);
    return stats;
  }

  started(label: string): number {
    return this.startedShots.get(label)!;
  }

  total(k: Exclude<keyof DecodeStats, 'refused'>): number {
    return this.chains.reduce((a, x) => a + x[k], 0);
  }

  longest(): number {
    return this.chains.reduce((a, x) => Math.max(a, x.roundTrips), 0);
  }

  refused(): number {
    return this.chains.reduce((a, x) => a + (x.refused ?? 0), 0);
  }

  demonstrations(): Demonstration[] {
    return this.o.plan.settings.labels.flatMap((l) =>
      this.results.get(l)!.filter((d): d is Demonstration => d !== undefined),
    );
  }

  private progress(label: string, shot: number, text: string, tokens: number, done: boolean): void {
    const u = this.o.provider.usage();
    this.o.onProgress?.({
      label,
      shot,
      text,
      tokens,
      done,
      calls: u.calls,
      roundTrips: this.longest(),
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      cost: u.cost,
    });
  }

  async chain(lp: LabelPlan, stats: DecodeStats): Promise<void> {
    const { o, x } = this;
    const { settings } = o.plan;
    try {
      for (;;) {
        o.signal?.throwIfAborted();
        if (this.failure) return;
        const shot = this.startedShots.get(lp.label)!;
        if (shot >= settings.shots) return;
        this.startedShots.set(lp.label, shot + 1); // charged in full from its first token on
        const noiseRng = x.random(`noise:${lp.label}:${shot}`);
        const r = await decodeDemonstration({
          provider: o.provider,
          format: o.format ?? DEFAULT_FORMAT,
          label: lp.label,
          pool: x.pools.get(lp.label)!,
          prompts: settings.prompts,
          samplingRate: lp.samplingRate,
          sigma: lp.sigma,
          maxTokens: settings.maxTokens,
          topK: x.topK,
          lookahead: x.lookahead,
          prefetch: o.prefetch ?? (o.provider.offline ? x.lookahead - 1 : 0),
          sampling: x.random(`sample:${lp.label}:${shot}`),
          noise: (std) => gaussianNoise(noiseRng, std),
          signal: o.signal,
          stats,
          onToken: (text, tokens) => this.progress(lp.label, shot, text, tokens, false),
        });
        const demo = { label: lp.label, text: r.text };
        this.results.get(lp.label)![shot] = demo;
        await x.checkpoint.write({ type: 'demonstration', ...demo, shot, steps: r.steps, stop: r.stop });
        this.progress(lp.label, shot, r.text, r.steps, true);
      }
    } catch (e) {
      this.failure ??= e as Error;
    }
  }
}

/** The run's full local record (public parameters and local diagnostics; see FewShotReport). */
function fewShotReport(
  o: FewShotRunOptions,
  r: { topK: number; lookahead: number; concurrency: number; epsilonCharged: number; durationMs: number },
  shots: ShotWriter,
): FewShotReport {
  const { settings } = o.plan;
  const u = o.provider.usage();
  return {
    tool: TOOL_VERSION,
    algorithm: 'dp-few-shot',
    dataset: { path: o.dataset.identity.path, contentSha256: o.dataset.identity.contentSha256 },
    provider: { kind: o.provider.kind, model: o.provider.model, offline: o.provider.offline },
    privacy: {
      epsilon: settings.epsilon,
      delta: settings.delta,
      accountant: 'pld',
      epsilonCharged: r.epsilonCharged,
      unit: o.dataset.columns.unit ?? 'row',
    },
    parameters: {
      labels: settings.labels,
      shots: settings.shots,
      prompts: settings.prompts,
      examplesPerPrompt: settings.examplesPerPrompt,
      maxTokens: settings.maxTokens,
      topK: r.topK,
      lookahead: r.lookahead,
      shotConcurrency: r.concurrency,
    },
    usage: {
      calls: u.calls,
      queries: shots.total('queries'),
      roundTrips: shots.longest(),
      waves: shots.total('roundTrips'),
      chains: shots.chains.length,
      reused: shots.total('reused'),
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      cost: u.cost,
      tokensReleased: shots.total('tokens'),
    },
    durationMs: r.durationMs,
  };
}

function fmtEps(x: number): string {
  return formatSignificant(x, 3);
}
