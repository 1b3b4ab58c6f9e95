/**
 * Uniform draws on top of a RandomSource (the privacy module's interface: 32 random bits per call), shared by both
 * algorithms (DP few-shot's Poisson prompts, Aug-PE's prompt choices and masks). Production passes a cryptographic
 * source; only tests inject a seeded one. The exact integer draw has one home, privacy/noise.ts.
 */
import type { RandomSource } from '../privacy/noise';

export { uniformInt } from '../privacy/noise';

/** 32 random bits per call: the privacy module's RandomSource. */
export type Bits32 = RandomSource;

/** A uniform double in [0, 1) with 53 random bits. */
export function uniform01(rng: Bits32): number {
  const hi = rng.nextUint32() >>> 5; // 27 bits
  const lo = rng.nextUint32() >>> 6; // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992;
}

/** Bernoulli(p): true with probability p (exactly for p of the form k/2^53). */
export function bernoulli(rng: Bits32, p: number): boolean {
  if (p >= 1) return true;
  if (p <= 0) return false;
  return uniform01(rng) < p;
}
