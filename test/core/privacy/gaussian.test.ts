import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrateSigma, deltaFor, epsilonFor, gaussianDelta, gaussianEpsilon, gdpMu } from '../../../src/core/privacy';
import { UsageError } from '../../../src/core/errors';

const rel = (a: number, b: number) => Math.abs(a / b - 1);

test('Gaussian-DP reproduces the Aug-PE / pe calibration table (σ for ε at δ = 1/(N ln N)) within 1e-3', () => {
  // docs/BACKGROUND.md §5.2 (recomputed with the upstream analytic formula).
  const cases: [n: number, steps: number, eps: number, sigma: number][] = [
    [8396, 10, 1, 11.6],
    [8396, 10, 2, 6.211],
    [8396, 10, 4, 3.374],
    [1939290, 10, 1, 15.404],
    [1939290, 10, 2, 8.039],
    [1939290, 10, 4, 4.245],
    [1939290, 20, 1, 21.785],
    [75316, 10, 1, 13.251],
    [75316, 20, 1, 18.739],
    [8396, 20, 1, 16.405],
    [1000, 5, 1, 6.9149],
  ];
  for (const [n, steps, eps, sigma] of cases) {
    const delta = 1 / (n * Math.log(n));
    const s = calibrateSigma({ epsilon: eps, delta }, { kind: 'gaussian', steps }, 'gdp');
    assert.ok(rel(s, sigma) < 1e-3, `N=${n} T=${steps} ε=${eps}: σ = ${s}, expected ${sigma}`);
    assert.ok(
      epsilonFor([{ kind: 'gaussian', sigma: s, steps }], delta, 'gdp') <= eps,
      'the calibrated σ meets the target',
    );
  }
});

test('Gaussian-DP ε values: σ=1, T=1, δ=1e-5 gives 4.3772; σ=10, T=10, δ=1e-6 gives 1.3676; README σ=15.34 overshoots', () => {
  assert.ok(rel(epsilonFor([{ kind: 'gaussian', sigma: 1, steps: 1 }], 1e-5, 'gdp'), 4.3772) < 1e-4);
  assert.ok(rel(epsilonFor([{ kind: 'gaussian', sigma: 10, steps: 10 }], 1e-6, 'gdp'), 1.3676) < 1e-4);
  const n = 1939290;
  const yelp = epsilonFor([{ kind: 'gaussian', sigma: 15.34, steps: 10 }], 1 / (n * Math.log(n)), 'gdp');
  assert.ok(rel(yelp, 1.0045) < 1e-3, `ε = ${yelp}`);
});

test('δ(ε) matches 60-digit values, including negative ε (used by the PLD) and huge ε (log space, no NaN)', () => {
  // mpmath: Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2) at 60 digits.
  const ref: [eps: number, mu: number, delta: number][] = [
    [1, 0.5, 0.0068295949831145755],
    [50, 2, 1.0662620244749715e-128],
    [5, 0.3, 2.4655161885115427e-63],
    [-1, 1, 0.6788179748866279],
    [500, 30, 0.044652092298350786],
    [0.1, 0.01, 7.857692771036772e-27],
    [3, 1, 0.0015371853694009549],
  ];
  for (const [eps, mu, d] of ref) {
    const got = gaussianDelta(eps, mu);
    assert.ok(rel(got, d) < 1e-10, `δ(${eps}; μ=${mu}) = ${got}, expected ${d}`);
  }
  assert.equal(gaussianDelta(1e6, 3), 0);
  assert.equal(gaussianDelta(Infinity, 3), 0);
  assert.equal(gaussianDelta(2, 0), 0);
});

test('ε(δ) inverts δ(ε) and is on the safe side', () => {
  for (const mu of [0.05, 0.3, 1, 2.5, 8]) {
    for (const delta of [1e-3, 1e-5, 1e-9, 1e-14]) {
      const eps = gaussianEpsilon(delta, mu);
      const back = gaussianDelta(eps, mu);
      assert.ok(back <= delta, `μ=${mu} δ=${delta}: δ(ε) = ${back}`);
      assert.ok(back >= delta * (1 - 1e-9) || eps === 0, `μ=${mu} δ=${delta}: δ(ε) = ${back} is not tight`);
    }
  }
  assert.equal(gaussianEpsilon(0.9, 0.1), 0, 'δ above δ(0) needs no ε');
});

test('μ composes as sqrt(Σ T/σ²) over plain and q = 1 entries, and gdp refuses subsampled entries', () => {
  const mu = gdpMu([
    { kind: 'gaussian', sigma: 2, steps: 3 },
    { kind: 'poisson-gaussian', sigma: 4, samplingRate: 1, steps: 4 },
    { kind: 'poisson-gaussian', sigma: 0.1, samplingRate: 0, steps: 100 },
  ]);
  assert.ok(rel(mu, 1) < 1e-15);
  // Composition of two entries equals one entry with the same μ.
  const a = epsilonFor(
    [
      { kind: 'gaussian', sigma: 2, steps: 3 },
      { kind: 'gaussian', sigma: 4, steps: 4 },
    ],
    1e-6,
    'gdp',
  );
  const b = epsilonFor([{ kind: 'gaussian', sigma: 1, steps: 1 }], 1e-6, 'gdp');
  assert.ok(rel(a, b) < 1e-12);
  assert.throws(
    () => epsilonFor([{ kind: 'poisson-gaussian', sigma: 1, samplingRate: 0.5, steps: 1 }], 1e-5, 'gdp'),
    UsageError,
  );
  assert.throws(
    () => deltaFor([{ kind: 'poisson-gaussian', sigma: 1, samplingRate: 0.5, steps: 1 }], 1, 'gdp'),
    /gdp accountant applies only to un-subsampled/,
  );
});

test('plain-Gaussian accounts get the same exact answer from the pld accountant', () => {
  const specs = [
    { kind: 'gaussian' as const, sigma: 3, steps: 7 },
    { kind: 'poisson-gaussian' as const, sigma: 5, samplingRate: 1, steps: 2 },
  ];
  assert.equal(epsilonFor(specs, 1e-6, 'pld'), epsilonFor(specs, 1e-6, 'gdp'));
  assert.equal(deltaFor(specs, 2, 'pld'), deltaFor(specs, 2, 'gdp'));
});
