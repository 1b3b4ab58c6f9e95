/**
 * Gaussian noise for the mechanisms.
 *
 * Sampler: the exact discrete Gaussian of Canonne, Kamath, Steinke, "The discrete Gaussian for differential privacy"
 * (NeurIPS 2020), Algorithms 1–3, on the fine grid g = 2^⌊log2 σ⌋ · 2^−30 (so the lattice scale s = σ/g lies in
 * [2^30, 2^31)). The algorithm uses only exact integer/rational arithmetic (BigInt) and uniform random bits, so the
 * output distribution is exactly N_Z(0, s²)·g: there is no floating-point sampling step for the attack of Mironov
 * (CCS 2012) to exploit, which targets the irregular low-order bits of naive floating-point Gaussian/Laplace samplers.
 * To keep that property end to end, add noise with `addGaussianNoise`, which first rounds the query value to the same
 * grid and adds the integer noise exactly; the result is a multiple of g and a deterministic function of
 * (rounded value, integer noise).
 *
 * Privacy: N_Z(0, s²) on an integer query with L2 sensitivity Δ (grid units) is (Δ²/(2s²))-zCDP and satisfies the
 * same (ε, δ) curve as the continuous Gaussian in one dimension (CKS 2020, Theorems 4 and 7), so σ from the
 * accountants applies. Rounding the query to the grid can change its sensitivity by at most g·√d for d coordinates,
 * i.e. by a relative 2^−30·√d·σ/Δ, which is far below any accountant's tolerance.
 *
 * Randomness: `cryptoRandom()` (WebCrypto `crypto.getRandomValues`, present in Node ≥ 19 and browsers) in production.
 * Seeded generators exist only under test/ (test/support/rng.ts) and ESLint forbids src/ to import them.
 */
import { UsageError } from '../errors';

/** A source of uniform random 32-bit unsigned integers. */
export interface RandomSource {
  /** A uniform integer in [0, 2^32). */
  nextUint32(): number;
}

