import { addGaussianNoise, type RandomSource } from '../privacy';
import type { PoolUnit } from '../runs/pools';

/**
 * The exact pool counts of the requested labels, in `labels` order. LOCAL ONLY: private, never shown, exported or
 * used to set a parameter; the only way out is `releasePoolCounts`.
 *
 * A privacy unit in k of the requested pools adds 1/√k to each of them, so adding or removing one unit moves the count
 * vector by exactly 1 in L2 norm (k·(1/√k)² = 1): the release has L2 sensitivity 1 whether or not units span labels.
 * Without a unit column every row is its own unit with one label (k = 1), so these are the plain pool sizes.
 */
export function exactPoolCounts(pools: ReadonlyMap<string, readonly PoolUnit[]>, labels: readonly string[]): number[] {
  const k = new Map<string, number>();
  for (const l of labels) for (const u of pools.get(l) ?? []) k.set(u.id, (k.get(u.id) ?? 0) + 1);
  return labels.map((l) => (pools.get(l) ?? []).reduce((a, u) => a + 1 / Math.sqrt(k.get(u.id)!), 0));
}

/**
 * The Gaussian mechanism on the count vector (L2 sensitivity 1, noise std σ_c per coordinate; Dwork & Roth 2014,
 * Thm A.1, accounted by PLD): each count plus exact discrete Gaussian noise from the cryptographic sampler
 * (Canonne, Kamath, Steinke 2020). Call it once per run, after the run is reserved in the ledger.
 */
export function releasePoolCounts(exact: readonly number[], sigma: number, rng: RandomSource): number[] {
  return exact.map((c) => addGaussianNoise(rng, c, sigma));
}
