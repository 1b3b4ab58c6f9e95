import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composePld, deltaFor, epsilonFor, gaussianEpsilon, type MechanismSpec } from '../../../src/core/privacy';
import { addCurve, discretize, gaussianCurve, removeCurve } from '../../../src/core/privacy/pld';
import { UsageError } from '../../../src/core/errors';

const pg = (sigma: number, samplingRate: number, steps: number): MechanismSpec => ({
  kind: 'poisson-gaussian',
  sigma,
  samplingRate,
  steps,
});
const rel = (a: number, b: number) => Math.abs(a / b - 1);

test('PLD reproduces the published ε of Tang et al. (PRV estimates): within 1%, never below the estimate', () => {
  // docs/BACKGROUND.md §5.1: σ for ε ≈ 1/2/4/8 and the ε that prv_accountant's estimate gives.
  // The references are printed to 3 decimals, so "not below" allows their rounding (5e−4).
  const rows: [name: string, sigma: number, q: number, steps: number, delta: number, eps: number][] = [
    ['AGNews', 0.51, 20 / 30000, 100, 1 / 30000, 0.965],
    ['AGNews', 0.46, 20 / 30000, 100, 1 / 30000, 1.789],
    ['AGNews', 0.39, 20 / 30000, 100, 1 / 30000, 3.815],
    ['AGNews', 0.31, 20 / 30000, 100, 1 / 30000, 7.967],
    ['DBPedia', 0.63, 80 / 40000, 100, 1 / 40000, 0.893],
    ['DBPedia', 0.54, 80 / 40000, 100, 1 / 40000, 1.919],
    ['DBPedia', 0.45, 80 / 40000, 100, 1 / 40000, 3.895],
    ['DBPedia', 0.36, 80 / 40000, 100, 1 / 40000, 7.587],
    ['MIT-G', 1.08, 80 / 2953, 80, 1 / 2953, 0.985],
    ['MIT-G', 0.81, 80 / 2953, 80, 1 / 2953, 1.994],
    ['MIT-G', 0.64, 80 / 2953, 80, 1 / 2953, 3.843],
    ['MIT-G', 0.5, 80 / 2953, 80, 1 / 2953, 7.704],
    ['MIT-D', 1.52, 80 / 1561, 80, 1 / 1561, 0.998],
    ['MIT-D', 1.04, 80 / 1561, 80, 1 / 1561, 1.976],
    ['MIT-D', 0.77, 80 / 1561, 80, 1 / 1561, 3.881],
    ['MIT-D', 0.58, 80 / 1561, 80, 1 / 1561, 7.935],
    ['TREC', 0.69, 80 / 835, 15, 1 / 835, 3.955],
  ];
  for (const [name, sigma, q, steps, delta, ref] of rows) {
    const eps = epsilonFor([pg(sigma, q, steps)], delta);
    assert.ok(eps >= ref - 5e-4, `${name} σ=${sigma}: ε = ${eps} is below the reference ${ref}`);
    assert.ok(eps <= ref * 1.01, `${name} σ=${sigma}: ε = ${eps} is more than 1% above ${ref}`);
  }
});

/** δ(ε) = ∫ (p − e^ε q)_+ by trapezoidal quadrature, for the two ordered pairs of the subsampled Gaussian. */
function hockeyStick(sigma: number, q: number, eps: number, dir: 'remove' | 'add'): number {
  const lo = -16 * sigma;
  const hi = 1 + 16 * sigma;
  const m = 200000;
  const dx = (hi - lo) / m;
  const c = 1 / (sigma * Math.sqrt(2 * Math.PI));
  const ee = Math.exp(eps);
  let s = 0;
  for (let i = 0; i <= m; i++) {
    const x = lo + i * dx;
    const n0 = c * Math.exp(-0.5 * (x / sigma) ** 2);
    const n1 = c * Math.exp(-0.5 * ((x - 1) / sigma) ** 2);
    const mix = q * n1 + (1 - q) * n0;
    const v = dir === 'remove' ? mix - ee * n0 : n0 - ee * mix;
    if (v > 0) s += (i === 0 || i === m ? 0.5 : 1) * v;
  }
  return s * dx;
}