/** Cryptographic randomness (WebCrypto getRandomValues, buffered). This is the only source for real runs. */
export function cryptoRandom(): RandomSource {
  const c = (globalThis as { crypto?: { getRandomValues<T extends ArrayBufferView>(a: T): T } }).crypto;
  if (!c || typeof c.getRandomValues !== 'function')
    throw new Error('no cryptographic random source (globalThis.crypto.getRandomValues) is available');
  const buf = new Uint32Array(256);
  let pos = buf.length;
  return {
    nextUint32() {
      if (pos >= buf.length) {
        c.getRandomValues(buf);
        pos = 0;
      }
      return buf[pos++]!;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Exact uniform and Bernoulli primitives.

/** Uniform integer in [0, n) for 1 ≤ n ≤ 2^32, by rejection (no modulo bias). */
export function uniformInt(rng: RandomSource, n: number): number {
  if (!(n >= 1 && n <= 2 ** 32 && Number.isInteger(n))) throw new RangeError(`uniformInt: bad bound ${n}`);
  const limit = 2 ** 32 - (2 ** 32 % n);
  for (;;) {
    const r = rng.nextUint32();
    if (r < limit) return r % n;
  }
}

/** Uniform BigInt in [0, n) for n ≥ 1, by rejection on ⌈bits/32⌉ random words. */
export function uniformBigBelow(rng: RandomSource, n: bigint): bigint {
  if (n <= 0n) throw new RangeError('uniformBigBelow: bound must be positive');
  if (n <= 0x100000000n) return BigInt(uniformInt(rng, Number(n)));
  const bits = n.toString(2).length;
  const words = Math.ceil(bits / 32);
  const mask = (1n << BigInt(bits)) - 1n;
  for (;;) {
    let r = 0n;
    for (let i = 0; i < words; i++) r = (r << 32n) | BigInt(rng.nextUint32());
    r &= mask;
    if (r < n) return r;
  }
}

/** Bernoulli(num/den), exact. */
function bernoulli(rng: RandomSource, num: bigint, den: bigint): boolean {
  return uniformBigBelow(rng, den) < num;
}

/** Bernoulli(exp(−num/den)) for num/den ≥ 0, exact (CKS 2020, Algorithm 1). */
export function bernoulliExpNeg(rng: RandomSource, num: bigint, den: bigint): boolean {
  if (num < 0n || den <= 0n) throw new RangeError('bernoulliExpNeg: γ must be ≥ 0');
  if (num <= den) {
    // γ ∈ [0, 1]: K = 1; while Bernoulli(γ/K) K++; return K odd.
    let k = 1n;
    while (bernoulli(rng, num, den * k)) k++;
    return k % 2n === 1n;
  }
  const whole = num / den;
  for (let i = 0n; i < whole; i++) if (!bernoulliExpNeg(rng, 1n, 1n)) return false;
  return bernoulliExpNeg(rng, num - whole * den, den);
}

/** Discrete Laplace with scale t (P(y) ∝ e^{−|y|/t}), t a positive integer (CKS 2020, Algorithm 2). */
function discreteLaplace(rng: RandomSource, t: number): number {
  const tb = BigInt(t);
  for (;;) {
    const u = uniformInt(rng, t);
    if (!bernoulliExpNeg(rng, BigInt(u), tb)) continue;
    let v = 0;
    while (bernoulliExpNeg(rng, 1n, 1n)) v++;
    const x = u + t * v;
    const negative = (rng.nextUint32() & 1) === 1;
    if (negative && x === 0) continue;
    return negative ? -x : x;
  }
}

/** Exact discrete Gaussian N_Z(0, s²) with s = sn/sd (BigInt rational), as a Number (CKS 2020, Algorithm 3). */
export function discreteGaussian(rng: RandomSource, sn: bigint, sd: bigint): number {
  const s2n = sn * sn;
  const s2d = sd * sd;
  const t = Number(sn / sd) + 1; // ⌊s⌋ + 1
  const tb = BigInt(t);
  for (;;) {
    const y = discreteLaplace(rng, t);
    const ay = BigInt(Math.abs(y));
    // γ = (|y| − s²/t)² / (2s²) = (|y|·t·s2d − s2n)² / (2·t²·s2d·s2n)
    const diff = ay * tb * s2d - s2n;
    if (bernoulliExpNeg(rng, diff * diff, 2n * tb * tb * s2d * s2n)) return y;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Public samplers.

const GRID_BITS = 30;

/** The noise grid for σ: g = 2^(⌊log2 σ⌋ − 30). Noise and noisy values are multiples of g. */
export function noiseGrid(sigma: number): number {
  checkSigma(sigma);
  return 2 ** (Math.floor(Math.log2(sigma)) - GRID_BITS);
}

function checkSigma(sigma: number): void {
  if (typeof sigma !== 'number' || !(sigma > 0) || !Number.isFinite(sigma) || sigma < 1e-280 || sigma > 1e280) {
    throw new UsageError(`noise standard deviation must be a positive finite number; got ${String(sigma)}`);
  }
}

/** s = σ/g as an exact dyadic rational sn/sd. */
function latticeScale(sigma: number, g: number): [bigint, bigint] {
  // σ = m·2^p exactly with m an integer below 2^53.
  let p = Math.floor(Math.log2(sigma)) - 52;
  let m = sigma / 2 ** p;
  while (!Number.isInteger(m)) {
    p -= 1;
    m = sigma / 2 ** p;
  }
  const e = Math.round(Math.log2(g)); // g = 2^e exactly
  const shift = p - e;
  const mb = BigInt(m);
  return shift >= 0 ? [mb << BigInt(shift), 1n] : [mb, 1n << BigInt(-shift)];
}

/**
 * One draw of N(0, σ²) noise, as the exact discrete Gaussian on the grid noiseGrid(σ) (see the module comment).
 * For releasing a noisy value prefer `addGaussianNoise`, which also rounds the value to the grid.
 */
export function gaussianNoise(rng: RandomSource, sigma: number): number {
  checkSigma(sigma);
  const g = noiseGrid(sigma);
  const [sn, sd] = latticeScale(sigma, g);
  return discreteGaussian(rng, sn, sd) * g;
}

/**
 * value + N(0, σ²) noise without floating-point leakage: the value is rounded to the grid g = noiseGrid(σ), the exact
 * discrete Gaussian is added as an integer, and the sum is scaled back by g (exact in binary floating point).
 */
export function addGaussianNoise(rng: RandomSource, value: number, sigma: number): number {
  checkSigma(sigma);
  if (!Number.isFinite(value)) throw new UsageError(`cannot add noise to a non-finite value (${String(value)})`);
  const g = noiseGrid(sigma);
  const k = Math.round(value / g);
  if (Math.abs(k) > 2 ** 51)
    throw new UsageError(
      `value ${value} is too large relative to σ = ${sigma} for the noise grid`,
      'Rescale the query so that |value|/σ < 2^21.',
    );
  const [sn, sd] = latticeScale(sigma, g);
  return (k + discreteGaussian(rng, sn, sd)) * g;
}

/** Adds independent N(0, σ²) noise to every entry (see addGaussianNoise). */
export function addGaussianNoiseAll(rng: RandomSource, values: ArrayLike<number>, sigma: number): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = addGaussianNoise(rng, values[i]!, sigma);
  return out;
}
