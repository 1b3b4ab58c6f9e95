import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CalibrationError,
  calibrateSigma,
  gaussianDelta,
  gaussianEpsilon,
  gaussianMuFor,
  inverseMonotone,
  maxSteps,
  type MonotoneSearch,
} from '../../../src/core/privacy';
import { UserError } from '../../../src/core/errors';
import baseline from './calibrate-baseline.fixture.json';

// ---- the four callers give the same answers as the searches they replaced ----------------------------------------
// The fixture holds what the hand-written searches of gaussian.ts and index.ts returned on these grids before they
// moved onto inverseMonotone. Same evaluation sequence ⇒ bit-identical answers.

test('gaussianEpsilon and gaussianMuFor: bit-identical to the recorded baseline', () => {
  for (const [delta, mu, eps] of baseline.gaussianEpsilon as [number, number, number][])
    assert.equal(gaussianEpsilon(delta, mu), eps, `gaussianEpsilon(${delta}, ${mu})`);
  for (const [eps, delta, mu] of baseline.gaussianMuFor as [number, number, number][])
    assert.equal(gaussianMuFor(eps, delta), mu, `gaussianMuFor(${eps}, ${delta})`);
});

test('calibrateSigma (pld) and maxSteps (pld): bit-identical to the recorded baseline', () => {
  for (const [acc, q, steps, epsilon, delta, sigma] of baseline.calibrateSigma as [
    'pld',
    number,
    number,
    number,
    number,
    number,
  ][]) {
    const shape =
      q === 1 ? { kind: 'gaussian' as const, steps } : { kind: 'poisson-gaussian' as const, samplingRate: q, steps };
    assert.equal(
      calibrateSigma({ epsilon, delta }, shape, acc),
      sigma,
      `calibrateSigma q=${q} T=${steps} ε=${epsilon}`,
    );
  }
  const existing = [
    { kind: 'poisson-gaussian' as const, sigma: 1.5, samplingRate: 0.02, steps: 20 },
    { kind: 'gaussian' as const, sigma: 5, steps: 3 },
  ];
  for (const [epsilon, sigma] of baseline.calibrateExisting as [number, number][]) {
    const got = calibrateSigma(
      { epsilon, delta: 1e-5 },
      { kind: 'poisson-gaussian', samplingRate: 0.01, steps: 40 },
      'pld',
      { existing },
    );
    assert.equal(got, sigma, `calibrateSigma on top of existing entries, ε=${epsilon}`);
  }
  for (const [acc, sigma, q, epsilon, steps] of baseline.maxSteps as ['pld', number, number, number, number][]) {
    const mech =
      q === 1 ? { kind: 'gaussian' as const, sigma } : { kind: 'poisson-gaussian' as const, sigma, samplingRate: q };
    assert.equal(maxSteps({ epsilon, delta: 1e-5 }, mech, acc, { limit: 1e5 }), steps, `maxSteps σ=${sigma} q=${q}`);
  }
});

// ---- the search itself -------------------------------------------------------------------------------------------

function counting(spec: MonotoneSearch): { value: number; calls: number } {
  let calls = 0;
  const value = inverseMonotone({
    ...spec,
    ok: (x) => {
      calls++;
      return spec.ok(x);
    },
  });
  return { value, calls };
}

test('inverseMonotone returns a point on the safe side, next to the boundary, for every mode and start', () => {
  for (const boundary of [1e-5, 0.3, 1, 7.77, 1234.5, 9e6]) {
    for (const start of [1e-6, 0.01, 1, 50, 1e7]) {
      // safe above: ok for x ≥ boundary (like σ meeting ε)
      const above = inverseMonotone({
        what: 'test',
        ok: (x) => x >= boundary,
        safe: 'above',
        start,
        min: 1e-6,
        max: 1e7,
        mid: 'geometric',
        relTol: 1e-9,
      });
      assert.ok(above >= boundary, `above: ${above} < ${boundary}`);
      assert.ok(above <= boundary * (1 + 2e-9), `above: ${above} not tight for ${boundary}`);
      // safe below: ok for x ≤ boundary (like μ meeting δ)
      const below = inverseMonotone({
        what: 'test',
        ok: (x) => x <= boundary,
        safe: 'below',
        start,
        min: 1e-6,
        max: 1e7,
        mid: 'arithmetic',
        relTol: 1e-12,
      });
      assert.ok(below <= boundary, `below: ${below} > ${boundary}`);
      assert.ok(below >= boundary * (1 - 2e-12), `below: ${below} not tight for ${boundary}`);
    }
  }
  for (const boundary of [1, 2, 3, 17, 1000, 65535, 65536, 99999]) {
    const t = inverseMonotone({
      what: 'test',
      ok: (x) => x <= boundary,
      safe: 'below',
      start: 2,
      floor: { x: 1, ok: true },
      max: 1e5,
      mid: 'integer',
    });
    assert.equal(t, boundary);
  }
});

