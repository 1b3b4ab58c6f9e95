import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FILTER_ORDERS, filterEpsilon, filterEpsilonOfRdp } from '../../../src/core/privacy/filter';
import {
  DEFAULT_RDP_ORDERS,
  epsilonFor,
  gaussianEpsilon,
  rdpOfSpecs,
  rdpToEpsilon,
  type MechanismSpec,
} from '../../../src/core/privacy';
import { logANumeric } from '../../support/rdp-numeric';

const pg = (sigma: number, samplingRate: number, steps: number): MechanismSpec => ({
  kind: 'poisson-gaussian',
  sigma,
  samplingRate,
  steps,
});
const g = (sigma: number, steps: number): MechanismSpec => ({ kind: 'gaussian', sigma, steps });

/**
 * Reference values from Google's dp_accounting (github.com/google/differential-privacy, commit b5b0286e, python/
 * dp_accounting), RDP accountant: the per-order RDP of the composition, and ε = compute_epsilon(orders, rdp, δ/16),
 * i.e. its improved conversion at δ split over the filter's 16 orders. Produced with:
 *
 *   O = [1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 16, 20, 32, 64, 256]
 *   c = np.array(rdp_privacy_accountant._compute_rdp_poisson_subsampled_gaussian(q, sigma, O)) * steps  (summed)
 *   rdp_privacy_accountant.compute_epsilon(O, c, delta / len(O))
 */
const REFERENCE: {
  name: string;
  specs: MechanismSpec[];
  delta: number;
  rdp: number[];
  epsilon: number;
  order: number;
}[] = [
  {
    name: 'AGNews σ 0.39, q 20/30000, 100 steps',
    specs: [pg(0.39, 20 / 30000, 100)],
    delta: 1 / 30000,
    rdp: [
      0.0132355450192, 0.0193200623438, 0.0318027042219, 0.186099128068, 5.21891684636, 339.830130937, 729.502942133,
      1094.80014132, 1794.05216803, 2474.73093661, 3146.96731513, 4479.6207261, 5804.80928691, 9764.48206256,
      20295.8599445, 83420.97111,
    ],
    epsilon: 7.78544060497507,
    order: 2.5,
  },
  {
    name: 'σ 1, q 0.01, 1000 steps',
    specs: [pg(1, 0.01, 1000)],
    delta: 1e-5,
    rdp: [
      0.13236850294, 0.152353582085, 0.171813422075, 0.217772024241, 0.264637574585, 0.363154048911, 0.468667242169,
      0.583498148938, 0.893643907606, 38.2704188949, 978.011718025, 3087.8507837, 5152.45301968, 11246.275937,
      27321.7318746, 123376.770323,
    ],
    epsilon: 2.503837178628686,
    order: 8,
  },
  {
    name: 'plain Gaussian σ 10, 10 steps',
    specs: [g(10, 10)],
    delta: 1e-5,
    rdp: [0.075, 0.0875, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.6, 3.2, 12.8],
    epsilon: 1.5029898431937774,
    order: 16,
  },
  {
    // dp_accounting, like rdp.ts, drops α = 1.5 here: the fractional series does not converge in 1000 terms.
    name: 'σ 0.9, q 0.1, 30 steps + Gaussian σ 20, 10 steps',
    specs: [pg(0.9, 0.1, 30), g(20, 10)],
    delta: 1 / (90 * Math.log(90)),
    rdp: [
      Infinity,
      0.677138241363,
      0.747302383907,
      1.0878394282,
      1.54052071971,
      3.59661785941,
      11.4081921363,
      29.1171577453,
      69.3575754981,
      108.561838695,
      147.015264632,
      222.813575932,
      297.907156926,
      521.686731648,
      1115.8111633,
      4674.59229559,
    ],
    epsilon: 4.9739662137523775,
    order: 3,
  },
];

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

