/**
 * Deterministic pseudo-random numbers for the built-in model's sampling. The built-in model is meant to be
 * reproducible: the same request gives the same completions, so the seed is a SHA-256 hash of the request.
 * This generator is never used for privacy noise (DP noise comes from a cryptographic source elsewhere).
 *
 * Generator: xoshiro128** 1.1 (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c).
 */
import { createHash } from 'node:crypto';

export type Random = () => number;

/** A generator seeded from the SHA-256 hash of `parts` (JSON-encoded); returns doubles in [0, 1). */
export function requestRandom(...parts: unknown[]): Random {
  const h = createHash('sha256').update(JSON.stringify(parts)).digest();
  const s = new Uint32Array([h.readUInt32LE(0), h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12)]);
  if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1;
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  };
  // 53 random bits: 27 from one output, 26 from the next.
  return () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
