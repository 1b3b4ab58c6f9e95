import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CALIBRATION_REL_TOL,
  calibrateSigma,
  epsilonFor,
  maxSteps,
  type MechanismSpec,
} from '../../../src/core/privacy';
import { UsageError, UserError } from '../../../src/core/errors';

const rel = (a: number, b: number) => Math.abs(a / b - 1);

test('PLD calibration round trip: ε(σ) meets the target and σ/(1+2·tol) does not (Tang et al. settings)', () => {
  const cases: [q: number, steps: number, delta: number, eps: number, publishedSigma: number][] = [
    [20 / 30000, 100, 1 / 30000, 3.815, 0.39],
    [80 / 1561, 80, 1 / 1561, 0.998, 1.52],
  ];
  for (const [q, steps, delta, eps, published] of cases) {
    const sigma = calibrateSigma({ epsilon: eps, delta }, { kind: 'poisson-gaussian', samplingRate: q, steps });
    const at = (s: number) => epsilonFor([{ kind: 'poisson-gaussian', sigma: s, samplingRate: q, steps }], delta);
    assert.ok(at(sigma) <= eps, `ε(${sigma}) = ${at(sigma)} > ${eps}`);
    assert.ok(at(sigma / (1 + 2 * CALIBRATION_REL_TOL)) > eps, 'σ is the smallest within the tolerance');
    // The published σ (to 2 decimals) gave about this ε, so the calibrated σ sits next to it.
    assert.ok(rel(sigma, published) < 0.01, `σ = ${sigma}, published ${published}`);
  }
});

test('RDP calibration needs a larger σ than PLD for the same target', () => {
  const target = { epsilon: 3.843, delta: 1 / 2953 };
  const shape = { kind: 'poisson-gaussian' as const, samplingRate: 80 / 2953, steps: 80 };
  const pld = calibrateSigma(target, shape, 'pld');
  const rdp = calibrateSigma(target, shape, 'rdp');
  assert.ok(rdp > pld * 1.05, `rdp σ ${rdp} vs pld σ ${pld}`);
  assert.ok(epsilonFor([{ ...shape, sigma: rdp }], target.delta, 'rdp') <= target.epsilon);
  assert.ok(rel(pld, 0.64) < 0.005, `MIT-G: the published σ = 0.64 gives ε ≈ 3.843; got ${pld}`);
});

test('calibration on top of existing entries: the composed account meets the target', () => {
  const existing: MechanismSpec[] = [
    { kind: 'poisson-gaussian', sigma: 0.8, samplingRate: 0.02, steps: 200 },
    { kind: 'gaussian', sigma: 20, steps: 10 },
  ];
  const target = { epsilon: 4, delta: 1e-6 };
  const spent = epsilonFor(existing, target.delta);
  assert.ok(spent < 4);
  const shape = { kind: 'poisson-gaussian' as const, samplingRate: 0.01, steps: 300 };
  const sigma = calibrateSigma(target, shape, 'pld', { existing });
  const total = epsilonFor(
    [...existing, { kind: 'poisson-gaussian', sigma, samplingRate: 0.01, steps: 300 }],
    target.delta,
  );
  assert.ok(total <= 4 && total > 3.95, `total ε ${total}`);
  const alone = calibrateSigma(target, shape, 'pld');
  assert.ok(sigma > alone, 'less room left means more noise');
});

test('Gaussian calibration on top of Gaussian entries is exact (closed form in μ²)', () => {
  const existing: MechanismSpec[] = [{ kind: 'gaussian', sigma: 10, steps: 10 }];
  const target = { epsilon: 2, delta: 1e-6 };
  for (const accountant of ['gdp', 'pld'] as const) {
    const sigma = calibrateSigma(target, { kind: 'gaussian', steps: 5 }, accountant, { existing });
    const total = epsilonFor([...existing, { kind: 'gaussian', sigma, steps: 5 }], target.delta, accountant);
    assert.ok(total <= 2 && total > 2 - 1e-9, `${accountant}: total ε ${total}`);
  }
});

test('an account that is already spent cannot be fixed with noise: a UserError says how much is spent', () => {
  const existing: MechanismSpec[] = [{ kind: 'gaussian', sigma: 0.5, steps: 4 }];
  assert.throws(
    () =>
      calibrateSigma({ epsilon: 1, delta: 1e-5 }, { kind: 'poisson-gaussian', samplingRate: 0.01, steps: 10 }, 'pld', {
        existing,
      }),
    (e: unknown) => e instanceof UserError && /already spend ε = \d/.test(e.message),
  );
  assert.throws(
    () => calibrateSigma({ epsilon: 1, delta: 1e-5 }, { kind: 'gaussian', steps: 10 }, 'gdp', { existing }),
    UserError,
  );
});

test('bad targets and shapes are usage errors', () => {
  assert.throws(() => calibrateSigma({ epsilon: 0, delta: 1e-5 }, { kind: 'gaussian', steps: 3 }), UsageError);
  assert.throws(() => calibrateSigma({ epsilon: 1, delta: 2 }, { kind: 'gaussian', steps: 3 }), UsageError);
  assert.throws(
    () => calibrateSigma({ epsilon: 1, delta: 1e-5 }, { kind: 'poisson-gaussian', samplingRate: 0.1, steps: 3 }, 'gdp'),
    /gdp accountant/,
  );
  assert.throws(
    () => calibrateSigma({ epsilon: 1, delta: 1e-5 }, { kind: 'poisson-gaussian', steps: 3 }),
    /samplingRate/,
  );
  assert.equal(
    calibrateSigma({ epsilon: 1, delta: 1e-5 }, { kind: 'gaussian', steps: 0 }),
    0,
    'no steps need no noise',
  );
});

test('maxSteps finds the largest step budget that fits', () => {
  const target = { epsilon: 2, delta: 1e-5 };
  const mech = { kind: 'poisson-gaussian' as const, sigma: 0.9, samplingRate: 0.01 };
  const t = maxSteps(target, mech);
  const eps = (n: number) => epsilonFor([{ ...mech, steps: n }], target.delta);
  assert.ok(t > 10);
  assert.ok(eps(t) <= 2, `ε(${t}) = ${eps(t)}`);
  assert.ok(eps(t + 1) > 2, `ε(${t + 1}) = ${eps(t + 1)}`);
  assert.equal(maxSteps({ epsilon: 0.01, delta: 1e-5 }, { kind: 'gaussian', sigma: 0.5 }), 0, 'not even one step fits');
});
