import type { TestContext } from 'node:test';
import type { RandomSource } from '../../src/core/privacy/noise';

/** The seeded generators below share the production type RandomSource (privacy/noise.ts), so either can stand in for
 * cryptoRandom() in a test. */

/** A small seeded generator (xoshiro128**) for tests only. Production randomness is cryptographic. */
export function testRng(seed: number | string): RandomSource {
  let h = 1779033703 ^ String(seed).length;
  for (const ch of String(seed)) {
    h = Math.imul(h ^ ch.charCodeAt(0), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  const next = () => {
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return (h ^= h >>> 16) >>> 0;
  };
  let a = next(),
    b = next(),
    c = next(),
    d = next();
  return {
    nextUint32() {
      const r = Math.imul((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25), 9) >>> 0;
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
      return r;
    },
  };
}

/** Box–Muller normal draws from a test generator (tests only; production uses the privacy module's sampler). */
export function testNormal(rng: RandomSource): (std: number) => number {
  return (std) => {
    const u = (rng.nextUint32() + 1) / 4294967297;
    const v = rng.nextUint32() / 4294967296;
    return std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/**
 * A deterministic generator (xoshiro128**, seeded by a cyrb128-style hash of the seed) — FOR TESTS AND BENCHMARKS ONLY.
 * Its output is predictable from the seed, so noise drawn from it gives no privacy at all. It lived in
 * src/core/privacy/noise.ts until the seeded generator was moved out of src/ so that no production path can reach it
 * (ESLint forbids src/ to import test/; docs/TESTING.md lists the mutation that checks it). Same sequence as before.
 */
export function seededRandom(seed: number | string): RandomSource {
  const text = String(seed);
  // cyrb128-style string hash to four 32-bit words.
  let h1 = 1779033703,
    h2 = 3144134277,
    h3 = 1013904242,
    h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  let a = (h1 ^ h2 ^ h3 ^ h4) >>> 0,
    b = (h2 ^ h1) >>> 0,
    c = (h3 ^ h1) >>> 0,
    d = (h4 ^ h1) >>> 0;
  if ((a | b | c | d) === 0) a = 1;
  return {
    nextUint32() {
      const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = rotl(d, 11);
      return r;
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Replaces `crypto.getRandomValues` (where the production source, cryptoRandom in privacy/noise.ts, and so every
 * CLI or core run without a `random` option, draws its bytes) by a seeded filler until the test `t` ends. The same
 * seed gives the same bytes in the same order: a run whose draws happen in a fixed order (one label chain, e.g.
 * `--shot-concurrency 1`) is then reproducible. `reseed` starts the sequence again from another (or the same) seed.
 */
export function seedCrypto(t: TestContext, seed: string): { reseed: (seed: string) => void; calls: () => number } {
  let rng = seededRandom(`crypto/${seed}`);
  let calls = 0;
  t.mock.method(globalThis.crypto, 'getRandomValues', <T extends ArrayBufferView>(a: T): T => {
    calls++;
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < bytes.length; i += 4) {
      const w = rng.nextUint32();
      for (let j = 0; j < 4 && i + j < bytes.length; j++) bytes[i + j] = (w >>> (8 * j)) & 255;
    }
    return a;
  });
  return { reseed: (s) => void (rng = seededRandom(`crypto/${s}`)), calls: () => calls };
}
