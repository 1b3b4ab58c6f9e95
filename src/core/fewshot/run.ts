import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { canonicalRecords, type Dataset } from '../data';
import { UserError } from '../errors';
import type { Charge, Ledger, Reservation } from '../ledger';
import { cryptoRandom, gaussianNoise, type RandomSource } from '../privacy';
import type { Provider } from '../providers/types';
import { TOOL_VERSION } from '../version';
import { decodeDemonstration, type DecodeStats } from './decode';
import type { Demonstration } from './export';
import { buildPools, FEWSHOT_DEFAULTS, runEpsilon, type FewShotPlan } from './plan';
import { DEFAULT_FORMAT, type PromptFormat } from './prompt';

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
  ledger: Ledger;
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
  now?: () => number;
}

export interface FewShotResult {
  demonstrations: Demonstration[];
  /** Completed, cancelled (partial results kept and charged), or failed (partial results kept and charged). */
  status: 'completed' | 'cancelled' | 'failed';
  error?: Error;
  reservation: { id: string; epsilonRun: number; spentAfter: number };
  /** The ε this run was charged when it settled (the planned ε, or less after a cancel or failure). */
  epsilonCharged: number;
  report: FewShotReport;
  checkpoint: string;
}

export interface FewShotReport {
  tool: string;
  algorithm: 'dp-few-shot';
  dataset: { path: string; contentSha256: string };
  provider: { kind: string; model: string; offline: boolean };
  privacy: { epsilon: number; delta: number; accountant: 'pld'; epsilonCharged: number; unit: string };
  parameters: {
    labels: string[];
    shots: number;
    prompts: number;
    examplesPerPrompt: number;
    maxTokens: number;
    topK: number;
    lookahead: number;
    shotConcurrency: number;
  };
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
 * demonstration, and
 * settle with the steps actually charged — a started demonstration costs its full token budget T_max whatever its
 * length, because the stopping time depends on the data. Cancel or failure: stop, keep what was written, settle
 * the started demonstrations. A crash leaves the reservation charged in full.
 */
export async function runFewShot(o: FewShotRunOptions): Promise<FewShotResult> {
  const now = o.now ?? Date.now;
  const started = now();
  const caps = await o.provider.capabilities(o.signal);
  if (!caps.nextTokenLogprobs) {
    throw new UserError(
      `${o.provider.kind}/${o.provider.model} returns no next-token log-probabilities, which DP few-shot generation needs`,
      caps.notes.join(' ') ||
        'Use an OpenAI-compatible model with logprobs (gpt-4.1-mini, or a local vLLM/Ollama/llama.cpp model), or the built-in offline model.',
    );
  }
  const topK = Math.min(o.topK ?? caps.nextTokenLogprobs.maxTopK, caps.nextTokenLogprobs.maxTopK);
  const lookahead = o.lookahead ?? (o.provider.offline ? FEWSHOT_DEFAULTS.lookahead : 1);
  const random = o.random ?? (() => cryptoRandom());
  const { settings } = o.plan;
  const { pools } = buildPools(o.dataset, settings.labels);

  // Reserve before any private example is sent anywhere.
  const reservation: Reservation = await o.ledger.reserve(
    { identity: o.dataset.identity, units: o.units, records: canonicalRecords(o.dataset) },
    o.plan.ledgerPlan,
  );
  const checkpointDir = o.checkpointDir ?? path.join(o.ledger.workspaceRoot, '.private-fewshot', 'runs');
  await mkdir(checkpointDir, { recursive: true });
  const checkpoint = path.join(checkpointDir, `${reservation.id}.jsonl`);
  await appendFile(
    checkpoint,
    JSON.stringify({
      type: 'run',
      id: reservation.id,
      time: new Date(started).toISOString(),
      labels: settings.labels,
      shots: settings.shots,
    }) + '\n',
  );

  // One counter per chain: a chain is one worker writing a label's shots one after another. Chains run
  // concurrently, so the run's critical path is the longest chain.
  const concurrency = Math.max(1, Math.min(settings.shots, Math.floor(o.shotConcurrency ?? settings.shots)));
  const chains: DecodeStats[] = [];
  const total = (k: keyof DecodeStats) => chains.reduce((a, x) => a + x[k], 0);
  const longest = () => chains.reduce((a, x) => Math.max(a, x.roundTrips), 0);
  const startedShots = new Map<string, number>(settings.labels.map((l) => [l, 0]));
  // Indexed by shot, so the output order does not depend on which demonstration finished first.
  const results = new Map<string, (Demonstration | undefined)[]>(settings.labels.map((l) => [l, []]));
  const progress = (label: string, shot: number, text: string, tokens: number, done: boolean) => {
    const u = o.provider.usage();
    o.onProgress?.({
      label,
      shot,
      text,
      tokens,
      done,
      calls: u.calls,
      roundTrips: longest(),
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      cost: u.cost,
    });
  };

  let failure: Error | undefined;
  const chain = async (lp: FewShotPlan['labels'][number], stats: DecodeStats) => {
    try {
      for (;;) {
        o.signal?.throwIfAborted();
        if (failure) return;
        const shot = startedShots.get(lp.label)!;
        if (shot >= settings.shots) return;
        startedShots.set(lp.label, shot + 1); // charged in full from its first token on
        const noiseRng = random(`noise:${lp.label}:${shot}`);
        const r = await decodeDemonstration({
          provider: o.provider,
          format: o.format ?? DEFAULT_FORMAT,
          label: lp.label,
          pool: pools.get(lp.label)!,
          prompts: settings.prompts,
          samplingRate: lp.samplingRate,
          sigma: lp.sigma,
          maxTokens: settings.maxTokens,
          topK,
          lookahead,
          prefetch: o.prefetch ?? (o.provider.offline ? lookahead - 1 : 0),
          sampling: random(`sample:${lp.label}:${shot}`),
          noise: (std) => gaussianNoise(noiseRng, std),
          signal: o.signal,
          stats,
          onToken: (text, tokens) => progress(lp.label, shot, text, tokens, false),
        });
        const demo = { label: lp.label, text: r.text };
        results.get(lp.label)![shot] = demo;
        await appendFile(
          checkpoint,
          JSON.stringify({ type: 'demonstration', ...demo, shot, steps: r.steps, stop: r.stop }) + '\n',
        );
        progress(lp.label, shot, r.text, r.steps, true);
      }
    } catch (e) {
      failure ??= e as Error;
    }
  };
  await Promise.all(
    o.plan.labels.flatMap((lp) =>
      Array.from({ length: concurrency }, () => {
        const stats: DecodeStats = { queries: 0, roundTrips: 0, tokens: 0, reused: 0 };
        chains.push(stats);
        return chain(lp, stats);
      }),
    ),
  );

  const demonstrations = settings.labels.flatMap((l) =>
    results.get(l)!.filter((d): d is Demonstration => d !== undefined),
  );
  const cancelled = failure !== undefined && (o.signal?.aborted ?? false);
  const status: FewShotResult['status'] = failure === undefined ? 'completed' : cancelled ? 'cancelled' : 'failed';
  const used: Charge[] = o.plan.labels.map((lp) => ({
    partition: lp.partition,
    mechanism: {
      kind: 'poisson-gaussian',
      sigma: lp.sigma,
      samplingRate: lp.samplingRate,
      steps: startedShots.get(lp.label)! * settings.maxTokens,
    },
  }));
  const released = createHash('sha256').update(JSON.stringify(demonstrations)).digest('hex');
  await reservation.settle({ used, released });
  const epsilonCharged = runEpsilon(used, settings.delta, o.plan.sequential);
  await appendFile(checkpoint, JSON.stringify({ type: 'settled', status, released }) + '\n');

  const u = o.provider.usage();
  const report: FewShotReport = {
    tool: TOOL_VERSION,
    algorithm: 'dp-few-shot',
    dataset: { path: o.dataset.identity.path, contentSha256: o.dataset.identity.contentSha256 },
    provider: { kind: o.provider.kind, model: o.provider.model, offline: o.provider.offline },
    privacy: {
      epsilon: settings.epsilon,
      delta: settings.delta,
      accountant: 'pld',
      epsilonCharged,
      unit: o.dataset.columns.unit ?? 'row',
    },
    parameters: {
      labels: settings.labels,
      shots: settings.shots,
      prompts: settings.prompts,
      examplesPerPrompt: settings.examplesPerPrompt,
      maxTokens: settings.maxTokens,
      topK,
      lookahead,
      shotConcurrency: concurrency,
    },
    usage: {
      calls: u.calls,
      queries: total('queries'),
      roundTrips: longest(),
      waves: total('roundTrips'),
      chains: chains.length,
      reused: total('reused'),
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      cost: u.cost,
      tokensReleased: total('tokens'),
    },
    durationMs: now() - started,
  };
  return {
    demonstrations,
    status,
    ...(failure && !cancelled ? { error: failure } : {}),
    reservation: { id: reservation.id, epsilonRun: reservation.epsilonRun, spentAfter: reservation.spentAfter },
    epsilonCharged,
    report,
    checkpoint,
  };
}
