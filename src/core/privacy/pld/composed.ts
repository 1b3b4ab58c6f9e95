/**
 * Composed PLDs: one direction's composed pmf on its window as suffix sums, δ(ε) and the exact ε(δ) inversion on
 * that piecewise curve, and PldAccount, the queryable result (max over the remove and add directions).
 */
import type { Curve } from './curves';

/** One composed direction on its window: mass c[i] at loss (start + i)·h, plus the mass counted in full. */
export interface Composed {
  h: number;
  start: number;
  /** S1[i] = Σ_{j ≥ i} c_j (suffix sums; FFT round-off below 0 is raised to 0). */
  s1: Float64Array;
  /** G[i] = Σ_{j ≥ i} c_j e^{(start+i)h − (start+j)h}. */
  g: Float64Array;
  /** Infinity mass plus the Chernoff bound on the mass above the window: added to every δ. */
  extra: number;
}

export interface ComposedPair {
  rem: Composed;
  add: Composed;
  h: number;
  size: number;
  bytes: number;
}

export function buildComposed(c: Float64Array, h: number, start: number, extra: number): Composed {
  const n = c.length;
  const s1 = new Float64Array(n + 1);
  const gg = new Float64Array(n + 1);
  const eh = Math.exp(-h);
  for (let i = n - 1; i >= 0; i--) {
    const ci = c[i]! > 0 ? c[i]! : 0;
    s1[i] = s1[i + 1]! + ci;
    gg[i] = ci + eh * gg[i + 1]!;
  }
  return { h, start, s1, g: gg, extra };
}

/** δ(ε) of one composed direction without clamping: extra + Σ_{t_j > ε} c_j (1 − e^{ε − t_j}). */
function composedDeltaRaw(c: Composed, eps: number): number {
  const n = c.s1.length - 1;
  let i = Math.floor(eps / c.h - c.start) + 1; // first index strictly above ε
  if (i < 0) i = 0;
  if (i >= n) return c.extra;
  // Σ_{j ≥ i} c_j e^{ε − t_j} = e^{ε − t_i}·G[i]
  return c.extra + c.s1[i]! - Math.exp(eps - (c.start + i) * c.h) * c.g[i]!;
}

function composedDelta(c: Composed, eps: number): number {
  return Math.min(1, Math.max(0, composedDeltaRaw(c, eps)));
}

/** Smallest ε ≥ 0 with δ(ε) ≤ delta for one composed direction (exact inversion on the piecewise curve). */
function composedEpsilon(c: Composed, delta: number): number {
  if (c.extra >= delta) return Infinity;
  if (composedDelta(c, 0) <= delta) return 0;
  const n = c.s1.length - 1;
  // δ at grid point t_i (sum over j > i): extra + S1[i+1] − e^{−h}·G[i+1]. Non-increasing in i; binary search for the
  // first i ≥ i0 (t_i ≥ 0) with δ(t_i) ≤ delta.
  const eh = Math.exp(-c.h);
  const dAt = (i: number) => c.extra + c.s1[i + 1]! - eh * c.g[i + 1]!;
  let lo = Math.max(0, Math.ceil(-c.start)); // index of the first grid point ≥ 0
  if (lo > n - 1) return Infinity;
  let hi = n - 1;
  if (dAt(hi) > delta) return Infinity;
  if (dAt(lo) <= delta) {
    hi = lo; // the crossing is in [0, t_lo]
  } else {
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (dAt(mid) <= delta) hi = mid;
      else lo = mid;
    }
  }
  // On (t_{hi−1}, t_hi] the terms j ≥ hi are the ones above ε: δ(ε) = extra + S1[hi] − e^{ε − t_hi}·G[hi].
  const tHi = (c.start + hi) * c.h;
  const rest = c.extra + c.s1[hi]! - delta;
  if (!(rest > 0) || !(c.g[hi]! > 0)) return Math.max(0, tHi);
  const eps = tHi + Math.log(rest / c.g[hi]!);
  // Round-off guard: the answer must satisfy δ(ε) ≤ delta on the computed curve.
  let e = Math.min(tHi, Math.max(eps, tHi - c.h, 0));
  for (let k = 0; k < 8 && composedDelta(c, e) > delta; k++) e = Math.min(tHi, e + Math.abs(e) * 1e-12 + 1e-15);
  return composedDelta(c, e) > delta ? tHi : e;
}

/** The privacy curve of a composed direction, as input for the level-2 discretisation. */
export function composedCurve(c: Composed): Curve {
  const n = c.s1.length - 1;
  return {
    lower: c.start * c.h,
    upper: (c.start + n - 1) * c.h,
    delta: (eps) => composedDeltaRaw(c, eps),
    cdf: () => 0,
    total: c.s1[0]! + c.extra,
  };
}

/** A composed account: δ(ε) and ε(δ) queries are cheap once it is built. */
export class PldAccount {
  constructor(private readonly composed: ComposedPair) {}

  /** Grid spacing of the final composition. */
  get h(): number {
    return this.composed.h;
  }

  /** FFT size of the final composition. */
  get size(): number {
    return this.composed.size;
  }

  /** Upper bound on δ at ε (max over the remove and add directions). */
  delta(epsilon: number): number {
    return Math.max(composedDelta(this.composed.rem, epsilon), composedDelta(this.composed.add, epsilon));
  }

  /** δ(ε) of each direction separately (the answer is their max; for these mechanisms `remove` is usually the larger).
   * */
  deltaByDirection(epsilon: number): { remove: number; add: number } {
    return { remove: composedDelta(this.composed.rem, epsilon), add: composedDelta(this.composed.add, epsilon) };
  }

  /** Upper bound on the smallest ε ≥ 0 with δ(ε) ≤ delta. */
  epsilon(delta: number): number {
    return Math.max(composedEpsilon(this.composed.rem, delta), composedEpsilon(this.composed.add, delta));
  }
}
