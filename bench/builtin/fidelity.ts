// Label fidelity of DP few-shot demonstrations written with the built-in model: do a label's demonstrations use that
// label's vocabulary? Shared by `npm run bench -- builtin` and test/core/providers/builtin/label.test.ts.
//
// The generation goes through the real decodeDemonstration path (public zero-shot candidates, Poisson-sampled
// private prompts, noisy argmax), with seeded streams so that a run is reproducible. Two measures per label L:
// - own share: the share of L's demonstrations' words that occur in L's rows; "other share" is the mean over the
//   other labels L' of the share of L's demonstrations' words that occur in L''s rows, so own − other (the lift)
//   discounts the function words every label uses; "others' share" looks the other way: the mean share of the other
//   labels' demonstrations' words that occur in L's rows (the same lift on average, but per label it does not depend
//   on how large L's vocabulary is);
// - nearest centroid: the share of demonstrations whose built-in embedding is closer (cosine) to the centroid of L's
//   rows than to any other label's centroid (chance is 1/|labels|).
import path from 'node:path';
import type { Dataset } from '../../src/core/data';
import { loadDataset } from '../../src/core/data';
import { decodeDemonstration, type DecodeStats } from '../../src/core/fewshot/decode';
import { exactPoolCounts } from '../../src/core/fewshot/counts';
import { calibrateFromCounts, planFewShot } from '../../src/core/fewshot/plan';
import { buildPools } from '../../src/core/runs/pools';
import { DEFAULT_FORMAT } from '../../src/core/fewshot/prompt';
import { gaussianNoise } from '../../src/core/privacy';
import { seededRandom } from '../../test/support/rng';
import { createBuiltinProvider, embedText, type BuiltinProviderOptions } from '../../src/core/providers/builtin';
import { words } from '../../src/core/providers/builtin/embed';

export const SAMPLE = path.resolve(__dirname, '../../examples/banking77-sample.csv');

/** Labels of different topics in the Banking77 sample; their names are the only public hint about them. */
export const FIDELITY_LABELS = [
  'card_arrival',
  'lost_or_stolen_card',
  'exchange_rate',
  'top_up_failed',
  'pin_blocked',
  'cash_withdrawal_charge',
];

export interface FidelityOptions {
  dataset: Dataset;
  labels?: string[];
  model?: BuiltinProviderOptions;
  epsilon: number;
  shots: number;
  maxTokens: number;
  prompts?: number;
  examplesPerPrompt?: number;
  topK?: number;
  /** Overrides the planned σ (e.g. 0: no noise; Infinity is not allowed, use a large number for "noise only"). */
  sigma?: number;
  seed: string;
}

export interface LabelFidelity {
  label: string;
  texts: string[];
  ownShare: number;
  otherShare: number;
  othersShare: number;
  /** Share of the demonstrations whose nearest label centroid is their own label. */
  nearest: number;
}

export interface Fidelity {
  labels: LabelFidelity[];
  /** Means over the labels. */
  ownShare: number;
  otherShare: number;
  lift: number;
  nearest: number;
  /** Words released in all. */
  words: number;
}

export async function loadSample(): Promise<Dataset> {
  return loadDataset(path.basename(SAMPLE), { root: path.dirname(SAMPLE) });
}

function rowsByLabel(ds: Dataset, labels: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>(labels.map((l) => [l, []]));
  for (const ex of ds.examples) out.get(ex.label)?.push(ex.text);
  return out;
}

