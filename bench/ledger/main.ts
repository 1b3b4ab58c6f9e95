// Remaining budget of a ledger with 1,000 heterogeneous runs (goal: under 200 ms), with the production accountant;
// and record identity for 1,000,000 records (fingerprints + overlap, goal: under 2 s).
//   npm run bench -- ledger
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import type { CanonicalRecord } from '../../src/core/data';
import { classify, recordSet, unkeyedHashes, BYTES_PER_ENTRY } from '../../src/core/ledger/records';
import { RecordIndex } from '../../src/core/ledger/record-index';
import {
  Ledger,
  defaultAccountant,
  labelPartition,
  releaseHash,
  type LedgerDataset,
  type StoredCharge,
} from '../../src/core/ledger';
import { TOOL_VERSION } from '../../src/core/version';

/** Deterministic pseudo-random numbers (mulberry32): the fixture is the same on every run. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RUNS = 1000;
const LABELS = 77;

/** Appends RUNS runs: DP few-shot runs on 1–4 label pools (Poisson-subsampled Gaussian, σ and q as in the papers'
 * settings, various token budgets) and Aug-PE runs on the whole dataset (plain Gaussian); settled, aborted or open. */
async function buildFixture(ledger: Ledger, ds: LedgerDataset): Promise<void> {
  const rand = rng(42);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const poolSize = Array.from({ length: LABELS }, () => 200 + Math.floor(rand() * 800));
  await ledger.setTotal(ds, { epsilon: 1e6 }); // writes the header; a huge total so nothing is refused while building
  await ledger.store.withLock(true, ({ parsed, append }) => {
    const salt = parsed.header!.labelSalt;
    const dataset = { path: ds.identity.path, sha256: ds.identity.contentSha256, bytes: ds.identity.bytes };
    const time = new Date().toISOString();
    const bodies: Parameters<typeof append>[0] = [];
    for (let i = 0; i < RUNS; i++) {
      const id = `r-${i.toString(16).padStart(16, '0')}`;
      let charges: StoredCharge[];
      if (rand() < 0.8) {
        const sigma = pick([0.39, 0.45, 0.51, 0.64, 0.77, 1.0, 1.5]);
        const mn = pick([20, 40, 80]);
        const tokens = pick([15, 20, 50, 100]) * pick([1, 2, 4]);
        const labels = new Set(Array.from({ length: 1 + Math.floor(rand() * 4) }, () => Math.floor(rand() * LABELS)));
        charges = [...labels].map((l) => ({
          partition: labelPartition(`label_${l}`, salt),
          kind: 'poisson-gaussian',
          sigma,
          samplingRate: Math.min(1, mn / poolSize[l]!),
          steps: tokens,
        }));
      } else {
        const sigma = pick([5, 8, 11.6, 15.4, 20]);
        const steps = pick([5, 10, 20]);
        charges = [{ partition: '*', kind: 'gaussian', sigma, steps, mu: Math.sqrt(steps) / sigma }];
      }
      bodies.push({
        time,
        tool: TOOL_VERSION,
        type: 'run',
        status: 'reserved',
        id,
        dataset,
        algorithm: charges[0]!.kind === 'gaussian' ? 'aug-pe' : 'dp-few-shot',
        delta: 1e-6,
        charges,
      });
      const fate = rand();
      if (fate < 0.85) {
        const used = charges.map((c) => ({ ...c, steps: Math.max(1, Math.floor(c.steps * (0.5 + rand() / 2))) }));
        bodies.push({
          time,
          tool: TOOL_VERSION,
          type: 'run',
          status: 'settled',
          id,
          charges: used,
          released: releaseHash(id),
        });
      } else if (fate < 0.95) {
        bodies.push({ time, tool: TOOL_VERSION, type: 'run', status: 'aborted', id, charges, reason: 'cancelled' });
      } // else: left open (a crash), charged as planned
    }
    append(bodies);
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function main(): Promise<void> {
  if (!process.env.PFS_BENCH_RECORDS_ONLY) await history();
  await records();
}

/**
 * Record identity (records.ts) for 1,000,000 records: fingerprinting, and the cold status of a dataset whose records
 * overlap a charged dataset's in all but 1,000 (read + verify its record set, classify, compose). Goal: < 2 s.
 */
async function records(): Promise<void> {
  const N = 1_000_000;
  const words = ['card', 'transfer', 'balance', 'pending', 'refund', 'exchange', 'rate', 'top up', 'verify', 'PIN'];
  const make = (from: number, to: number): CanonicalRecord[] =>
    Array.from({ length: to - from }, (_, k) => {
      const i = from + k;
      return {
        key: `Why is my ${words[i % 10]} ${words[(i >> 3) % 10]} still not working after ${i} days? Please help.`,
        label: `label_${i % 77}`,
      };
    });
  const ws = mkdtempSync(path.join(tmpdir(), 'pfs-bench-records-'));
  try {
    const charged: LedgerDataset = {
      identity: { path: 'data/old.csv', contentSha256: releaseHash('old'), bytes: 1 },
      units: N,
      records: make(0, N),
    };
    const builder = new Ledger(ws, { accountant: defaultAccountant() });
    await builder.setTotal(charged, { epsilon: 1e6 });
    await builder.reserve(charged, {
      algorithm: 'aug-pe',
      charges: [{ partition: '*', mechanism: { kind: 'gaussian', sigma: 10, steps: 10 } }],
    });
    await builder.reserve(charged, {
      algorithm: 'dp-few-shot',
      charges: [
        {
          partition: 'label:label_3',
          mechanism: { kind: 'poisson-gaussian', sigma: 0.6, samplingRate: 0.01, steps: 100 },
        },
      ],
    });
    const salt = (await builder.store.withLock(false, (x) => x.parsed)).header!.labelSalt;
    const times = {
      hash: [] as number[],
      key: [] as number[],
      classify: [] as number[],
      status: [] as number[],
      cpu: [] as number[],
    };
    let shared = 0;
    let classes = 0;
    let spent = 0;
    for (let rep = 0; rep < 3; rep++) {
      // A fresh array each time (nothing cached): the charged records but 1,000, plus 1,000 new ones, reversed.
      const current = [...make(1000, N + 1000)].reverse();
      let t = performance.now();
      const hashes = unkeyedHashes(current);
      times.hash.push(performance.now() - t);
      t = performance.now();
      const set = recordSet(current, salt, hashes);
      times.key.push(performance.now() - t);
      const stored = recordSet(charged.records!, salt);
      t = performance.now();
      const c = classify(set, [stored]);
      times.classify.push(performance.now() - t);
      shared = c.shared[0]!;
      classes = c.classes.length;
      const ds: LedgerDataset = {
        identity: { path: 'data/new.csv', contentSha256: releaseHash(`new${rep}`), bytes: 1 },
        units: N,
        records: [...current],
      };
      const ledger = new Ledger(ws, { accountant: defaultAccountant() });
      t = performance.now();
      const cpu = process.cpuUsage();
      const s = await ledger.status(ds);
      times.status.push(performance.now() - t);
      const used = process.cpuUsage(cpu);
      times.cpu.push((used.user + used.system) / 1000);
      spent = s.spent;
    }
    // The per-user index (another keyed pass plus the sample) when a run is reserved, and its lookup.
    const index = new RecordIndex(path.join(ws, 'index'));
    let t = performance.now();
    await index.add(path.join(ws, 'elsewhere'), 'data/old.csv', charged.records!);
    const add = performance.now() - t;
    t = performance.now();
    const found = index.lookup(make(1000, N + 1000), path.join(ws, '.private-fewshot'));
    const lookup = performance.now() - t;
    const file = statSync(path.join(ws, 'index', 'record-index.json')).size;
    const m = (xs: number[]) => median(xs).toFixed(0);
    const load = loadavg()[0]!.toFixed(1);
    console.log(
      `\nrecords (1-min load average ${load} on ${cpus().length} cores): ${N.toLocaleString('en-US')} records, ${BYTES_PER_ENTRY} bytes per (record, label) entry on disk (${((N * BYTES_PER_ENTRY) / 2 ** 20).toFixed(1)} MiB per record set)`,
    );
    console.log(`  unkeyed mixing hash (JS):                       median ${m(times.hash)} ms`);
    console.log(`  keyed step (AES-128-ECB) + label tags + sort:   median ${m(times.key)} ms`);
    console.log(
      `  overlap classes vs a charged 1M set:            median ${m(times.classify)} ms (${shared.toLocaleString('en-US')} shared, ${classes} classes)`,
    );
    console.log(
      `  status of the 1M dataset, cold (fingerprint + read/verify set + classify + compose): median ${m(times.status)} ms wall, ${m(times.cpu)} ms CPU — goal < 2000 ms; spent ε ${spent.toFixed(3)}`,
    );
    console.log(
      `  per-user index: add ${add.toFixed(0)} ms, lookup ${lookup.toFixed(0)} ms (found ~${found[0]?.records.toLocaleString('en-US') ?? 0}), file ${(file / 1024).toFixed(0)} KiB`,
    );
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
}

async function history(): Promise<void> {
  const ws = mkdtempSync(path.join(tmpdir(), 'pfs-bench-ledger-'));
  try {
    const ds: LedgerDataset = {
      identity: { path: 'data/train.csv', contentSha256: releaseHash('bench'), bytes: 5 },
      units: 100_000,
    };
    const builder = new Ledger(ws, { accountant: defaultAccountant() });
    await buildFixture(builder, ds);
    // The first composition of everything (no value recorded yet): accountant-bound. setTotal records the values.
    const t = performance.now();
    await builder.setTotal(ds, { epsilon: 1e6, delta: 1e-6 });
    const first = performance.now() - t;
    const size = statSync(builder.file).size;

    // Cold: a new Ledger (empty cache) reads, verifies and composes everything — what a fresh CLI call does.
    const cold: number[] = [];
    let remaining = 0;
    let spent = 0;
    for (let i = 0; i < 5; i++) {
      const ledger = new Ledger(ws, { accountant: defaultAccountant() });
      const t0 = performance.now();
      const s = await ledger.status(ds);
      cold.push(performance.now() - t0);
      remaining = s.remaining;
      spent = s.spent;
      if (s.runs.length !== RUNS) throw new Error(`expected ${RUNS} runs, got ${s.runs.length}`);
    }

    // Warm: the editor keeps one Ledger; checking an edited plan recomputes only the pools the plan touches.
    const ledger = new Ledger(ws, { accountant: defaultAccountant() });
    await ledger.status(ds);
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await ledger.check(ds, {
        algorithm: 'dp-few-shot',
        charges: [
          {
            partition: 'label:label_3',
            mechanism: { kind: 'poisson-gaussian', sigma: 0.5 + i / 100, samplingRate: 0.05, steps: 100 },
          },
        ],
      });
      warm.push(performance.now() - t0);
    }
    console.log(
      `ledger: ${RUNS} runs (${LABELS} label pools + whole-dataset runs), ${(size / 1024).toFixed(0)} KiB; spent ε = ${spent.toFixed(3)} at δ = 1e-6, remaining ${remaining.toFixed(1)} of 1e6`,
    );
    console.log(`  first composition of all pools (nothing recorded, PLD per pool): ${(first / 1000).toFixed(1)} s`);
    console.log(
      `  remaining budget, cold (read + verify chain + compose): median ${median(cold).toFixed(1)} ms (runs: ${cold.map((t) => t.toFixed(0)).join(', ')}) — goal < 200 ms`,
    );
    console.log(`  check of an edited plan, warm ledger:                 median ${median(warm).toFixed(1)} ms`);
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
}
