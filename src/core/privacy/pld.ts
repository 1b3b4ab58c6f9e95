/**
 * Privacy-loss-distribution (PLD) accountant for Poisson-subsampled Gaussian and plain Gaussian entries.
 *
 * Neighbouring relation: add/remove one record. For one step of the subsampled Gaussian (sensitivity 1, noise σ,
 * rate q) the two ordered pairs of output distributions are
 *   remove: P = q·N(1,σ²) + (1−q)·N(0,σ²) against Q = N(0,σ²)       (loss ≥ ln(1−q), unbounded above)
 *   add:    P = N(0,σ²) against Q = q·N(1,σ²) + (1−q)·N(0,σ²)       (loss ≤ −ln(1−q), unbounded below)
 * A pair of neighbouring datasets is "remove" or "add" for every step at once, so each direction is composed on its
 * own over all entries and the answer is δ(ε) = max(δ_remove(ε), δ_add(ε)) (as dp_accounting's PLD does with its
 * pmf_remove / pmf_add). Both composed curves are upper bounds, so their max bounds the add/remove guarantee.
 *
 * Discretisation ("connect the dots", Doroshenko, Ghazi, Kamath, Kumar, Manurangsi, PETS 2022; dp_accounting's
 * default `use_connect_dots=True`): each direction's exact privacy curve δ(ε) = H_{e^ε}(P‖Q) is evaluated in closed
 * form at the grid points ε_k = k·h, and the discrete PLD is the one whose privacy curve is the piecewise-linear
 * interpolation of those values in x = e^ε, with the dot (x = 0, δ = 1) below the grid and infinity mass
 * δ(ε_top) above it. The hockey-stick divergence is convex in x, so this discrete pair dominates the true pair at
 * every ε (a dominating pair, Zhu, Dong, Wang, AISTATS 2022), and dominating pairs compose: the composed answer is an
 * upper bound. Unlike rounding each loss up to the grid, which biases the mean by ~h/2 per step, connect-the-dots
 * keeps E[1] and E[e^{−L}] of every point mass, so T steps drift by O(T·h²), not O(T·h).
 *
 * Composition: every distinct (σ, q) is one group whose per-step PLD is built once; identical entries are merged
 * (T summed); all plain-Gaussian entries merge exactly into one Gaussian PLD with μ² = Σ T/σ². The groups are
 * composed in the Fourier domain on one common grid: Σ_g T_g·log FFT(p_g), one exponential and one inverse FFT.
 * Cyclic wrap-around is controlled by Chernoff bounds computed from the discrete pmfs: the window holds all but
 * `TAIL` of the composed mass on each side; the mass above the window is added to δ in full (rigorous), the mass
 * below it wraps to the top of the window where it can only increase δ.
 *
 * Source of the closed forms: for the remove pair δ(ε) = q·δ_G(z) with z = ln(1 + (e^ε − 1)/q) and δ_G the
 * Gaussian curve of gaussian.ts; for the add pair δ(ε) = (1 − (1−q)e^ε)·δ_G(−ln(1 + (e^{−ε} − 1)/q)); both follow
 * from H_{e^ε}(P‖Q) = P(L > ε) − e^ε·Q(L > ε) with the loss CDF of the subsampled Gaussian
 * (../shared/research/algorithms.md §1.8; Koskela, Jälkö, Honkela, AISTATS 2020, §6).
 */
import { gaussianDelta } from './gaussian';
import { fft, nextPow2 } from './fft';
import { normalCdf } from './special';

/** One direction of one step's discrete PLD: mass pmf[k] at loss (offset + k)·h, plus `infMass` at +∞. */
export interface DiscretePld {
  h: number;
  offset: number;
  pmf: Float64Array;
  infMass: number;
}

/** Exact privacy curve of one ordered pair, for building its discrete PLD. */
interface Curve {
  /** δ(ε) = H_{e^ε}(P‖Q), for every real ε. */
  delta(eps: number): number;
  /** The loss is ≥ lower (−∞ when unbounded). */
  lower: number;
  /** The loss is ≤ upper (+∞ when unbounded). */
  upper: number;
  /** P(L ≤ t), used to cut the lower tail when `lower` is −∞. */
  cdf(t: number): number;
}

