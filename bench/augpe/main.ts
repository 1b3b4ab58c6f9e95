// `npm run bench -- augpe`: Aug-PE timings and the drift of the selection toward the private texts.
//  1. The DP nearest-neighbour histogram at 10k private × 1k candidates × 256 dimensions (one iteration: votes +
//     noise + rank selection), L2 and cosine.
//  2. A full offline run with the built-in model on the Banking77 sample (4 labels, 40 records, T = 10, L = 4).
//  3. Quality over 30 seeds (2 labels, 8 records, ε = 3, T = 3): mean similarity of the released records to their
//     label's private centroid vs. the initial population (what test/core/augpe/run.test.ts asserts once).
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadDataset, summarize, type Dataset } from '../../src/core/data';
import { planAugPe, runAugPe } from '../../src/core/augpe';
import {
  privatizeHistogram,
  rankSelect,
  voteHistograms,
  type Matrix,
  type Metric,
} from '../../src/core/augpe/histogram';
import { Ledger, defaultAccountant } from '../../src/core/ledger';
import { cryptoRandom } from '../../src/core/privacy';
import { seededRandom } from '../../test/support/rng';
import { createBuiltinProvider, embedText } from '../../src/core/providers/builtin';

function randomMatrix(rows: number, dim: number, seed: string): Matrix {
  const rng = seededRandom(seed);
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < data.length; i++) data[i] = rng.nextUint32() / 2 ** 32 - 0.5;
  return { rows, dim, data };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function histogramBench(): void {
  const n = 10_000;
  const m = 1_000;
  const dim = 256;
  const priv = randomMatrix(n, dim, 'private');
  const cands = randomMatrix(m, dim, 'candidates');
  const units = Array.from({ length: n }, (_, i) => `r${i}`);
  const configs: [Metric, number][] = [
    ['l2', 1],
    ['l2', 4],
    ['cosine', 1],
  ];
  for (const [metric, k] of configs) {
    const vote: number[] = [];
    const cpu: number[] = [];
    const noise: number[] = [];
    for (let rep = 0; rep < 2; rep++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const [clean] = voteHistograms([{ private: priv, units, candidates: cands }], k, metric);
      const t1 = performance.now();
      cpu.push(process.cpuUsage(c0).user / 1000);
      const noisy = privatizeHistogram(clean!, 5, cryptoRandom(), 0);
      rankSelect(noisy, m / 4);
      const t2 = performance.now();
      vote.push(t1 - t0);
      noise.push(t2 - t1);
    }
    console.log(
      `histogram ${n} × ${m} × ${dim}, ${metric}, k ${k}: votes ${Math.min(...vote).toFixed(0)} ms wall (${Math.min(...cpu).toFixed(0)} ms CPU), noise + selection ${Math.min(...noise).toFixed(1)} ms (best of 2)`,
    );
  }
}

async function workspace(): Promise<{ root: string; ds: Dataset; units: number; ledger: Ledger }> {
  const root = mkdtempSync(path.join(tmpdir(), 'pfs-bench-augpe-'));
  copyFileSync(path.join(__dirname, '../../examples/banking77-sample.csv'), path.join(root, 'data.csv'));
  const ds = await loadDataset('data.csv', { root });
  const units = summarize(ds).units;
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  await ledger.setTotal({ identity: ds.identity, units }, { epsilon: 1000 });
  return { root, ds, units, ledger };
}

async function fullRun(): Promise<void> {
  const { root, ds, units, ledger } = await workspace();
  try {
    const delta = (await ledger.status({ identity: ds.identity, units })).total.delta;
    const labels = ['card_arrival', 'exchange_rate', 'top_up_failed', 'pin_blocked'];
    const plan = planAugPe(ds, { labels, count: 40, epsilon: 4, delta });
    const marks: { phase: string; iteration: number; at: number }[] = [];
    const t0 = performance.now();
    const r = await runAugPe({
      dataset: ds,
      plan,
      provider: createBuiltinProvider(),
      ledger,
      units,
      onProgress: (p) => marks.push({ phase: p.phase, iteration: p.iteration, at: performance.now() }),
    });
    const wall = performance.now() - t0;
    const histAt = marks.filter((x) => x.phase === 'histogram').map((x) => x.at);
    const perIter = histAt.slice(1).map((x, i) => x - histAt[i]!);
    const initial = (histAt[0] ?? wall) - (marks.find((x) => x.phase === 'initial')?.at ?? t0);
    const u = r.report.usage;
    console.log(
      `full offline run (4 labels, 40 records, T ${plan.settings.iterations}, L ${plan.settings.variations + 1}, σ ${plan.sigma.toFixed(3)}): ${r.status} in ${(wall / 1000).toFixed(1)} s; initial population ${(initial / 1000).toFixed(1)} s; per iteration median ${(median(perIter) / 1000).toFixed(2)} s; ${u.completions} completions in ${u.generateRequests} requests, ${u.syntheticEmbedded} synthetic embeddings`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function quality(seeds: number): Promise<void> {
  const labels = ['card_arrival', 'exchange_rate'];
  const gains: number[][] = [];
  for (let s = 0; s < seeds; s++) {
    const { root, ds, units, ledger } = await workspace();
    try {
      const delta = (await ledger.status({ identity: ds.identity, units })).total.delta;
      const plan = planAugPe(ds, { labels, count: 8, epsilon: 3, delta, iterations: 3 });
      const r = await runAugPe({
        dataset: ds,
        plan,
        provider: createBuiltinProvider(),
        ledger,
        units,
        random: (stream) => seededRandom(`quality-${s}/${stream}`),
      });
      const lines = readFileSync(r.checkpoint, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      gains.push(
        labels.map((label) => {
          const priv = ds.examples.filter((e) => e.label === label).map((e) => embedText(e.text));
          const c = new Float64Array(priv[0]!.length);
          for (const p of priv) for (let i = 0; i < c.length; i++) c[i]! += p[i]!;
          const norm = Math.hypot(...c);
          const sim = (ts: string[]) =>
            ts.reduce((a, t) => a + embedText(t).reduce((x, v, i) => x + v * c[i]!, 0) / norm, 0) / ts.length;
          const init = sim(lines.find((l) => l.type === 'initial' && l.label === label).candidates);
          const last = lines.filter((l) => l.type === 'selected' && l.label === label).at(-1);
          return sim(last.records.map((x: { text: string }) => x.text)) - init;
        }),
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  labels.forEach((l, i) => {
    const g = gains.map((x) => x[i]!);
    console.log(
      `quality ${l}: released − initial similarity to the private centroid: mean ${mean(g).toFixed(3)}, min ${Math.min(...g).toFixed(3)}, positive in ${g.filter((x) => x > 0).length}/${g.length} seeds`,
    );
  });
  const pooled = gains.map((x) => mean(x));
  console.log(
    `quality pooled over both labels: mean ${mean(pooled).toFixed(3)}, min ${Math.min(...pooled).toFixed(3)}, positive in ${pooled.filter((x) => x > 0).length}/${pooled.length} seeds`,
  );
}

export async function main(): Promise<void> {
  histogramBench();
  await fullRun();
  await quality(30);
}