test('the closed-form privacy curves of both add/remove directions match the hockey-stick integral', () => {
  for (const [sigma, q] of [
    [0.77, 80 / 1561],
    [1, 0.01],
    [0.39, 0.3],
  ] as const) {
    const rem = removeCurve(sigma, q);
    const add = addCurve(sigma, q);
    for (const eps of [-0.5, -0.01, 0, 0.005, 0.1, 0.7, 2]) {
      for (const [curve, dir] of [
        [rem, 'remove'],
        [add, 'add'],
      ] as const) {
        const exact = hockeyStick(sigma, q, eps, dir);
        const got = curve.delta(eps);
        assert.ok(
          Math.abs(got - exact) <= 1e-12 + 1e-6 * exact,
          `σ=${sigma} q=${q} ε=${eps} ${dir}: ${got} vs ${exact}`,
        );
      }
      // The two directions are related by H_{e^ε}(P‖Q) = 1 − e^ε + e^ε·H_{e^{−ε}}(Q‖P).
      const viaRemove = 1 - Math.exp(eps) + Math.exp(eps) * rem.delta(-eps);
      assert.ok(Math.abs(add.delta(eps) - viaRemove) < 1e-12, `identity at ε=${eps}`);
    }
  }
});

/** δ(ε) of a discrete PLD: Σ p_k (1 − e^{ε − t_k})_+ + infinity mass. */
function discreteDelta(p: { h: number; offset: number; pmf: Float64Array; infMass: number }, eps: number): number {
  let s = p.infMass;
  for (let k = 0; k < p.pmf.length; k++) {
    const t = (p.offset + k) * p.h;
    if (t > eps) s += p.pmf[k]! * (1 - Math.exp(eps - t));
  }
  return s;
}

test('one step’s connect-the-dots PLD is a dominating pair: its curve is ≥ the exact curve everywhere, equal on the grid', () => {
  const h = 2 ** -7;
  for (const curve of [removeCurve(0.77, 0.05), addCurve(0.77, 0.05), removeCurve(2, 0.001), gaussianCurve(0.8)]) {
    const p = discretize(curve, h)!;
    let mass = p.infMass;
    for (const m of p.pmf) {
      assert.ok(m >= 0, 'masses are non-negative');
      mass += m;
    }
    assert.ok(mass <= 1 + 1e-12 && mass >= 1 - 1e-9, `total mass ${mass}`);
    for (let k = 0; k < 200; k++) {
      const eps = -0.3 + k * 0.0173; // mostly off-grid points
      const exact = curve.delta(eps);
      const disc = discreteDelta(p, eps);
      assert.ok(disc >= exact - 1e-14, `ε=${eps}: discrete ${disc} < exact ${exact}`);
    }
    for (let k = 1; k < 40; k++) {
      const eps = (p.offset + k) * h;
      assert.ok(Math.abs(discreteDelta(p, eps) - curve.delta(eps)) < 1e-12, `grid point ε=${eps}`);
    }
  }
});

test('the FFT composition equals a direct convolution of the same discrete PLD (windows, wrap-around, offsets)', () => {
  const h = 2 ** -8;
  const sigma = 0.9;
  const q = 0.08;
  const steps = 3;
  const account = composePld([{ sigma, q, steps }], { h })!;
  const direct = (curve: ReturnType<typeof removeCurve>) => {
    const p = discretize(curve, h)!;
    let pmf = Float64Array.from(p.pmf);
    for (let s = 1; s < steps; s++) {
      const out = new Float64Array(pmf.length + p.pmf.length - 1);
      for (let i = 0; i < pmf.length; i++) for (let j = 0; j < p.pmf.length; j++) out[i + j]! += pmf[i]! * p.pmf[j]!;
      pmf = out;
    }
    return { h, offset: steps * p.offset, pmf, infMass: 1 - (1 - p.infMass) ** steps };
  };
  const rem = direct(removeCurve(sigma, q));
  const add = direct(addCurve(sigma, q));
  for (const eps of [0, 0.05, 0.2, 0.5, 1, 1.5, 2.5]) {
    const got = account.deltaByDirection(eps);
    for (const [dir, expected] of [
      ['remove', discreteDelta(rem, eps)],
      ['add', discreteDelta(add, eps)],
    ] as const) {
      assert.ok(
        Math.abs(got[dir] - expected) <= 1e-13 + 1e-9 * expected,
        `ε=${eps} ${dir}: FFT ${got[dir]} vs direct ${expected}`,
      );
    }
    assert.equal(account.delta(eps), Math.max(got.remove, got.add));
    if (eps > 0 && eps < 0.5) assert.ok(got.add > 1e-4, 'the add direction is exercised with a non-trivial δ');
  }
});