/** Chernoff level of the composed window: at most this much mass lies beyond each end (added to δ or wrapped up). */
const TAIL = 1e-16;
/** Per-step truncation: infinity mass above the grid, and lower-tail mass lumped onto the first grid point. */
const STEP_TAIL = 1e-22;
/** Upper limit on the composed grid (complex FFT of this size, ~16·N bytes per array). */
const MAX_N = 1 << 21;
/** Upper limit on one step's grid. */
const MAX_STEP_POINTS = 1 << 22;
/** Grid spacing bounds (powers of two so cached pieces are reused across calls). */
const H_MAX = 2 ** -10;
const H_MIN = 2 ** -24;
/** Accuracy knob of the grid rule: the discretisation adds at most (η·σ_total)² to the composed loss variance. */
const ETA = 0.03;

// ---------------------------------------------------------------------------------------------------------------
// Curves

export function removeCurve(sigma: number, q: number): Curve {
  const mu = 1 / sigma;
  const lower = Math.log1p(-q);
  return {
    lower,
    upper: Infinity,
    delta(eps) {
      if (eps <= lower) return -Math.expm1(eps);
      const z = Math.log1p(Math.expm1(eps) / q);
      return q * gaussianDelta(z, mu);
    },
    cdf(t) {
      if (t <= lower) return 0;
      const z = Math.log1p(Math.expm1(t) / q);
      return q * normalCdf(sigma * z - mu / 2) + (1 - q) * normalCdf(sigma * z + mu / 2);
    },
  };
}

export function addCurve(sigma: number, q: number): Curve {
  const mu = 1 / sigma;
  const upper = -Math.log1p(-q);
  const log1mq = Math.log1p(-q);
  return {
    lower: -Infinity,
    upper,
    delta(eps) {
      if (eps >= upper) return 0;
      const pref = -Math.expm1(eps + log1mq); // 1 − (1−q)e^ε
      const z = -Math.log1p(Math.expm1(-eps) / q);
      return Math.min(1, pref * gaussianDelta(z, mu));
    },
    cdf(t) {
      if (t >= upper) return 1;
      const z = Math.log1p(Math.expm1(-t) / q);
      return normalCdf(-sigma * z - mu / 2);
    },
  };
}

