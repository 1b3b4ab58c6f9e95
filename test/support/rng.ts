/** A small seeded generator (xoshiro128**) for tests only. Production randomness is cryptographic. */
export function testRng(seed: number | string): { nextUint32(): number } {
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
export function testNormal(rng: { nextUint32(): number }): (std: number) => number {
  return (std) => {
    const u = (rng.nextUint32() + 1) / 4294967297;
    const v = rng.nextUint32() / 4294967296;
    return std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}
