// Remaining budget of a ledger with 1,000 heterogeneous runs (goal: under 200 ms), with the production accountant.
//   npm run bench -- ledger
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
