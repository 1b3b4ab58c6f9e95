// `npm run bench -- accountant`: speed of the privacy accountants (src/core/privacy).
//  1. ε for q = 0.01, σ = 1, T = 10,000, δ = 1e-5 with PLD (cold caches) and RDP. Goal: PLD well under 1 s.
//  2. ε of a 1,000-entry heterogeneous ledger (different σ, q, T; Poisson-subsampled and plain Gaussian entries),
//     cold and after editing one entry (warm caches). Goal: under 200 ms.
//  3. The worst case: 1,000 entries whose (σ, q) pairs are all distinct (no grouping possible), cold and warm.
import { clearPldCaches, epsilonFor, normalizeAccount, type MechanismSpec } from '../../src/core/privacy';
import { seededRandom } from '../../test/support/rng';

function time<T>(f: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = f();
  return { value, ms: performance.now() - t0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs f `reps` times (each after `before()`), returns the last value and the median time. */
function measure<T>(reps: number, before: () => void, f: () => T): { value: T; ms: number; all: number[] } {
  const all: number[] = [];
  let value!: T;
  for (let i = 0; i < reps; i++) {
    before();
    const r = time(f);
    value = r.value;
    all.push(r.ms);
  }
  return { value, ms: median(all), all };
}

function uniform(rng: { nextUint32(): number }): number {
  return rng.nextUint32() / 2 ** 32;
}

/** A realistic ledger: runs reuse a handful of settings, step counts differ. */
function realisticLedger(n: number): MechanismSpec[] {
  const rng = seededRandom('bench-ledger');
  const sigmas = [2, 3, 4, 5, 6, 8, 10, 12];
  const rates = [0.001, 0.002, 0.005, 0.01];
  const out: MechanismSpec[] = [];
  for (let i = 0; i < n; i++) {
    const pick = <T>(xs: T[]) => xs[Math.floor(uniform(rng) * xs.length)]!;
    if (uniform(rng) < 0.3)
      out.push({
        kind: 'gaussian',
        sigma: 20 + Math.floor(uniform(rng) * 40),
        steps: 1 + Math.floor(uniform(rng) * 10),
      });
    else
      out.push({
        kind: 'poisson-gaussian',
        sigma: pick(sigmas),
        samplingRate: pick(rates),
        steps: 10 + Math.floor(uniform(rng) * 200),
      });
  }
  return out;
}

/** Worst case: every entry has its own (σ, q). */
function distinctLedger(n: number): MechanismSpec[] {
  const rng = seededRandom('bench-distinct');
  const out: MechanismSpec[] = [];
  for (let i = 0; i < n; i++) {
    if (uniform(rng) < 0.3)
      out.push({ kind: 'gaussian', sigma: 20 + 40 * uniform(rng), steps: 1 + Math.floor(uniform(rng) * 10) });
    else
      out.push({
        kind: 'poisson-gaussian',
        sigma: 2 + 10 * uniform(rng),
        samplingRate: 0.001 + 0.009 * uniform(rng),
        steps: 10 + Math.floor(uniform(rng) * 200),
      });
  }
  return out;
}

export async function main(): Promise<void> {
  const fmt = (x: number) => x.toFixed(1).padStart(7);
  const one: MechanismSpec[] = [{ kind: 'poisson-gaussian', sigma: 1, samplingRate: 0.01, steps: 10_000 }];
  const pld = measure(5, clearPldCaches, () => epsilonFor(one, 1e-5, 'pld'));
  const rdp = measure(5, clearPldCaches, () => epsilonFor(one, 1e-5, 'rdp'));
  console.log('q = 0.01, σ = 1, T = 10,000, δ = 1e-5');
  console.log(
    `  PLD  ε = ${pld.value.toFixed(4)}  ${fmt(pld.ms)} ms (median of 5, cold caches; runs ${pld.all.map((x) => x.toFixed(0)).join(', ')})`,
  );
  console.log(`  RDP  ε = ${rdp.value.toFixed(4)}  ${fmt(rdp.ms)} ms (median of 5, cold caches)`);

  for (const [name, ledger] of [
    ['realistic 1,000-entry ledger (8 σ × 4 q settings, 30% plain Gaussian)', realisticLedger(1000)],
    ['worst case: 1,000 entries with all-distinct (σ, q)', distinctLedger(1000)],
  ] as const) {
    const n = normalizeAccount(ledger);
    const delta = 1e-6;
    const cold = measure(3, clearPldCaches, () => epsilonFor(ledger, delta, 'pld'));
    // Warm: the ledger with one more entry appended (a new run being planned), caches kept from the previous call.
    let k = 0;
    const warm = measure(
      5,
      () => {},
      () => {
        k++;
        return epsilonFor(
          [...ledger, { kind: 'poisson-gaussian', sigma: 3 + k / 100, samplingRate: 0.004, steps: 100 }],
          delta,
          'pld',
        );
      },
    );
    console.log(
      `${name}: ${n.groups.length} distinct subsampled groups + merged Gaussian μ = ${Math.sqrt(n.gaussianMu2).toFixed(3)}`,
    );
    console.log(
      `  PLD  ε = ${cold.value.toFixed(4)} at δ = ${delta}  cold ${fmt(cold.ms)} ms, warm (one new entry) ${fmt(warm.ms)} ms`,
    );
  }
}
