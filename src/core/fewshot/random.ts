/**
 * Uniform draws on top of a RandomSource (the privacy module's interface: 32 random bits per call). Production
 * passes a cryptographic source; only tests inject a seeded one.
 */
export interface Bits32 {
  nextUint32(): number;
}

/** A uniform double in [0, 1) with 53 random bits. */
export function uniform01(rng: Bits32): number {
  const hi = rng.nextUint32() >>> 5; // 27 bits
  const lo = rng.nextUint32() >>> 6; // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992;
}

/** A uniform integer in [0, n) without modulo bias (rejection sampling on 32-bit draws). */
export function uniformInt(rng: Bits32, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError(`uniformInt: bad range ${n}`);
  const limit = 2 ** 32 - (2 ** 32 % n);
  for (;;) {
    const x = rng.nextUint32();
    if (x < limit) return x % n;
  }
}

/** Bernoulli(p): true with probability p (exactly for p of the form k/2^53). */
export function bernoulli(rng: Bits32, p: number): boolean {
  if (p >= 1) return true;
  if (p <= 0) return false;
  return uniform01(rng) < p;
}
