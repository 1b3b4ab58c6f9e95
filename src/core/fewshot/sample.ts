import { bernoulli, uniform01, uniformInt, type Bits32 } from '../runs/random';
import type { PoolUnit } from '../runs/pools';

/**
 * One token step's private prompts (Tang et al. 2024 §3, with the reference code's fixed-size sample replaced by
 * real Poisson sampling, so that the Poisson-subsampled Gaussian accountant applies):
 * - each unit of the pool is included independently with probability q;
 * - each included unit goes, with all its rows, to one of the M prompts, uniformly and independently of the others.
 * Adding or removing one unit therefore changes at most one prompt. Prompts may be empty.
 *
 * The draw order is fixed (inclusion, assignment and an ordering key, unit by unit) so that a
 * seeded test source reproduces the same prompts in every decoding mode.
 */
export function samplePrompts(rng: Bits32, pool: readonly PoolUnit[], q: number, m: number): string[][] {
  const groups: { unit: PoolUnit; key: number }[][] = Array.from({ length: m }, () => []);
  for (const unit of pool) {
    if (!bernoulli(rng, q)) continue;
    // Each included unit also draws a random sort key, so a prompt's order is a uniform permutation of its own units
    // and does not depend on draws made for other prompts (file order does not leak into position effects).
    groups[uniformInt(rng, m)]!.push({ unit, key: uniform01(rng) });
  }
  return groups.map((g) => g.sort((a, b) => a.key - b.key).flatMap((x) => x.unit.texts));
}
