import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrateJoint } from '../../../src/core/fewshot/plan';
import { suggest } from '../../../src/core/ledger/suggest';
import type { Charge } from '../../../src/core/ledger';

/** A monotone ε(σ) with a known boundary: ε(σ) = 2/σ, so ε ≤ 1 exactly when σ ≥ 2. */
const eps = (sigma: number) => 2 / sigma;

test("the few-shot planner's joint σ lands on the safe side (ε(σ) ≤ target) within its tolerance", () => {
  for (const target of [0.01, 0.3, 1, 7, 39]) {
    const sigma = calibrateJoint(eps, target);
    const boundary = 2 / target;
    assert.ok(eps(sigma) <= target, `σ ${sigma} misses ε ${target}`);
    assert.ok(sigma <= boundary * (1 + 1.1e-3), `σ ${sigma} is looser than 1e-3 above ${boundary}`);
  }
  // Below the search floor the floor is safe and returned; beyond the ceiling no σ meets the target.
  assert.equal(calibrateJoint(eps, 100), 0.05);
  assert.throws(() => calibrateJoint(eps, 1e-7), /no noise level meets/);
});

const pgCharge = (sigma: number, steps: number): Charge => ({
  partition: '*',
  mechanism: { kind: 'poisson-gaussian', sigma, samplingRate: 0.01, steps },
});

test("the ledger's refusal suggestions land on the safe side: the σ and the steps they name fit", () => {
  // fits: σ ≥ 3.7 at any steps, or steps ≤ 37 at the planned σ (a monotone stand-in for the budget filter).
  const fits = (cs: Charge[]) => cs[0]!.mechanism.sigma >= 3.7 || cs[0]!.mechanism.steps <= 37;
  for (const guess of [1.5, 3, 3.7, 50, 1e6, NaN]) {
    const accountant = { calibrateSigma: () => guess };
    const s = suggest([pgCharge(1, 100)], fits, 1, 1e-6, accountant);
    const sigma = s.sigmas![0]!;
    assert.ok(sigma >= 3.7, `guess ${guess}: σ ${sigma} does not fit`);
    assert.ok(sigma <= 3.7 * 1.003, `guess ${guess}: σ ${sigma} is looser than the 0.2% tolerance and rounding`);
    assert.deepEqual(s.steps, [37], `guess ${guess}`);
  }
  // Nothing fits below 10⁴ × σ and no step count fits: no suggestion at all (never one that does not fit).
  const none = suggest([pgCharge(1, 100)], () => false, 1, 1e-6, { calibrateSigma: () => 2 });
  assert.deepEqual(none, {});
  // One planned step: only σ can be suggested.
  const one = suggest([pgCharge(1, 1)], (cs) => cs[0]!.mechanism.sigma >= 2, 1, 1e-6, { calibrateSigma: () => 3 });
  assert.equal(one.steps, undefined);
  assert.ok(one.sigmas![0]! >= 2);
});
