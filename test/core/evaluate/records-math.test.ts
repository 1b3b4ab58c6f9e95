import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frechetDistance, symmetricEigenvalues } from '../../../src/core/evaluate/frechet';
import { fitLogReg, predictLogReg } from '../../../src/core/evaluate/logreg';
import { testNormal, testRng } from '../../support/rng';

/** Gaussian blobs in d dimensions: class k centred at `sep`·e_k. */
function blobs(seed: string, perClass: number, classes: number, d: number, sep: number) {
  const normal = testNormal(testRng(seed));
  const x: number[][] = [];
  const y: string[] = [];
  for (let k = 0; k < classes; k++)
    for (let i = 0; i < perClass; i++) {
      x.push(Array.from({ length: d }, (_, j) => normal(1) + (j === k ? sep : 0)));
      y.push(`c${k}`);
    }
  return { x, y };
}

const acc = (p: string[], y: string[]) => p.filter((v, i) => v === y[i]).length / y.length;

test('logistic regression: beats chance clearly on separable data', () => {
  const train = blobs('train', 60, 4, 10, 4);
  const held = blobs('test', 50, 4, 10, 4);
  const m = fitLogReg(train.x, train.y);
  const a = acc(predictLogReg(m, held.x), held.y);
  assert.ok(a > 0.85, `accuracy ${a}`);
  assert.deepEqual(m.classes, ['c0', 'c1', 'c2', 'c3']);
});

test('logistic regression: not above chance with shuffled training labels', () => {
  const train = blobs('train', 60, 4, 10, 4);
  const rng = testRng('shuffle');
  const y = [...train.y];
  for (let i = y.length - 1; i > 0; i--) {
    const j = rng.nextUint32() % (i + 1);
    [y[i], y[j]] = [y[j]!, y[i]!];
  }
  const held = blobs('test', 50, 4, 10, 4);
  const a = acc(predictLogReg(fitLogReg(train.x, y), held.x), held.y);
  // Chance is 0.25; 200 test rows: 4 binomial standard deviations ≈ 0.12.
  assert.ok(a < 0.25 + 0.12, `accuracy ${a} with shuffled labels`);
});

test('logistic regression: the gradient vanishes at the fit (a converged optimum, not a fixed step count)', () => {
  const train = blobs('grad', 30, 3, 4, 1);
  const lambda = 1e-2;
  const m = fitLogReg(train.x, train.y, { lambda, iterations: 2000 });
  // Mean cross-entropy gradient plus λW on the standardised data, recomputed here from the definition.
  const d = 4;
  const z = train.x.map((r) => [...r.map((v, j) => (v - m.mean[j]!) / m.scale[j]!), 1]);
  let norm = 0;
  m.weights.forEach((wk, k) => {
    for (let j = 0; j <= d; j++) {
      let g = 0;
      z.forEach((row, i) => {
        const s = m.weights.map((w) => w.reduce((a, v, t) => a + v * row[t]!, 0));
        const mx = Math.max(...s);
        const e = s.map((v) => Math.exp(v - mx));
        const sum = e.reduce((a, b) => a + b, 0);
        g += (e[k]! / sum - (train.y[i] === m.classes[k] ? 1 : 0)) * row[j]!;
      });
      g = g / z.length + (j < d ? lambda * wk[j]! : 0);
      norm += g * g;
    }
  });
  assert.ok(Math.sqrt(norm) < 1e-4, `gradient norm ${Math.sqrt(norm)}`);
});

test('symmetricEigenvalues: recovers the spectrum of Q·diag·Qᵀ', () => {
  const n = 6;
  const want = [5, 3, 2, 1, 0.5, 0];
  // Q: Gram–Schmidt of a fixed matrix.
  const normal = testNormal(testRng('q'));
  const q: number[][] = [];
  for (let i = 0; i < n; i++) {
    let v = Array.from({ length: n }, () => normal(1));
    for (const u of q) {
      const dp = u.reduce((a, x, j) => a + x * v[j]!, 0);
      v = v.map((x, j) => x - dp * u[j]!);
    }
    const len = Math.hypot(...v);
    q.push(v.map((x) => x / len));
  }
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) a[i * n + j] = want.reduce((s, l, k) => s + q[k]![i]! * l * q[k]![j]!, 0);
  const got = symmetricEigenvalues(a, n).sort((x, y) => y - x);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-10, `${g} vs ${want[i]}`));
});

test('frechetDistance: 0 for one set, ‖c‖² for a shifted copy, the 1-D closed form, symmetric', () => {
  const { x } = blobs('fd', 40, 1, 8, 0);
  assert.ok(frechetDistance(x, x) < 1e-6, `${frechetDistance(x, x)}`);
  const c = [1, -2, 0, 0, 0.5, 0, 0, 3];
  const shifted = x.map((r) => r.map((v, j) => v + c[j]!));
  const want = c.reduce((a, v) => a + v * v, 0);
  assert.ok(Math.abs(frechetDistance(x, shifted) - want) < 1e-6 * want, `${frechetDistance(x, shifted)} vs ${want}`);
  // 1-D: (μ₁ − μ₂)² + (s₁ − s₂)² with sample standard deviations (n − 1).
  const a = [[1], [2], [4], [7]];
  const b = [[0], [3], [3], [10], [12]];
  const stat = (v: number[][]) => {
    const m = v.reduce((s, r) => s + r[0]!, 0) / v.length;
    return [m, Math.sqrt(v.reduce((s, r) => s + (r[0]! - m) ** 2, 0) / (v.length - 1))];
  };
  const [m1, s1] = stat(a);
  const [m2, s2] = stat(b);
  assert.ok(Math.abs(frechetDistance(a, b) - ((m1! - m2!) ** 2 + (s1! - s2!) ** 2)) < 1e-9);
  const y = blobs('fd2', 25, 1, 8, 1).x.map((r) => r.map((v) => 2 * v));
  assert.ok(Math.abs(frechetDistance(x, y) - frechetDistance(y, x)) < 1e-8);
});
