import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_RDP_ORDERS,
  epsilonFor,
  rdpOfSpecs,
  rdpPoissonGaussian,
  rdpToDelta,
  rdpToEpsilon,
  gaussianEpsilon,
} from '../../../src/core/privacy';
import { logANumeric } from '../../support/rdp-numeric';

test('integer-order RDP of the sampled Gaussian matches numerical integration', () => {
  for (const [q, sigma, alpha] of [
    [0.01, 1, 2],
    [0.05, 0.77, 8],
    [0.3, 2, 32],
    [6.7e-4, 0.39, 5],
  ] as const) {
    const series = rdpPoissonGaussian(q, sigma, alpha) * (alpha - 1);
    const numeric = logANumeric(q, sigma, alpha);
    assert.ok(
      Math.abs(series - numeric) <= 1e-8 * Math.max(1, Math.abs(numeric)),
      `q=${q} σ=${sigma} α=${alpha}: ${series} vs ${numeric}`,
    );
  }
});

test('fractional-order RDP is conservative (never below the integral) and close to it', () => {
  // The series adds |C(α, i)| for the alternating terms (as dp_accounting does), so it overshoots a little at small α.
  for (const [q, sigma, alpha] of [
    [6.7e-4, 0.39, 2.7],
    [0.05, 0.77, 2.9],
    [0.01, 1, 1.5],
    [0.2, 3, 7.3],
  ] as const) {
    const series = rdpPoissonGaussian(q, sigma, alpha) * (alpha - 1);
    const numeric = logANumeric(q, sigma, alpha);
    assert.ok(
      series >= numeric - 1e-9 * Math.max(1, Math.abs(numeric)),
      `q=${q} σ=${sigma} α=${alpha}: ${series} below ${numeric}`,
    );
    assert.ok(
      series <= numeric + 0.05 * Math.max(1e-6, Math.abs(numeric)),
      `q=${q} σ=${sigma} α=${alpha}: ${series} far above ${numeric}`,
    );
  }
});

test('q = 1 is the Gaussian α/(2σ²); q = 0 and zero steps cost nothing; RDP adds over entries', () => {
  assert.equal(rdpPoissonGaussian(1, 2, 3), 3 / 8);
  assert.equal(rdpPoissonGaussian(0, 2, 3), 0);
  const total = rdpOfSpecs([
    { kind: 'poisson-gaussian', sigma: 1, samplingRate: 0.01, steps: 30 },
    { kind: 'gaussian', sigma: 2, steps: 4 },
    { kind: 'poisson-gaussian', sigma: 1, samplingRate: 0.01, steps: 0 },
  ]);
  DEFAULT_RDP_ORDERS.forEach((a, i) => {
    const expected = 30 * rdpPoissonGaussian(0.01, 1, a) + (4 * a) / 8;
    assert.ok(Math.abs(total[i]! - expected) <= 1e-12 * expected, `α=${a}`);
  });
});

test('orders follow dp_accounting’s defaults', () => {
  assert.equal(DEFAULT_RDP_ORDERS.length, 99 + 53 + 4);
  assert.ok(Math.abs(DEFAULT_RDP_ORDERS[0]! - 1.1) < 1e-12);
  assert.ok(Math.abs(DEFAULT_RDP_ORDERS[98]! - 10.9) < 1e-12);
  assert.deepEqual(DEFAULT_RDP_ORDERS.slice(99, 101), [11, 12]);
  assert.deepEqual(DEFAULT_RDP_ORDERS.slice(-5), [63, 128, 256, 512, 1024]);
});

test('the improved conversion beats the classic one, never beats the exact Gaussian ε, and δ(ε(δ)) ≤ δ', () => {
  const orders = DEFAULT_RDP_ORDERS;
  for (const [sigma, steps, delta] of [
    [1, 1, 1e-5],
    [3, 40, 1e-6],
    [0.8, 5, 1e-3],
  ] as const) {
    const rdp = orders.map((a) => (steps * a) / (2 * sigma * sigma));
    const improved = rdpToEpsilon(orders, rdp, delta).epsilon;
    const classic = Math.min(...orders.map((a, i) => rdp[i]! + Math.log(1 / delta) / (a - 1)));
    const exact = gaussianEpsilon(delta, Math.sqrt(steps) / sigma);
    assert.ok(improved < classic, `σ=${sigma}: improved ${improved} vs classic ${classic}`);
    assert.ok(improved >= exact, `σ=${sigma}: RDP ${improved} below the exact ${exact}`);
    assert.ok(improved <= exact * 1.15, `σ=${sigma}: RDP ${improved} far above the exact ${exact}`);
    const back = rdpToDelta(orders, rdp, improved).delta;
    assert.ok(back <= delta * (1 + 1e-9), `δ(ε(δ)) = ${back} > ${delta}`);
  }
});

test('RDP ε through epsilonFor agrees with a conversion of the numerically integrated curve (integer orders)', () => {
  // AGNews setting of Tang et al.: σ = 0.39, q = 20/30000, T = 100, δ = 1/30000.
  const q = 20 / 30000;
  const orders = Array.from({ length: 30 }, (_, i) => i + 2);
  const numeric = orders.map((a) => (100 * logANumeric(q, 0.39, a)) / (a - 1));
  const fromSeries = rdpOfSpecs([{ kind: 'poisson-gaussian', sigma: 0.39, samplingRate: q, steps: 100 }], orders);
  const eNumeric = rdpToEpsilon(orders, numeric, 1 / 30000).epsilon;
  const eSeries = rdpToEpsilon(orders, fromSeries, 1 / 30000).epsilon;
  assert.ok(Math.abs(eSeries - eNumeric) < 1e-6, `${eSeries} vs ${eNumeric}`);
  // The default orders (with fractional ones) can only do better than integers alone, and RDP is looser than PLD.
  const eDefault = epsilonFor(
    [{ kind: 'poisson-gaussian', sigma: 0.39, samplingRate: q, steps: 100 }],
    1 / 30000,
    'rdp',
  );
  assert.ok(eDefault <= eSeries + 1e-12);
  assert.ok(eDefault > 3.815 * 1.2, `RDP ε ${eDefault} should be well above the PLD/PRV 3.815`);
});