export function gaussianCurve(mu: number): Curve {
  return {
    lower: -Infinity,
    upper: Infinity,
    delta: (eps) => gaussianDelta(eps, mu),
    cdf: (t) => normalCdf((t - (mu * mu) / 2) / mu),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Discretisation

/** The discrete connect-the-dots PLD of `curve` on the grid h, or undefined when it would exceed MAX_STEP_POINTS. */
export function discretize(curve: Curve, h: number): DiscretePld | undefined {
  let iLo: number;
  if (Number.isFinite(curve.lower)) {
    iLo = Math.floor(curve.lower / h);
  } else {
    // Cut where the lower-tail mass is below STEP_TAIL; that mass is moved up to the first grid point (pessimistic).
    let t = -1;
    while (curve.cdf(t) > STEP_TAIL) t *= 2;
    iLo = Math.floor(t / h);
  }
  let iHi: number;
  if (Number.isFinite(curve.upper)) {
    iHi = Math.ceil(curve.upper / h);
  } else {
    let lo = Math.max(0, iLo * h);
    let hi = lo + 1;
    while (curve.delta(hi) > STEP_TAIL) {
      lo = hi;
      hi = 2 * hi + 1;
      if (hi > 1e6) return undefined;
    }
    while (hi - lo > h) {
      const mid = 0.5 * (lo + hi);
      if (curve.delta(mid) > STEP_TAIL) lo = mid;
      else hi = mid;
    }
    iHi = Math.ceil(hi / h);
  }
  if (iHi < iLo + 1) iHi = iLo + 1;
  const n = iHi - iLo + 1;
  if (n > MAX_STEP_POINTS) return undefined;
  const d = new Float64Array(n);
  for (let k = 0; k < n; k++) d[k] = curve.delta((iLo + k) * h);
  // Masses from the slopes of the interpolated curve in x = e^ε (kink at x_k carries mass x_k·(right − left slope)):
  //   m_0 = (D_1 − D_0)/(e^h − 1) + (1 − D_0)                  (left slope from the dot (0, 1))
  //   m_k = [(D_{k+1} − D_k) − e^h (D_k − D_{k−1})]/(e^h − 1)
  //   m_top = −e^h (D_top − D_{top−1})/(e^h − 1),  infinity mass = D_top (the curve is flat beyond the grid).
  // They sum to 1 exactly (telescoping). The second differences carry rounding noise (~1e−16·D/h per point), which
  // can make a mass slightly negative. Raising those to 0 would add mass (~1e−7 per step on fine grids, compounding
  // over thousands of steps), so instead a negative mass is carried down to the next point below: negative mass moved
  // down is positive mass moved up, so every upper tail sum only grows (the result stochastically dominates the
  // signed measure, hence its δ curve is still ≥ the interpolated exact values) and the total stays ≤ 1.
  const eh = Math.exp(h);
  const em1 = Math.expm1(h);
  const pmf = new Float64Array(n);
  pmf[0] = (d[1]! - d[0]!) / em1 + (1 - d[0]!);
  for (let k = 1; k < n - 1; k++) pmf[k] = (d[k + 1]! - d[k]! - eh * (d[k]! - d[k - 1]!)) / em1;
  pmf[n - 1] = (-eh * (d[n - 1]! - d[n - 2]!)) / em1;
  let debt = 0;
  for (let k = n - 1; k >= 0; k--) {
    const m = pmf[k]! - debt;
    if (m >= 0) {
      pmf[k] = m;
      debt = 0;
    } else {
      pmf[k] = 0;
      debt = Number.isNaN(m) ? 0 : -m;
    }
  }
  return { h, offset: iLo, pmf, infMass: d[n - 1]! };
}

// ---------------------------------------------------------------------------------------------------------------
// Grid choice

/** Variance of one step's privacy loss (both directions, the larger), by quadrature; only used to pick the grid. */
export function stepLossVariance(sigma: number, q: number): number {
  if (q >= 1) return 1 / (sigma * sigma);
  const m = 4000;
  const lo = -12 * sigma;
  const hi = 1 + 12 * sigma;
  const dx = (hi - lo) / m;
  const logQ = Math.log(q);
  const ratio = (1 - q) / q;
  let s0 = 0, s1 = 0, s2 = 0, a0 = 0, a1 = 0, a2 = 0;
  for (let i = 0; i <= m; i++) {
    const x = lo + i * dx;
    const y = (2 * x - 1) / (2 * sigma * sigma);
    const l = y > 30 ? logQ + y + Math.log1p(ratio * Math.exp(-y)) : Math.log1p(q * Math.expm1(y));
    const f0 = Math.exp(-0.5 * (x / sigma) ** 2);
    const f1 = Math.exp(-0.5 * ((x - 1) / sigma) ** 2);
    const wr = (q * f1 + (1 - q) * f0) * (i === 0 || i === m ? 0.5 : 1);
    const wa = f0 * (i === 0 || i === m ? 0.5 : 1);
    s0 += wr; s1 += wr * l; s2 += wr * l * l;
    a0 += wa; a1 -= wa * l; a2 += wa * l * l;
  }
  const vr = s2 / s0 - (s1 / s0) ** 2;
  const va = a2 / a0 - (a1 / a0) ** 2;
  return Math.max(vr, va, 0);
}

const varianceCache = new Map<string, number>();
function cachedVariance(sigma: number, q: number): number {
  const key = `${sigma}|${q}`;
  let v = varianceCache.get(key);
  if (v === undefined) {
    v = stepLossVariance(sigma, q);
    if (varianceCache.size > 10000) varianceCache.clear();
    varianceCache.set(key, v);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Groups and caches

/** One distinct mechanism of an account: (σ, q) with T steps, or the merged Gaussian (q = 1, σ = 1/μ, T = 1). */
export interface Group {
  sigma: number;
  q: number;
  steps: number;
}

interface StepPld {
  rem: DiscretePld;
  add: DiscretePld;
  /** Centre shift (grid points) used when folding each pmf into the FFT buffer, to keep the phases small. */
  shiftRem: number;
  shiftAdd: number;
  /** Cached log-MGFs ln Σ p_k e^{λ t_k}, keyed by `${dir}${λ}`. */
  cgf: Map<string, number>;
  moments: { rem: [number, number]; add: [number, number] };
  bytes: number;
}

class Lru<V extends { bytes: number }> {
  private map = new Map<string, V>();
  private total = 0;
  constructor(private readonly capBytes: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    const old = this.map.get(key);
    if (old) {
      this.total -= old.bytes;
      this.map.delete(key);
    }
    this.map.set(key, v);
    this.total += v.bytes;
    while (this.total > this.capBytes && this.map.size > 1) {
      const first = this.map.keys().next().value as string;
      this.total -= this.map.get(first)!.bytes;
      this.map.delete(first);
    }
  }
  clear(): void {
    this.map.clear();
    this.total = 0;
  }
  get size(): number {
    return this.map.size;
  }
  get sizeBytes(): number {
    return this.total;
  }
}

const stepCache = new Lru<StepPld>(192 * 2 ** 20);
interface Spectrum {
  /** Half-spectrum log FFT of the folded remove and add pmfs: ln|A|, arg A, ln|B|, arg B for k = 0..N/2. */
  lar: Float64Array;
  lai: Float64Array;
  lbr: Float64Array;
  lbi: Float64Array;
  bytes: number;
}
const spectrumCache = new Lru<Spectrum>(128 * 2 ** 20);
const accountCache = new Lru<PldAccount>(96 * 2 ** 20);

/** Drops every memoised PLD, spectrum and composed account (for tests and memory pressure). */
export function clearPldCaches(): void {
  stepCache.clear();
  spectrumCache.clear();
  accountCache.clear();
  varianceCache.clear();
}

export function pldCacheStats(): { steps: number; spectra: number; accounts: number; bytes: number } {
  return { steps: stepCache.size, spectra: spectrumCache.size, accounts: accountCache.size, bytes: stepCache.sizeBytes + spectrumCache.sizeBytes + accountCache.sizeBytes };
}

function moments(p: DiscretePld): [number, number] {
  let m0 = 0, m1 = 0, m2 = 0;
  for (let k = 0; k < p.pmf.length; k++) {
    const w = p.pmf[k]!;
    m0 += w;
    m1 += w * k;
    m2 += w * k * k;
  }
  if (!(m0 > 0)) return [0, 0];
  const meanIdx = m1 / m0;
  return [(p.offset + meanIdx) * p.h, Math.max(0, m2 / m0 - meanIdx * meanIdx) * p.h * p.h];
}

export function stepPld(g: Group, h: number): StepPld | undefined {
  const key = `${g.sigma}|${g.q}|${h}`;
  const hit = stepCache.get(key);
  if (hit) return hit;
  let rem: DiscretePld | undefined;
  let add: DiscretePld | undefined;
  if (g.q >= 1) {
    rem = discretize(gaussianCurve(1 / g.sigma), h);
    add = rem;
  } else {
    rem = discretize(removeCurve(g.sigma, g.q), h);
    add = rem && discretize(addCurve(g.sigma, g.q), h);
  }
  if (!rem || !add) return undefined;
  const mr = moments(rem);
  const ma = moments(add);
  const s: StepPld = {
    rem,
    add,
    shiftRem: Math.round(mr[0] / h) - rem.offset,
    shiftAdd: Math.round(ma[0] / h) - add.offset,
    cgf: new Map(),
    moments: { rem: mr, add: ma },
    bytes: 8 * (rem.pmf.length + (add === rem ? 0 : add.pmf.length)) + 256,
  };
  stepCache.set(key, s);
  return s;
}

/** ln Σ_k p_k e^{λ t_k} over the finite part (−∞ when it has no mass). Memoised per step PLD. */
function cgf(s: StepPld, dir: 'rem' | 'add', lambda: number): number {
  const key = `${dir}${lambda}`;
  const hit = s.cgf.get(key);
  if (hit !== undefined) return hit;
  const p = dir === 'rem' ? s.rem : s.add;
  const n = p.pmf.length;
  const h = p.h;
  let acc = 0;
  let out: number;
  if (lambda >= 0) {
    const r = Math.exp(-lambda * h);
    let w = 1;
    for (let k = n - 1; k >= 0 && w > 0; k--) {
      acc += p.pmf[k]! * w;
      w *= r;
    }
    out = lambda * (p.offset + n - 1) * h + Math.log(acc);
  } else {
    const r = Math.exp(lambda * h);
    let w = 1;
    for (let k = 0; k < n && w > 0; k++) {
      acc += p.pmf[k]! * w;
      w *= r;
    }
    out = lambda * p.offset * h + Math.log(acc);
  }
  s.cgf.set(key, out);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Composed account

/** One composed direction on its window: mass c[i] at loss (start + i)·h, plus the mass counted in full. */
interface Composed {
  h: number;
  start: number;
  /** S1[i] = Σ_{j ≥ i} c_j (suffix sums). */
  s1: Float64Array;
  /** G[i] = Σ_{j ≥ i} c_j e^{(start+i)h − (start+j)h}. */
  g: Float64Array;
  /** Infinity mass plus the Chernoff bound on the mass above the window: added to every δ. */
  extra: number;
}

function buildComposed(c: Float64Array, h: number, start: number, extra: number): Composed {
  const n = c.length;
  const s1 = new Float64Array(n + 1);
  const gg = new Float64Array(n + 1);
  const eh = Math.exp(-h);
  for (let i = n - 1; i >= 0; i--) {
    const ci = c[i]! > 0 ? c[i]! : 0; // FFT round-off below 0 is raised to 0
    s1[i] = s1[i + 1]! + ci;
    gg[i] = ci + eh * gg[i + 1]!;
  }
  return { h, start, s1, g: gg, extra };
}

/** δ(ε) of one composed direction: extra + Σ_{t_j > ε} c_j (1 − e^{ε − t_j}). */
function composedDelta(c: Composed, eps: number): number {
  const n = c.s1.length - 1;
  const pos = eps / c.h - c.start; // fractional window index of ε
  // First index strictly above ε.
  let i = Math.floor(pos) + 1;
  if (i < 0) i = 0;
  if (i >= n) return Math.min(1, c.extra);
  // Σ_{j ≥ i} c_j e^{ε − t_j} = e^{ε − t_i}·G[i]
  const d = c.extra + c.s1[i]! - Math.exp(eps - (c.start + i) * c.h) * c.g[i]!;
  return Math.min(1, Math.max(0, d));
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
    // The crossing is in [0, t_lo].
    hi = lo;
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

/** A composed account: δ(ε) and ε(δ) queries are cheap once it is built. */
export class PldAccount {
  constructor(
    private readonly rem: Composed,
    private readonly add: Composed,
    /** Grid spacing used. */
    readonly h: number,
    /** FFT size used. */
    readonly size: number,
    readonly bytes: number,
  ) {}

  /** Upper bound on δ at ε (max over the remove and add directions). */
  delta(epsilon: number): number {
    return Math.max(composedDelta(this.rem, epsilon), composedDelta(this.add, epsilon));
  }

  /** Upper bound on the smallest ε with δ(ε) ≤ delta. */
  epsilon(delta: number): number {
    return Math.max(composedEpsilon(this.rem, delta), composedEpsilon(this.add, delta));
  }
}

/** Chooses the grid spacing for a set of groups (see ETA). */
export function chooseH(groups: readonly Group[]): number {
  let v = 0;
  let t = 0;
  for (const g of groups) {
    v += g.steps * cachedVariance(g.sigma, g.q);
    t += g.steps;
  }
  if (!(t > 0) || !(v > 0)) return H_MAX;
  const raw = 2 * ETA * Math.sqrt(v / t);
  const h = 2 ** Math.floor(Math.log2(raw));
  return Math.min(H_MAX, Math.max(H_MIN, h));
}

/** λ grid for the Chernoff bounds: 2^(k/2) for k = −8…40 (memoised per step PLD, so shared across calls). */
const LAMBDA_MIN_K = -8;
const LAMBDA_MAX_K = 40;

interface Window {
  start: number;
  /** Chernoff bound on the composed finite mass at or above grid index `start + n`. */
  upperBound(n: number): number;
  hardLow: number;
  hardHigh: number;
}

/**
 * The composed window of one direction. Chernoff: P(S ≥ u) ≤ exp(K(λ) − λu) and P(S ≤ l) ≤ exp(K(−λ) + λl) with
 * K = Σ_g T_g ln Σ_k p_gk e^{λ t_k} the exact log-MGF of the discrete composed pmf. The best λ is found by walking
 * the λ grid while the bound improves (the exponent is convex in λ).
 */
export function chooseWindow(steps: StepPld[], groups: readonly Group[], dir: 'rem' | 'add', h: number): Window {
  let hardLow = 0;
  let hardHigh = 0;
  steps.forEach((s, i) => {
    const T = groups[i]!.steps;
    const p = dir === 'rem' ? s.rem : s.add;
    hardLow += T * p.offset;
    hardHigh += T * (p.offset + p.pmf.length - 1);
  });
  const logInv = Math.log(1 / TAIL);
  const totalCgf = (lambda: number) => {
    let k = 0;
    steps.forEach((s, i) => (k += groups[i]!.steps * cgf(s, dir, lambda)));
    return k;
  };
  const walk = (sign: 1 | -1) => {
    const pts: [number, number][] = [];
    let best = Infinity;
    let worse = 0;
    for (let k = LAMBDA_MIN_K; k <= LAMBDA_MAX_K; k++) {
      const lam = 2 ** (k / 2);
      const K = totalCgf(sign * lam);
      pts.push([lam, K]);
      const u = (K + logInv) / lam; // distance from 0 to the τ-quantile bound on this side
      if (u < best) {
        best = u;
        worse = 0;
      } else if (++worse >= 3) break;
    }
    return { pts, best };
  };
  const lowSide = walk(-1);
  let start = Math.floor(-lowSide.best / h);
  if (!Number.isFinite(start) || start < hardLow) start = hardLow;
  if (start > hardHigh) start = hardHigh;
  const highSide = walk(1);
  return {
    start,
    hardLow,
    hardHigh,
    upperBound(n: number) {
      const top = start + n; // first index outside the window
      if (top > hardHigh) return 0;
      let best = Infinity;
      for (const [lam, k] of highSide.pts) best = Math.min(best, Math.exp(k - lam * top * h));
      return Math.min(1, best);
    },
  };
}

/** Smallest window length (a power of two) whose upper Chernoff tail is ≤ TAIL. */
export function windowLength(w: Window): number {
  const need = Math.max(2, w.hardHigh - w.start + 1);
  let n = 2;
  while (n < need && w.upperBound(n) > TAIL) n *= 2;
  return Math.min(n, nextPow2(need));
}

/** Half-spectrum log FFT of one group's folded remove/add pmfs at size n (memoised). */
function spectrum(s: StepPld, key: string, n: number): Spectrum {
  const k = `${key}|${n}`;
  const hit = spectrumCache.get(k);
  if (hit) return hit;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  const fold = (p: DiscretePld, shift: number, into: Float64Array) => {
    for (let j = 0; j < p.pmf.length; j++) {
      let idx = (j - shift) % n;
      if (idx < 0) idx += n;
      into[idx]! += p.pmf[j]!;
    }
  };
  fold(s.rem, s.shiftRem, re);
  fold(s.add, s.shiftAdd, im);
  fft(re, im);
  const half = n / 2 + 1;
  const lar = new Float64Array(half);
  const lai = new Float64Array(half);
  const lbr = new Float64Array(half);
  const lbi = new Float64Array(half);
  for (let j = 0; j < half; j++) {
    const m = (n - j) % n;
    // Two real sequences in one transform: A = (Z_j + conj Z_{−j})/2, B = (Z_j − conj Z_{−j})/(2i).
    const ar = 0.5 * (re[j]! + re[m]!);
    const ai = 0.5 * (im[j]! - im[m]!);
    const br = 0.5 * (im[j]! + im[m]!);
    const bi = -0.5 * (re[j]! - re[m]!);
    lar[j] = 0.5 * Math.log(ar * ar + ai * ai);
    lai[j] = Math.atan2(ai, ar);
    lbr[j] = 0.5 * Math.log(br * br + bi * bi);
    lbi[j] = Math.atan2(bi, br);
  }
  const out: Spectrum = { lar, lai, lbr, lbi, bytes: 32 * half + 128 };
  spectrumCache.set(k, out);
  return out;
}

function reduceAngle(a: number): number {
  const twoPi = 2 * Math.PI;
  return a - twoPi * Math.round(a / twoPi);
}

/** Normalised groups in a canonical order with a cache key. */
function canonical(groups: readonly Group[]): { groups: Group[]; key: string } {
  const merged = new Map<string, Group>();
  for (const g of groups) {
    if (!(g.steps > 0) || g.q === 0) continue;
    const k = `${g.sigma}|${g.q}`;
    const m = merged.get(k);
    if (m) m.steps += g.steps;
    else merged.set(k, { ...g });
  }
  const out = [...merged.values()].sort((a, b) => a.sigma - b.sigma || a.q - b.q);
  return { groups: out, key: out.map((g) => `${g.sigma}|${g.q}|${g.steps}`).join(';') };
}

/**
 * Composes the groups into a PLD account (memoised by the groups and the grid). `h` overrides the grid rule (tests
 * use it to check convergence); the answer is an upper bound for every h, tighter as h shrinks.
 */
export function composePld(input: readonly Group[], opts: { h?: number } = {}): PldAccount | undefined {
  for (const g of input) {
    if (!Number.isInteger(g.steps) || g.steps < 0 || !(g.sigma > 0) || !(g.q >= 0 && g.q <= 1)) throw new RangeError(`composePld: bad group ${JSON.stringify(g)}`);
  }
  const { groups, key } = canonical(input);
  if (groups.length === 0) return undefined;
  let h = opts.h ?? chooseH(groups);
  for (let attempt = 0; attempt < 12; attempt++, h *= 2) {
    const cacheKey = `${key}@${h}`;
    const hit = accountCache.get(cacheKey);
    if (hit) return hit;
    const acc = composeAt(groups, h);
    if (acc) {
      accountCache.set(cacheKey, acc);
      return acc;
    }
  }
  throw new Error('PLD composition does not fit in memory even on a coarse grid');
}

function composeAt(groups: readonly Group[], h: number): PldAccount | undefined {
  const steps: StepPld[] = [];
  for (const g of groups) {
    const s = stepPld(g, h);
    if (!s) return undefined;
    steps.push(s);
  }
  const wr = chooseWindow(steps, groups, 'rem', h);
  const wa = chooseWindow(steps, groups, 'add', h);
  const n = Math.max(windowLength(wr), windowLength(wa), 2);
  if (n > MAX_N) return undefined;
  const half = n / 2 + 1;
  const sar = new Float64Array(half);
  const sai = new Float64Array(half);
  const sbr = new Float64Array(half);
  const sbi = new Float64Array(half);
  let originRem = 0;
  let originAdd = 0;
  let logNoInfRem = 0;
  let logNoInfAdd = 0;
  groups.forEach((g, gi) => {
    const s = steps[gi]!;
    const T = g.steps;
    const sp = spectrum(s, `${g.sigma}|${g.q}|${h}`, n);
    for (let j = 0; j < half; j++) {
      sar[j]! += T * sp.lar[j]!;
      sai[j] = reduceAngle(sai[j]! + reduceAngle(T * sp.lai[j]!));
      sbr[j]! += T * sp.lbr[j]!;
      sbi[j] = reduceAngle(sbi[j]! + reduceAngle(T * sp.lbi[j]!));
    }
    originRem += T * (s.rem.offset + s.shiftRem);
    originAdd += T * (s.add.offset + s.shiftAdd);
    logNoInfRem += T * Math.log1p(-s.rem.infMass);
    logNoInfAdd += T * Math.log1p(-s.add.infMass);
  });
  // Back to the loss domain: Z = A + iB over the full spectrum (A, B Hermitian), one inverse FFT gives both.
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let j = 0; j < half; j++) {
    const ma = Math.exp(sar[j]!);
    const mb = Math.exp(sbr[j]!);
    const ar = ma * Math.cos(sai[j]!);
    const ai = ma * Math.sin(sai[j]!);
    const br = mb * Math.cos(sbi[j]!);
    const bi = mb * Math.sin(sbi[j]!);
    re[j] = ar - bi;
    im[j] = ai + br;
    if (j > 0 && j < n / 2) {
      const m = n - j;
      // conj(A) + i·conj(B)
      re[m] = ar + bi;
      im[m] = -ai + br;
    }
  }
  fft(re, im, true);
  const extract = (buf: Float64Array, w: Window, origin: number, logNoInf: number): Composed => {
    const c = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let r = (w.start + i - origin) % n;
      if (r < 0) r += n;
      c[i] = buf[r]!;
    }
    const inf = -Math.expm1(logNoInf);
    return buildComposed(c, h, w.start, inf + w.upperBound(n));
  };
  const rem = extract(re, wr, originRem, logNoInfRem);
  const add = extract(im, wa, originAdd, logNoInfAdd);
  return new PldAccount(rem, add, h, n, 32 * (n + 1) + 256);
}