function cosine(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

function centroid(texts: readonly string[]): Float64Array {
  const c = new Float64Array(embedText('', 512).length);
  for (const t of texts) {
    const e = embedText(t, 512);
    for (let i = 0; i < c.length; i++) c[i]! += e[i]!;
  }
  return c;
}

/** Writes `shots` demonstrations per label and scores them against the labels' own rows. */
export async function measureFidelity(o: FidelityOptions): Promise<Fidelity> {
  const labels = o.labels ?? FIDELITY_LABELS;
  const rows = rowsByLabel(o.dataset, labels);
  const vocab = new Map([...rows].map(([l, texts]) => [l, new Set(texts.flatMap(words))]));
  const centroids = new Map([...rows].map(([l, texts]) => [l, centroid(texts)]));
  const plan = planFewShot(o.dataset, {
    labels,
    shots: o.shots,
    epsilon: o.epsilon,
    delta: 1e-5,
    maxTokens: o.maxTokens,
    prompts: o.prompts ?? 10,
    examplesPerPrompt: o.examplesPerPrompt ?? 2,
  });
  const { pools } = buildPools(o.dataset, labels);
  // q and σ as runFewShot sets them from the pool counts, but at the counts without noise: a utility measurement
  // (seeded throughout, so not private anyway) that should not move with one draw of the count noise.
  const mechanism = calibrateFromCounts(plan, exactPoolCounts(pools, labels));
  const provider = createBuiltinProvider(o.model);
  const stats: DecodeStats = { queries: 0, roundTrips: 0, tokens: 0, reused: 0 };
  const out: LabelFidelity[] = [];
  const released: string[][] = [];
  for (const lp of mechanism.labels) {
    const texts: string[] = [];
    for (let shot = 0; shot < o.shots; shot++) {
      const noise = seededRandom(`${o.seed}/noise/${lp.label}/${shot}`);
      const r = await decodeDemonstration({
        provider,
        format: DEFAULT_FORMAT,
        label: lp.label,
        pool: pools.get(lp.label)!,
        prompts: plan.settings.prompts,
        samplingRate: lp.samplingRate,
        sigma: o.sigma ?? lp.sigma,
        maxTokens: o.maxTokens,
        topK: o.topK ?? 50,
        lookahead: 1,
        sampling: seededRandom(`${o.seed}/sample/${lp.label}/${shot}`),
        noise: (std) => (std === 0 ? 0 : gaussianNoise(noise, std)),
        stats,
      });
      texts.push(r.text);
    }
    const ws = texts.flatMap(words);
    released.push(ws);
    const share = (l: string) => shareIn(ws, vocab.get(l)!);
    const others = labels.filter((l) => l !== lp.label);
    let nearest = 0;
    for (const t of texts) {
      const e = embedText(t, 512);
      const sims = labels.map((l) => cosine(e, centroids.get(l)!));
      const best = sims.indexOf(Math.max(...sims));
      if (labels[best] === lp.label) nearest++;
    }
    out.push({
      label: lp.label,
      texts,
      ownShare: share(lp.label),
      otherShare: others.reduce((a, l) => a + share(l), 0) / others.length,
      othersShare: 0,
      nearest: texts.length ? nearest / texts.length : 0,
    });
  }
  out.forEach((x, i) => {
    const others = released.filter((_, j) => j !== i);
    x.othersShare = others.reduce((a, ws) => a + shareIn(ws, vocab.get(x.label)!), 0) / others.length;
  });
  const mean = (f: (x: LabelFidelity) => number) => out.reduce((a, x) => a + f(x), 0) / out.length;
  return {
    labels: out,
    ownShare: mean((x) => x.ownShare),
    otherShare: mean((x) => x.otherShare),
    lift: mean((x) => x.ownShare - x.otherShare),
    nearest: mean((x) => x.nearest),
    words: released.reduce((a, ws) => a + ws.length, 0),
  };
}

function shareIn(ws: readonly string[], vocab: ReadonlySet<string>): number {
  return ws.length === 0 ? 0 : ws.filter((w) => vocab.has(w)).length / ws.length;
}

/** One line per measure, for the bench and test diagnostics. */
export function describe(f: Fidelity): string {
  return `own share ${f.ownShare.toFixed(3)}, other labels ${f.otherShare.toFixed(3)}, lift ${f.lift.toFixed(3)}, nearest centroid ${f.nearest.toFixed(3)} (${f.words} words)`;
}
