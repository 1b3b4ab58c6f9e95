import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { canonicalRecords, type Dataset } from '../data';
import { UserError } from '../errors';
import { buildPools } from '../fewshot/plan';
import type { Charge, Ledger, Reservation } from '../ledger';
import { cryptoRandom, epsilonFor, type RandomSource } from '../privacy';
import { ProviderError } from '../providers/errors';
import { PROBE } from '../providers/probe';
import { isRequestRefusal, settleEmbeddings } from '../providers/refusal';
import type { GenerateRequest, Provider, Usage } from '../providers/types';
import { journalDiagnostics, localJournalPath } from '../release';
import { TOOL_VERSION } from '../version';
import {
  privatizeHistogram,
  rankSelect,
  toMatrix,
  voteHistogramsAsync,
  type Matrix,
  type VoteGroup,
} from './histogram';
import { promptSettings, type AugPePlan } from './plan';
import { cleanOutput, humanizeLabel, randomApiRequest, variationRequest } from './prompts';

/** A released synthetic record. */
export interface SyntheticRecord {
  label: string;
  text: string;
}

export interface AugPeProgress {
  phase: 'embed-private' | 'initial' | 'histogram' | 'variations';
  /** 0 while the initial population is written; t during iteration t. */
  iteration: number;
  iterations: number;
  label?: string;
  /** Noisy histograms computed so far (what a stop now would charge). */
  histograms: number;
  /** Synthetic texts the generator has written so far. */
  completions: number;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

export interface AugPeRunOptions {
  dataset: Dataset;
  plan: AugPePlan;
  /** Writes and varies candidates. Sees only public text: labels, the word lists, and its own candidates. */
  provider: Provider;
  /** Embeds private rows and candidates (default: `provider`). The only component that sees private text. */
  embedder?: Provider;
  ledger: Ledger;
  /** Units in the dataset (the ledger's n). */
  units: number;
  /**
   * Randomness for a named stream (noise, prompt choices, masks). Production: a cryptographic source for every
   * stream (the default). Tests inject seeded streams; nothing else may.
   */
  random?: (stream: string) => RandomSource;
  /** Folder for checkpoints (default <workspace>/.private-fewshot/runs). */
  checkpointDir?: string;
  /** Private rows per embedding request (default 256). */
  embedBatch?: number;
  signal?: AbortSignal;
  onProgress?: (p: AugPeProgress) => void;
  now?: () => number;
}

/**
 * The run's full local record: public parameters AND local diagnostics (dataset path and hash, usage, duration),
 * which are computed from the private data without noise. Not a release: nothing renders it for export. What may
 * leave the machine is built from it by augPeRelease (src/core/release.ts).
 */
export interface AugPeReport {
  tool: string;
  algorithm: 'aug-pe';
  dataset: { path: string; contentSha256: string };
  provider: { kind: string; model: string; offline: boolean };
  embedder: { kind: string; model: string; offline: boolean };
  privacy: {
    epsilon: number;
    delta: number;
    sigma: number;
    iterations: number;
    histograms: number;
    mu: number;
    accountant: 'gdp';
    epsilonCharged: number;
    unit: string;
  };
  parameters: {
    labels: string[];
    counts: number[];
    variations: number;
    neighbours: number;
    metric: string;
    threshold: number;
    variation: string;
    maskProbability: number;
    temperature: number;
    maxTokens: number;
  };
  /**
   * Model use for synthetic text only (generation and candidate embeddings). The embedding of the private rows is
   * left out: its size depends on the private data (see AugPeResult.privateEmbeddingUsage).
   */
  usage: {
    calls: number;
    generateRequests: number;
    completions: number;
    syntheticEmbedded: number;
    inputTokens: number;
    outputTokens: number;
    cost: number;
  };
  durationMs: number;
}

export interface AugPeResult {
  records: SyntheticRecord[];
  /** Completed, cancelled or failed; on a stop, the last selected population of each label is kept and charged. */
  status: 'completed' | 'cancelled' | 'failed';
  error?: Error;
  /** Histograms that ran (the steps charged). */
  histograms: number;
  reservation: { id: string; epsilonRun: number; spentAfter: number };
  /** ε of what ran (σ, histograms), at the plan's δ. */
  epsilonCharged: number;
  report: AugPeReport;
  checkpoint: string;
  /** Local only (private: it depends on the private rows): the embedder's use for the private rows. */
  privateEmbeddingUsage: Usage;
  /** Local only (private): private rows the embedder refused; they cast no vote. */
  refusedPrivateRows: number;
}

const ZERO: Usage = { calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 };
function minus(a: Usage, b: Usage): Usage {
  return {
    calls: a.calls - b.calls,
    inputTokens: a.inputTokens - b.inputTokens,
    outputTokens: a.outputTokens - b.outputTokens,
    cost: a.cost - b.cost,
  };
}
function plus(a: Usage, b: Usage): Usage {
  return {
    calls: a.calls + b.calls,
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cost: a.cost + b.cost,
  };
}

/**
 * Runs a planned Aug-PE generation (Xie et al., ICML 2024, Alg. 1 with rank selection and kept samples):
 * reserve before any private text is embedded; embed the private rows once; write the initial population with
 * RANDOM_API (n_c per label) plus L−1 VARIATION_API outputs of each; then T times: embed the new candidates, let the
 * private units vote (DP nearest-neighbour histogram), keep the top n_c by noisy votes, checkpoint them, and (except
 * after the last histogram) add L−1 variations of each. The output is the last selected population.
 *
 * Accounting: T is fixed before the run, so a stop after i histograms settles i steps (every started histogram
 * counts). A crash leaves the reservation charged in full.
 */
export async function runAugPe(o: AugPeRunOptions): Promise<AugPeResult> {
  const now = o.now ?? Date.now;
  const started = now();
  const generator = o.provider;
  const embedder = o.embedder ?? o.provider;
  const sameProvider = embedder === generator;
  const genCaps = await generator.capabilities(o.signal);
  if (!genCaps.generate)
    throw new UserError(
      `${generator.kind}/${generator.model} cannot generate text, which Aug-PE needs`,
      genCaps.notes.join(' ') || 'Use a chat model.',
    );
  const embCaps = sameProvider ? genCaps : await embedder.capabilities(o.signal);
  if (!embCaps.embed) {
    throw new UserError(
      `${embedder.kind}/${embedder.model} returns no embeddings, which Aug-PE needs`,
      'Use an embedding model (e.g. text-embedding-3-small, nomic-embed-text on Ollama) or the built-in embedder (--embedder builtin).',
    );
  }
  const random = o.random ?? (() => cryptoRandom());
  const { plan } = o;
  const s = plan.settings;
  const T = s.iterations;
  const L = s.variations + 1;
  const prompts = promptSettings(s);
  const { pools } = buildPools(o.dataset, s.labels);

  // Reserve before any private text is embedded.
  const reservation: Reservation = await o.ledger.reserve(
    {
      identity: o.dataset.identity,
      units: o.units,
      unitColumn: o.dataset.columns.unit,
      records: canonicalRecords(o.dataset),
    },
    plan.ledgerPlan,
  );
  const checkpointDir = o.checkpointDir ?? path.join(o.ledger.workspaceRoot, '.private-fewshot', 'runs');
  await mkdir(checkpointDir, { recursive: true });
  const checkpoint = path.join(checkpointDir, `${reservation.id}.jsonl`);
  const write = (line: object) => appendFile(checkpoint, JSON.stringify(line) + '\n');
  await write({
    type: 'run',
    id: reservation.id,
    algorithm: 'aug-pe',
    time: new Date(started).toISOString(),
    labels: s.labels,
    counts: plan.labels.map((l) => l.count),
    iterations: T,
    sigma: plan.sigma,
  });

  let histograms = 0;
  let completions = 0;
  let generateRequests = 0;
  let syntheticEmbedded = 0;
  let privateEmbeddingUsage: Usage = ZERO;
  let refusedPrivateRows = 0;
  const genStart = generator.usage();
  const embStart = sameProvider ? genStart : embedder.usage();
  const totalUsage = (): Usage => (sameProvider ? generator.usage() : plus(generator.usage(), embedder.usage()));
  const progress = (phase: AugPeProgress['phase'], iteration: number, label?: string) => {
    const u = totalUsage();
    o.onProgress?.({
      phase,
      iteration,
      iterations: T,
      ...(label !== undefined ? { label } : {}),
      histograms,
      completions,
      calls: u.calls,
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      cost: u.cost,
    });
  };

  /** Sends the requests, one generate call per distinct request with n = its multiplicity; answers in request order. */
  const generateAll = async (reqs: GenerateRequest[], fallbacks: string[]): Promise<string[]> => {
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
        const r = await generator.generate({ ...reqs[idx[0]!]!, n: idx.length, signal: o.signal });
        generateRequests++;
        idx.forEach((i, j) => (out[i] = cleanOutput(r.texts[j] ?? '', fallbacks[i]!)));
        completions += idx.length;
      }),
    );
    return out;
  };

  const variationsOf = (label: string, samples: readonly string[], stream: string): Promise<string[]> => {
    const rng = random(stream);
    const reqs: GenerateRequest[] = [];
    const fallbacks: string[] = [];
    for (const sample of samples) {
      for (let v = 0; v < L - 1; v++) {
        reqs.push(variationRequest(label, sample, prompts, rng));
        fallbacks.push(sample);
      }
    }
    return generateAll(reqs, fallbacks);
  };

  const selected = new Map<string, { text: string; votes: number }[]>();
  const populations = new Map<string, string[]>();
  const embeddingCache = new Map<string, Float32Array>();
  const embedCandidates = async (texts: readonly string[]): Promise<Matrix> => {
    const missing = [...new Set(texts.filter((t) => !embeddingCache.has(t)))];
    if (missing.length) {
      const vs = await embedder.embed(missing, o.signal);
      if (vs.length !== missing.length)
        throw new UserError(`the embedder returned ${vs.length} vectors for ${missing.length} texts`);
      missing.forEach((t, i) => embeddingCache.set(t, vs[i]!));
      syntheticEmbedded += missing.length;
    }
    return toMatrix(texts.map((t) => embeddingCache.get(t)!));
  };

  let failure: Error | undefined;
  try {
    // 1. The private rows, embedded once. Private text goes to the embedder only.
    progress('embed-private', 0);
    const privateGroups = new Map<string, { embeddings: Matrix; units: string[] }>();
    const batch = Math.max(1, o.embedBatch ?? 256);
    try {
      for (const label of s.labels) {
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
          const vs = await settleEmbeddings(embedder, chunk, o.signal);
          let inDoubt = false;
          vs.forEach((v, j) => {
            if (v instanceof ProviderError) {
              refusedPrivateRows++;
              if (!isRequestRefusal(v)) inDoubt = true;
            } else {
              vectors.push(v);
              kept.push(units[i + j]!);
            }
          });
          // Timeouts/5xx on private rows only: stop if a public request fails too (the server is down), else go on.
          if (inDoubt) await embedder.embed([PROBE.embed], o.signal);
        }
        privateGroups.set(label, { embeddings: toMatrix(vectors), units: kept });
      }
    } finally {
      privateEmbeddingUsage = minus(embedder.usage(), embStart);
    }

    // 2. Initial population: n_c RANDOM_API samples, plus L−1 variations of each (pe initial_variation_api_fold).
    progress('initial', 0);
    await Promise.all(
      plan.labels.map(async (lp) => {
        const rng = random(`prompts:${lp.label}:init`);
        const seeds = await generateAll(
          Array.from({ length: lp.count }, () => randomApiRequest(lp.label, prompts, rng)),
          Array.from({ length: lp.count }, () => humanizeLabel(lp.label)),
        );
        const vars = await variationsOf(lp.label, seeds, `prompts:${lp.label}:init-variations`);
        populations.set(lp.label, [...seeds, ...vars]);
        await write({ type: 'initial', label: lp.label, candidates: [...seeds, ...vars] });
        progress('initial', 0, lp.label);
      }),
    );

    // 3. T iterations of vote, select, vary.
    for (let t = 1; t <= T; t++) {
      o.signal?.throwIfAborted();
      const groups: VoteGroup[] = [];
      for (const lp of plan.labels) {
        const pg = privateGroups.get(lp.label)!;
        groups.push({
          private: pg.embeddings,
          units: pg.units,
          candidates: await embedCandidates(populations.get(lp.label)!),
        });
      }
      o.signal?.throwIfAborted();
      histograms = t; // charged from here on, whatever happens next
      progress('histogram', t);
      const clean = await voteHistogramsAsync(groups, s.neighbours, s.metric); // worker threads when they pay
      for (let i = 0; i < plan.labels.length; i++) {
        const lp = plan.labels[i]!;
        const noisy = privatizeHistogram(clean[i]!, plan.sigma, random(`noise:${lp.label}:${t}`), s.threshold);
        const pop = populations.get(lp.label)!;
        const picked = rankSelect(noisy, lp.count).map((j) => ({ text: pop[j]!, votes: noisy[j]! }));
        selected.set(lp.label, picked);
        await write({ type: 'selected', iteration: t, label: lp.label, records: picked });
      }
      if (t === T) break;
      await yieldToEventLoop();
      progress('variations', t);
      await Promise.all(
        plan.labels.map(async (lp) => {
          const keep = selected.get(lp.label)!.map((x) => x.text);
          const vars = await variationsOf(lp.label, keep, `prompts:${lp.label}:${t}`);
          populations.set(lp.label, [...keep, ...vars]);
          progress('variations', t, lp.label);
        }),
      );
    }
  } catch (e) {
    failure = e as Error;
  }

  const records: SyntheticRecord[] = s.labels.flatMap((label) =>
    (selected.get(label) ?? []).map((x) => ({ label, text: x.text })),
  );
  const cancelled = failure !== undefined && (o.signal?.aborted ?? false);
  const status: AugPeResult['status'] = failure === undefined ? 'completed' : cancelled ? 'cancelled' : 'failed';
  const used: Charge[] = plan.ledgerPlan.charges.map((c) => ({
    partition: c.partition,
    mechanism: { kind: 'gaussian', sigma: plan.sigma, steps: histograms },
  }));
  const released = createHash('sha256').update(JSON.stringify(records)).digest('hex');
  await reservation.settle({ used, released });
  await write({ type: 'settled', status, histograms, released });

  const epsilonCharged =
    histograms === 0 ? 0 : epsilonFor([{ kind: 'gaussian', sigma: plan.sigma, steps: histograms }], s.delta, 'gdp');
  // Synthetic-only use: everything since the start minus the private embedding.
  const spent = minus(
    sameProvider
      ? minus(generator.usage(), genStart)
      : plus(minus(generator.usage(), genStart), minus(embedder.usage(), embStart)),
    privateEmbeddingUsage,
  );
  const report: AugPeReport = {
    tool: TOOL_VERSION,
    algorithm: 'aug-pe',
    dataset: { path: o.dataset.identity.path, contentSha256: o.dataset.identity.contentSha256 },
    provider: { kind: generator.kind, model: generator.model, offline: generator.offline },
    embedder: { kind: embedder.kind, model: embedder.model, offline: embedder.offline },
    privacy: {
      epsilon: s.epsilon,
      delta: s.delta,
      sigma: plan.sigma,
      iterations: T,
      histograms,
      mu: Math.sqrt(histograms) / plan.sigma,
      accountant: 'gdp',
      epsilonCharged,
      unit: o.dataset.columns.unit ?? 'row',
    },
    parameters: {
      labels: s.labels,
      counts: plan.labels.map((l) => l.count),
      variations: s.variations,
      neighbours: s.neighbours,
      metric: s.metric,
      threshold: s.threshold,
      variation: s.variation,
      maskProbability: s.maskProbability,
      temperature: s.temperature,
      maxTokens: s.maxTokens,
    },
    usage: {
      calls: spent.calls,
      generateRequests,
      completions,
      syntheticEmbedded,
      inputTokens: spent.inputTokens,
      outputTokens: spent.outputTokens,
      cost: spent.cost,
    },
    durationMs: now() - started,
  };
  // The run journal: the local diagnostics in a file beside the checkpoint (never in a release: src/core/release.ts).
  await writeFile(
    localJournalPath(checkpoint),
    JSON.stringify({ ...journalDiagnostics(report), privateEmbeddingUsage }, null, 2) + '\n',
  );
  return {
    records,
    status,
    ...(failure && !cancelled ? { error: failure } : {}),
    histograms,
    reservation: { id: reservation.id, epsilonRun: reservation.epsilonRun, spentAfter: reservation.spentAfter },
    epsilonCharged,
    report,
    checkpoint,
    privateEmbeddingUsage,
    refusedPrivateRows,
  };
}
