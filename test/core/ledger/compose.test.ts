import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpentCalculator, type PoolCharge, type MechanismSpec } from '../../../src/core/ledger';
import { epsilonFor } from '../../../src/core/privacy';
import { gdpAccountant, gdpEpsilon, mu } from './gdp-accountant';

const pg = (sigma: number, samplingRate: number, steps: number): MechanismSpec => ({
  kind: 'poisson-gaussian',
  sigma,
  samplingRate,
  steps,
});
const g = (sigma: number, steps: number): MechanismSpec => ({ kind: 'gaussian', sigma, steps });
const on = (partition: string, mechanism: MechanismSpec): PoolCharge => ({ partition, mechanism });
const A = 'label-hash:' + 'a'.repeat(32);
const B = 'label-hash:' + 'b'.repeat(32);
const C = 'label-hash:' + 'c'.repeat(32);

test('k identical charges on one pool give exactly the k-fold composition, with the real PLD accountant', () => {
  const calls: MechanismSpec[][] = [];
  const calc = new SpentCalculator({
    name: 'pld',
    epsilonFor: (specs, delta) => (calls.push(specs), epsilonFor(specs, delta)),
    calibrateSigma: () => 1,
  });
  const spent = calc.spent(
    Array.from({ length: 5 }, () => on(A, pg(0.8, 0.01, 20))),
    1e-5,
  );
  assert.deepEqual(calls, [[pg(0.8, 0.01, 100)]]);
  assert.equal(spent.epsilon, epsilonFor([pg(0.8, 0.01, 100)], 1e-5));
  assert.equal(spent.computed, 1);
});

test('a pool whose charges are a sub-multiset of another pool is not computed; identical pools are computed once', () => {
  const acc = gdpAccountant();
  const calc = new SpentCalculator(acc);
  const charges = [on(A, g(2, 3)), on(A, g(5, 1)), on(B, g(2, 2)), on(C, g(2, 3)), on(C, g(5, 1)), on('*', g(9, 1))];
  const s = calc.spent(charges, 1e-5);
  assert.equal(acc.calls, 1, 'B is dominated by A, and C equals A');
  assert.equal(s.pools, 3);
  assert.equal(s.epsilon, gdpEpsilon(mu([g(2, 3), g(5, 1), g(9, 1)]), 1e-5));
  // Memoised: the same question again costs nothing.
  calc.spent(charges, 1e-5);
  assert.equal(acc.calls, 1);
  // Another δ is another question.
  calc.spent(charges, 1e-6);
  assert.equal(acc.calls, 2);
});

test('stopAbove answers a fit check from known pools first and stops at the first pool over the limit', () => {
  const acc = gdpAccountant();
  const calc = new SpentCalculator(acc);
  const base = [on(A, g(1, 4)), on(B, g(3, 1)), on(C, g(4, 1))];
  const full = calc.spent(base, 1e-5);
  assert.equal(acc.calls, 3);
  // A new * charge changes every pool (none is known): the first computed pool over the limit ends the check.
  const before = acc.calls;
  const r = calc.spent([...base, on('*', g(1, 1))], 1e-5, undefined, { stopAbove: full.epsilon });
  assert.ok(r.epsilon > full.epsilon);
  assert.ok(acc.calls - before < 3, `stopped early after ${acc.calls - before} calls`);
  // A known pool over the limit answers without any new call.
  const n = acc.calls;
  const known = calc.spent(base, 1e-5, undefined, { stopAbove: 0.1 });
  assert.ok(known.epsilon > 0.1);
  assert.equal(acc.calls, n);
});

test('recorded values are used only for the exact composition, δ, accountant and tool version', () => {
  const acc = gdpAccountant();
  const calc = new SpentCalculator(acc, '9.9.9');
  const merged = new Map([['g|2', g(2, 3)]]);
  const key = calc.recordKey(merged, 1e-5);
  assert.match(key, /^[0-9a-f]{24}$/);
  const s = calc.spent([on('*', g(2, 3))], 1e-5, new Map([[key, 42]]));
  assert.equal(s.epsilon, 42);
  assert.equal(acc.calls, 0);
  assert.notEqual(new SpentCalculator(acc, '9.9.10').recordKey(merged, 1e-5), key);
  assert.notEqual(calc.recordKey(merged, 2e-5), key);
  assert.notEqual(calc.recordKey(new Map([['g|2', g(2, 4)]]), 1e-5), key);
  assert.notEqual(new SpentCalculator({ ...acc, name: 'rdp' }, '9.9.9').recordKey(merged, 1e-5), key);
});