test('inverseMonotone: the domain end is returned when all of it is safe; no safe point calls onNoSafePoint', () => {
  const all = { what: 'test', ok: () => true, safe: 'below' as const, start: 1, max: 1e9, mid: 'arithmetic' as const };
  assert.equal(inverseMonotone(all), 1e9);
  assert.equal(inverseMonotone({ ...all, safe: 'above', min: 1e-6 }), 1e-6);
  const none = { what: 'σ for the test', ok: () => false, safe: 'above' as const, start: 1, max: 1e7 };
  assert.equal(inverseMonotone({ ...none, mid: 'geometric', onNoSafePoint: () => Infinity }), Infinity);
  assert.throws(
    () => inverseMonotone({ ...none, mid: 'geometric' }),
    (e: unknown) => e instanceof CalibrationError && /σ for the test: no value in \[0, 10000000\]/.test(e.message),
  );
  // NaN from the function under search makes the comparison false: treated as unsafe, never returned.
  const nanAbove = inverseMonotone({
    what: 'test',
    ok: (x) => (x < 2 ? NaN : 0) <= 0,
    safe: 'above',
    start: 1,
    mid: 'geometric',
    relTol: 1e-12,
  });
  assert.ok(nanAbove >= 2);
});

test('inverseMonotone: the bracket walk stops at its iteration cap with a CalibrationError (fails fast)', () => {
  // The safe region starts at 1e300; with the default domain [0, ∞) the walk would take ~1000 doublings.
  const r = () =>
    counting({ what: 'σ for ε = 1 at δ = 1e-300', ok: (x) => x >= 1e300, safe: 'above', start: 1, mid: 'geometric' });
  assert.throws(
    r,
    (e: unknown) =>
      e instanceof CalibrationError && e instanceof UserError && /no bracket after 200 steps/.test(e.message),
  );
  let calls = 0;
  assert.throws(() =>
    inverseMonotone({
      what: 'test',
      ok: (x) => (calls++, x >= 1e300),
      safe: 'above',
      start: 1,
      mid: 'geometric',
      maxBracketSteps: 10,
    }),
  );
  assert.equal(calls, 11, 'start plus 10 walk steps, then stop');
  // The bisection cap returns the safe end found so far (valid, less tight) instead of spinning.
  const loose = counting({
    what: 'test',
    ok: (x) => x >= Math.PI,
    safe: 'above',
    start: 1,
    mid: 'arithmetic',
    relTol: 0,
    maxBisectSteps: 5,
  });
  assert.ok(loose.value >= Math.PI && loose.value <= 4);
  assert.equal(loose.calls, 1 + 2 + 5);
});

test('calibrateSigma: an unreachable target fails fast with a UserError, not a long walk', () => {
  // A Gaussian shape under the rdp accountant takes the numerical path; an ε this small needs σ far above 1e7.
  assert.throws(
    () => calibrateSigma({ epsilon: 1e-9, delta: 1e-5 }, { kind: 'gaussian', steps: 1e6 }, 'rdp'),
    (e: unknown) => e instanceof UserError && /no σ up to 10000000 meets/.test(e.message),
  );
  const mu = gaussianMuFor(1, 1e-5);
  assert.ok(gaussianDelta(1, mu) <= 1e-5, 'μ returned on the safe side');
});