test('the Gaussian PLD (q = 1 and merged Gaussian entries, alone and composed across groups) bounds the exact GDP ε tightly', () => {
  // One group of q = 1 (level 1 only).
  const single = composePld([{ sigma: 1.3, q: 1, steps: 7 }])!;
  const exact1 = gaussianEpsilon(1e-6, Math.sqrt(7) / 1.3);
  const e1 = single.epsilon(1e-6);
  assert.ok(e1 >= exact1 && rel(e1, exact1) < 0.003, `${e1} vs exact ${exact1}`);
  // Three Gaussian groups composed on the coarse level-2 grid.
  const multi = composePld([
    { sigma: 2, q: 1, steps: 3 },
    { sigma: 3, q: 1, steps: 5 },
    { sigma: 0.9, q: 1, steps: 1 },
  ])!;
  const exact2 = gaussianEpsilon(1e-6, Math.sqrt(3 / 4 + 5 / 9 + 1 / 0.81));
  const e2 = multi.epsilon(1e-6);
  assert.ok(e2 >= exact2 && rel(e2, exact2) < 0.003, `${e2} vs exact ${exact2}`);
});

test('ε falls as σ grows and rises with the number of steps and the sampling rate', () => {
  const bySigma = [0.5, 0.6, 0.8, 1, 1.5, 2].map((s) => epsilonFor([pg(s, 0.01, 1000)], 1e-5));
  for (let i = 1; i < bySigma.length; i++) assert.ok(bySigma[i]! < bySigma[i - 1]!, `σ: ${bySigma.join(', ')}`);
  const bySteps = [10, 100, 1000, 5000].map((t) => epsilonFor([pg(0.8, 0.01, t)], 1e-5));
  for (let i = 1; i < bySteps.length; i++) assert.ok(bySteps[i]! > bySteps[i - 1]!, `T: ${bySteps.join(', ')}`);
  const byRate = [0.001, 0.005, 0.02, 0.1].map((q) => epsilonFor([pg(0.8, q, 200)], 1e-5));
  for (let i = 1; i < byRate.length; i++) assert.ok(byRate[i]! > byRate[i - 1]!, `q: ${byRate.join(', ')}`);
});

test('δ(ε(δ)) returns δ (PLD), and δ(ε) is non-increasing', () => {
  const accounts: MechanismSpec[][] = [
    [pg(0.39, 20 / 30000, 100)],
    [pg(1, 0.01, 2000)],
    [pg(0.77, 80 / 1561, 80), { kind: 'gaussian', sigma: 12, steps: 10 }],
  ];
  for (const specs of accounts) {
    for (const delta of [1e-3, 1e-5, 1e-8]) {
      const eps = epsilonFor(specs, delta);
      const back = deltaFor(specs, eps);
      assert.ok(back <= delta * (1 + 1e-9), `δ(ε(${delta})) = ${back}`);
      assert.ok(back >= delta * (1 - 1e-6), `δ(ε(${delta})) = ${back} is not tight`);
    }
    let prev = Infinity;
    for (let e = 0; e < 6; e += 0.25) {
      const d = deltaFor(specs, e);
      assert.ok(d <= prev, `δ rises at ε=${e}`);
      prev = d;
    }
  }
});