test('the filter’s orders are fixed and its RDP curves match dp_accounting', () => {
  assert.equal(FILTER_ORDERS.length, 16);
  assert.ok(Object.isFrozen(FILTER_ORDERS));
  for (const c of REFERENCE) {
    const rdp = rdpOfSpecs(c.specs, FILTER_ORDERS);
    c.rdp.forEach((want, i) => {
      if (want === Infinity) assert.equal(rdp[i], Infinity, `${c.name} α=${FILTER_ORDERS[i]}`);
      else assert.ok(rel(rdp[i]!, want) < 1e-9, `${c.name} α=${FILTER_ORDERS[i]}: ${rdp[i]} vs ${want}`);
    });
  }
});

test('filter ε = dp_accounting’s conversion at δ/|Λ| (the union bound over the 16 orders)', () => {
  for (const c of REFERENCE) {
    const r = filterEpsilonOfRdp(rdpOfSpecs(c.specs, FILTER_ORDERS), c.delta);
    assert.ok(rel(r.epsilon, c.epsilon) < 1e-9, `${c.name}: ${r.epsilon} vs ${c.epsilon}`);
    assert.equal(r.order, c.order, c.name);
    assert.ok(rel(filterEpsilon(c.specs, c.delta), c.epsilon) < 1e-9);
    // Without the union bound (δ instead of δ/16) the number would be smaller: the correction is not a no-op.
    const uncorrected = rdpToEpsilon(FILTER_ORDERS, rdpOfSpecs(c.specs, FILTER_ORDERS), c.delta).epsilon;
    assert.ok(uncorrected < c.epsilon - 0.05, `${c.name}: ${uncorrected} vs ${c.epsilon}`);
  }
});

test('filter ε from the exact RDP (numerical integration at integer orders) agrees where an integer order is optimal', () => {
  for (const c of REFERENCE.filter((x) => Number.isInteger(x.order) && x.specs.every((s) => s.kind !== 'gaussian'))) {
    const s = c.specs[0] as Extract<MechanismSpec, { kind: 'poisson-gaussian' }>;
    // Keep only the integer orders, with values integrated numerically, and the union still over all 16.
    const exact = FILTER_ORDERS.map((a) =>
      Number.isInteger(a) && a <= 64 ? (s.steps * logANumeric(s.samplingRate, s.sigma, a)) / (a - 1) : Infinity,
    );
    const viaIntegral = filterEpsilonOfRdp(exact, c.delta).epsilon;
    assert.ok(rel(viaIntegral, c.epsilon) < 1e-7, `${c.name}: ${viaIntegral} vs ${c.epsilon}`);
  }
  // Plain Gaussian: exact RDP α·T/(2σ²) at every order, so the filter is never below the exact (non-adaptive) ε.
  const exactGauss = FILTER_ORDERS.map((a) => (a * 10) / (2 * 100));
  const f = filterEpsilonOfRdp(exactGauss, 1e-5).epsilon;
  assert.ok(rel(f, 1.5029898431937774) < 1e-12);
  assert.ok(f > gaussianEpsilon(1e-5, Math.sqrt(10) / 10));
});

test('an empty or vacuous composition costs nothing; the filter is monotone and above the PLD ε', () => {
  assert.equal(filterEpsilon([], 1e-5), 0);
  assert.equal(filterEpsilon([pg(1, 0.01, 0)], 1e-5), 0);
  let last = 0;
  for (const steps of [1, 10, 100, 1000]) {
    const f = filterEpsilon([pg(1, 0.01, steps)], 1e-5);
    assert.ok(f > last);
    assert.ok(f >= epsilonFor([pg(1, 0.01, steps)], 1e-5));
    last = f;
  }
});

test('16 fixed orders cost less than the union over all 156 default orders on the tool’s settings', () => {
  for (const c of REFERENCE) {
    const all = filterEpsilonOfRdp(rdpOfSpecs(c.specs), c.delta, DEFAULT_RDP_ORDERS).epsilon;
    assert.ok(c.epsilon < all, `${c.name}: ${c.epsilon} vs ${all}`);
  }
});
