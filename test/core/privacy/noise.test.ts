import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addGaussianNoise, cryptoRandom, gaussianNoise, noiseGrid } from '../../../src/core/privacy';
import { seededRandom } from '../../support/rng';
import { bernoulliExpNeg, discreteGaussian, uniformInt } from '../../../src/core/privacy/noise';
import { UsageError } from '../../../src/core/errors';

test('gaussianNoise has mean 0, variance σ² and Gaussian kurtosis (statistical bounds, seeded source)', () => {
  const n = 30000;
  for (const sigma of [0.39, 1, 7.5]) {
    const rng = seededRandom(`moments-${sigma}`);
    let s1 = 0,
      s2 = 0,
      s4 = 0;
    for (let i = 0; i < n; i++) {
      const x = gaussianNoise(rng, sigma) / sigma;
      s1 += x;
      s2 += x * x;
      s4 += x ** 4;
    }
    const mean = s1 / n;
    const variance = s2 / n - mean * mean;
    // 5-sigma bounds: sd(mean) = 1/√n, sd(sample variance) ≈ √(2/n), sd(4th moment) ≈ √(96/n).
    assert.ok(Math.abs(mean) < 5 / Math.sqrt(n), `σ=${sigma}: mean/σ = ${mean}`);
    assert.ok(Math.abs(variance - 1) < 5 * Math.sqrt(2 / n), `σ=${sigma}: var/σ² = ${variance}`);
    assert.ok(Math.abs(s4 / n - 3) < 5 * Math.sqrt(96 / n), `σ=${sigma}: E[x⁴]/σ⁴ = ${s4 / n}`);
  }
});

test('the discrete Gaussian sampler is exact: χ² against N_Z(0, s²) for a small s', () => {
  // s = 3/2 as the rational 3/2; P(y) ∝ exp(−y²/(2s²)).
  const rng = seededRandom('chi-square');
  const n = 60000;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const y = discreteGaussian(rng, 3n, 2n);
    counts.set(y, (counts.get(y) ?? 0) + 1);
  }
  const s2 = 2.25;
  let z = 0;
  for (let y = -40; y <= 40; y++) z += Math.exp((-y * y) / (2 * s2));
  let chi2 = 0;
  let tail = 0;
  let tailExpected = 0;
  for (let y = -40; y <= 40; y++) {
    const expected = (n * Math.exp((-y * y) / (2 * s2))) / z;
    const got = counts.get(y) ?? 0;
    if (expected < 20) {
      tail += got;
      tailExpected += expected;
      continue;
    }
    chi2 += (got - expected) ** 2 / expected;
  }
  chi2 += (tail - tailExpected) ** 2 / tailExpected;
  // 11 cells + 1 pooled tail: 11 degrees of freedom; the 99.99% quantile of χ²(11) is about 35.
  assert.ok(chi2 < 35, `χ² = ${chi2}`);
});

test('Bernoulli(exp(−γ)) has the right frequency for γ below and above 1', () => {
  const rng = seededRandom('bern');
  const n = 40000;
  for (const [num, den] of [
    [3n, 10n],
    [27n, 10n],
  ] as const) {
    const p = Math.exp(-Number(num) / Number(den));
    let k = 0;
    for (let i = 0; i < n; i++) if (bernoulliExpNeg(rng, num, den)) k++;
    assert.ok(Math.abs(k / n - p) < 5 * Math.sqrt((p * (1 - p)) / n), `γ=${num}/${den}: ${k / n} vs ${p}`);
  }
});

test('uniformInt has no modulo bias for a bound that does not divide 2^32', () => {
  const rng = seededRandom('uniform');
  const n = 30000;
  const bound = 3 * 2 ** 30; // 2^32 mod bound is large: a naive modulo would favour the low third by 2×
  let low = 0;
  for (let i = 0; i < n; i++) if (uniformInt(rng, bound) < 2 ** 30) low++;
  assert.ok(Math.abs(low / n - 1 / 3) < 5 * Math.sqrt(2 / 9 / n), `P(low third) = ${low / n}`);
});

test('the seeded source is reproducible and seed-dependent (tests only)', () => {
  const a = seededRandom('x');
  const b = seededRandom('x');
  const c = seededRandom('y');
  const sa = Array.from({ length: 8 }, () => a.nextUint32());
  assert.deepEqual(
    Array.from({ length: 8 }, () => b.nextUint32()),
    sa,
  );
  assert.notDeepEqual(
    Array.from({ length: 8 }, () => c.nextUint32()),
    sa,
  );
  assert.ok(sa.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32));
});

test('cryptographic draws are distinct across calls and sources', () => {
  const r1 = cryptoRandom();
  const r2 = cryptoRandom();
  const draws = Array.from({ length: 2000 }, () => gaussianNoise(r1, 1));
  // Two independent draws of N_Z(0, s²)·g with s = 2^30 coincide with probability Σ_k p_k² ≈ 1/(2√π·s) = 2.6e-10, so
  // among the 2,000·1,999/2 pairs the number of repeats is about Poisson(5.3e-4): one repeat happens in 1 run of
  // 1,900, three or more with probability 2.4e-11. A source that repeats itself (a buffer never refilled, a fixed
  // seed) repeats hundreds of values.
  const repeats = draws.length - new Set(draws).size;
  assert.ok(repeats <= 2, `${repeats} repeated values among 2,000 draws on a 2^-30 grid`);
  const other = Array.from({ length: 50 }, () => gaussianNoise(r2, 1));
  assert.notDeepEqual(other, draws.slice(0, 50));
  const words = Array.from({ length: 300 }, () => r1.nextUint32());
  assert.ok(new Set(words).size > 295, 'raw 32-bit words look random');
});

test('addGaussianNoise rounds the value to the noise grid and adds integer noise exactly', () => {
  const sigma = 0.37;
  const g = noiseGrid(sigma);
  assert.equal(g, 2 ** (Math.floor(Math.log2(sigma)) - 30));
  const value = 0.123456789123;
  const noisy = addGaussianNoise(seededRandom('same'), value, sigma);
  const noise = gaussianNoise(seededRandom('same'), sigma);
  assert.ok(Number.isInteger(noisy / g), 'the noisy value lies on the grid');
  assert.ok(Number.isInteger(noise / g), 'the noise lies on the grid');
  assert.equal(noisy, Math.round(value / g) * g + noise, 'the same draw, added exactly to the rounded value');
  assert.ok(Math.abs(noisy - noise - value) <= g / 2);
});

test('bad σ or values are usage errors', () => {
  const rng = seededRandom(1);
  assert.throws(() => gaussianNoise(rng, 0), UsageError);
  assert.throws(() => gaussianNoise(rng, Number.NaN), UsageError);
  assert.throws(() => addGaussianNoise(rng, Infinity, 1), UsageError);
  assert.throws(() => addGaussianNoise(rng, 1e20, 1e-3), /too large relative to σ/);
});