test('k identical entries compose to the k-fold self-composition', () => {
  // Identical entries are merged: bit-identical to one entry with k·T steps.
  const k = 5;
  const one = epsilonFor([pg(0.7, 0.02, 5 * 40)], 1e-6);
  const many = epsilonFor(
    Array.from({ length: k }, () => pg(0.7, 0.02, 40)),
    1e-6,
  );
  assert.equal(many, one);
  // Entries that differ by a negligible 1e−12 in σ are not merged: they go through the heterogeneous (two-level)
  // composition, which must agree with the self-composition to within the discretisation.
  const split = epsilonFor(
    Array.from({ length: k }, (_, i) => pg(0.7 * (1 + i * 1e-12), 0.02, 40)),
    1e-6,
  );
  assert.ok(rel(split, one) < 0.003, `heterogeneous ${split} vs self-composed ${one}`);
});

test('PLD is never above RDP beyond its discretisation error, and mixed ledgers dominate their parts', () => {
  const accounts: MechanismSpec[][] = [
    [pg(0.39, 20 / 30000, 100)],
    [pg(1, 0.01, 10000)],
    [pg(2, 0.5, 50)],
    [pg(1.1, 256 / 60000, 5000), pg(0.9, 0.01, 300)],
    [pg(0.77, 80 / 1561, 80), { kind: 'gaussian', sigma: 11.6, steps: 10 }],
    [pg(5, 0.001, 20000), { kind: 'gaussian', sigma: 30, steps: 20 }, pg(3, 0.004, 500)],
  ];
  for (const specs of accounts) {
    for (const delta of [1e-5, 1e-9]) {
      const pld = epsilonFor(specs, delta, 'pld');
      const rdp = epsilonFor(specs, delta, 'rdp');
      assert.ok(pld <= rdp * 1.003, `PLD ${pld} above RDP ${rdp} for ${JSON.stringify(specs)}`);
      if (specs.length > 1) {
        for (const s of specs)
          assert.ok(
            pld >= epsilonFor([s], delta, s.kind === 'gaussian' ? 'gdp' : 'pld') - 1e-9,
            'a composition costs at least each part',
          );
      }
    }
  }
});

test('a finer grid changes ε by less than 0.3% (the default grid is converged)', () => {
  for (const [sigma, q, steps, delta] of [
    [1, 0.01, 10000, 1e-5],
    [0.45, 80 / 40000, 100, 1 / 40000],
    [4, 0.002, 3000, 1e-6],
  ] as const) {
    const coarse = composePld([{ sigma, q, steps }])!;
    const fine = composePld([{ sigma, q, steps }], { h: coarse.h / 4 })!;
    const a = coarse.epsilon(delta);
    const b = fine.epsilon(delta);
    assert.ok(rel(a, b) < 0.003, `σ=${sigma} q=${q}: h=${coarse.h} gives ${a}, h/4 gives ${b}`);
  }
});

test('empty and vacuous accounts cost nothing; bad inputs are usage errors naming the entry', () => {
  assert.equal(epsilonFor([], 1e-5), 0);
  assert.equal(epsilonFor([pg(1, 0, 100), pg(1, 0.1, 0)], 1e-5), 0);
  assert.equal(deltaFor([], 0.5), 0);
  assert.throws(
    () => epsilonFor([pg(1, 0.1, 10), pg(-1, 0.1, 10)], 1e-5),
    (e: unknown) => e instanceof UsageError && /mechanism #2: sigma/.test(e.message),
  );
  assert.throws(() => epsilonFor([pg(1, 1.5, 10)], 1e-5), /samplingRate must be a number in \[0, 1\]/);
  assert.throws(() => epsilonFor([pg(1, 0.1, 2.5)], 1e-5), /steps must be a whole number/);
  assert.throws(() => epsilonFor([pg(1, 0.1, 10)], 0), /delta must be a number strictly between 0 and 1/);
  assert.throws(() => deltaFor([pg(1, 0.1, 10)], -1), /epsilon must be a finite number ≥ 0/);
  assert.throws(() => epsilonFor([pg(1, 0.1, 10)], 1e-5, 'prv' as never), /unknown accountant "prv"/);
});
