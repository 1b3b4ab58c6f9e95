/**
 * Multinomial logistic regression (softmax regression) with an intercept and an L2 penalty, for `evaluate --records`:
 * the small downstream classifier of Aug-PE's evaluation (Xie et al., ICML 2024, "Differentially Private Synthetic
 * Data via Foundation Model APIs 2: Text", Tables 1–2 train a classifier on synthetic data and test it on real data).
 *
 * Model: p(y = k | x) = softmax(W x + b)_k on standardised features (each column centred and scaled by its training
 * standard deviation). Objective: mean cross-entropy + (λ/2)‖W‖² (b not penalised); strictly convex in W, so the
 * minimiser is unique. Solver: Nesterov's accelerated gradient with constant step 1/L, where
 * L = ½·λ_max(XᵀX)/n + λ bounds the Hessian (Böhning 1992, "Multinomial logistic regression algorithm", Ann. Inst.
 * Statist. Math. 44:197–200: the softmax log-likelihood's Hessian is bounded by ½(I − 11ᵀ/K) ⊗ XᵀX), λ_max by power
 * iteration on the standardised data with its intercept column. Deterministic: zero start, fixed iterations.
 *
 * Hand-written (about 100 lines) rather than the npm package ml-logistic-regression 2.0.0, which fits one-vs-rest
 * models without an intercept or a penalty by 50,000 fixed-rate gradient steps.
 */

export interface LogRegOptions {
  /** L2 penalty λ on the weights (default 1e-3). */
  lambda?: number;
  /** Gradient iterations (default 300). */
  iterations?: number;
}

export interface LogRegModel {
  classes: string[];
  /** K × (d + 1): weights, then the intercept, per class. */
  weights: Float64Array[];
  mean: Float64Array;
  scale: Float64Array;
}

function standardise(x: readonly ArrayLike<number>[], mean: Float64Array, scale: Float64Array): Float64Array[] {
  const d = mean.length;
  return x.map((row) => {
    const z = new Float64Array(d + 1);
    for (let j = 0; j < d; j++) z[j] = (row[j]! - mean[j]!) / scale[j]!;
    z[d] = 1;
    return z;
  });
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

/** The largest eigenvalue of ZᵀZ by power iteration (an upper estimate: it only enlarges L, shrinking the step). */
function maxEigenvalue(z: Float64Array[], dims: number): number {
  let v = new Float64Array(dims).fill(1 / Math.sqrt(dims));
  let lambda = 0;
  for (let it = 0; it < 50; it++) {
    const w = new Float64Array(dims);
    for (const row of z) {
      const s = dot(row, v);
      for (let j = 0; j < dims; j++) w[j] = w[j]! + s * row[j]!;
    }
    const norm = Math.sqrt(dot(w, w));
    if (norm === 0) return 0;
    lambda = norm;
    v = w.map((x) => x / norm);
  }
  return lambda * 1.01;
}

export function fitLogReg(x: readonly ArrayLike<number>[], y: readonly string[], o: LogRegOptions = {}): LogRegModel {
  if (x.length === 0 || x.length !== y.length) throw new Error('fitLogReg: need as many labels as rows, at least one');
  const lambda = o.lambda ?? 1e-3;
  const iterations = o.iterations ?? 300;
  const n = x.length;
  const d = x[0]!.length;
  const classes = [...new Set(y)].sort();
  const yi = y.map((l) => classes.indexOf(l));
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  for (const row of x) for (let j = 0; j < d; j++) mean[j] = mean[j]! + row[j]! / n;
  for (const row of x) for (let j = 0; j < d; j++) scale[j] = scale[j]! + (row[j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < d; j++) scale[j] = Math.sqrt(scale[j]!) || 1;
  const z = standardise(x, mean, scale);
  const K = classes.length;
  const step = 1 / ((0.5 * maxEigenvalue(z, d + 1)) / n + lambda);
  let w = classes.map(() => new Float64Array(d + 1));
  let prev = w;
  const p = new Float64Array(K);
  for (let t = 1; t <= iterations; t++) {
    // Nesterov look-ahead point v = w + (t − 1)/(t + 2)·(w − prev).
    const mom = (t - 1) / (t + 2);
    const v = w.map((wk, k) => wk.map((val, j) => val + mom * (val - prev[k]![j]!)));
    const grad = classes.map(() => new Float64Array(d + 1));
    for (let i = 0; i < n; i++) {
      const row = z[i]!;
      let m = -Infinity;
      for (let k = 0; k < K; k++) m = Math.max(m, (p[k] = dot(v[k]!, row)));
      let s = 0;
      for (let k = 0; k < K; k++) s += p[k] = Math.exp(p[k]! - m);
      for (let k = 0; k < K; k++) {
        const r = (p[k]! / s - (yi[i] === k ? 1 : 0)) / n;
        const g = grad[k]!;
        for (let j = 0; j <= d; j++) g[j] = g[j]! + r * row[j]!;
      }
    }
    prev = w;
    w = v.map((vk, k) => vk.map((val, j) => val - step * (grad[k]![j]! + (j < d ? lambda * val : 0))));
  }
  return { classes, weights: w, mean, scale };
}

export function predictLogReg(m: LogRegModel, x: readonly ArrayLike<number>[]): string[] {
  return standardise(x, m.mean, m.scale).map((row) => {
    let best = 0;
    let bestScore = -Infinity;
    m.weights.forEach((wk, k) => {
      const s = dot(wk, row);
      if (s > bestScore) [best, bestScore] = [k, s];
    });
    return m.classes[best]!;
  });
}
