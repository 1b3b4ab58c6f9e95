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
 * Composition, in two levels. Identical entries are merged first (T summed per distinct (σ, q)), and all
 * plain-Gaussian entries merge exactly into one Gaussian with μ² = Σ T/σ².
 *   Level 1: each group's per-step PLD is self-composed T times by FFT (log-spectrum × T, one exponential, one
 *   inverse FFT) on a grid fine enough for that group: the per-step discretisation error compounds over T steps,
 *   so the grid follows the per-step loss spread (chooseStepH).
 *   Level 2: each group's composed curve, and the Gaussian's exact curve, is discretised again by connect-the-dots
 *   on one coarser common grid (still a dominating pair: the composed discrete curve is itself convex in e^ε), and
 *   the few factors are multiplied in the Fourier domain. With G factors the coarse grid adds only ~G·h²/6 to the
 *   loss variance, so it can be far coarser than level 1, which keeps the FFT small however many groups there are.
 * A single group (the common case of one run) stops after level 1.
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
import { clearRdpCache } from './rdp';
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
  /** lim δ(ε) as ε → −∞: the total mass (1 for a probability pair; composed discrete curves can exceed it by
   * round-off). */
  total?: number;
  /** A loss value inside the bulk of the distribution, where the searches for the grid ends start (default 0). */
  center?: number;
}

/** Chernoff level of the composed window: at most this much mass lies beyond each end (added to δ or wrapped up). */
const TAIL = 1e-16;
/** Per-step truncation: infinity mass above the grid, and lower-tail mass lumped onto the first grid point. */
const STEP_TAIL = 1e-22;
/** Upper limit on the composed grid (complex FFT of this size, ~16·N bytes per array). */
const MAX_N = 1 << 21;
/** Upper limit on one step's grid. */
const MAX_STEP_POINTS = 1 << 22;
/** Grid spacing bounds (powers of two so cached pieces are reused across calls); larger for very large losses. */
const H_MAX = 2 ** -10;
const H_MAX_COARSE = 2 ** -8;
const H_MIN = 2 ** -24;
/**
 * Accuracy knob of the grid rules: connect-the-dots splits each point mass between its two grid neighbours, adding
 * at most h²/4 (≈ h²/6 on average) of variance per discretised factor; the grids keep that below ~η² of the loss
 * variance it is compared with.
 */
const ETA = 0.05;

// ---------------------------------------------------------------------------------------------------------------
// Curves

/**
 * Remove pair (q·N(1,σ²) + (1−q)·N(0,σ²) vs N(0,σ²)): δ(ε) = q·δ_G(ln(1 + (e^ε − 1)/q)) for ε > ln(1−q), else 1 − e^ε.
 * Source: H_{e^ε}(P‖Q) = P(L > ε) − e^ε·Q(L > ε) with the loss CDF of algorithms.md §1.8; the same identity as the
 * amplification-by-Poisson-subsampling bound of Balle, Barthe, Gaboardi (NeurIPS 2018), tight for the Gaussian.
 */
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

/**
 * Add pair (N(0,σ²) vs q·N(1,σ²) + (1−q)·N(0,σ²)): δ(ε) = (1 − (1−q)e^ε)·δ_G(−ln(1 + (e^{−ε} − 1)/q)) for
 * ε < −ln(1−q), else 0. Source: same derivation with the roles swapped; equals 1 − e^ε + e^ε·δ_remove(−ε) (tested).
 */
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

/** Gaussian pair N(μ,1) vs N(0,1): δ(ε) of Balle & Wang (2018, Thm 8); the loss is N(μ²/2, μ²). */
export function gaussianCurve(mu: number): Curve {
  return {
    lower: -Infinity,
    upper: Infinity,
    delta: (eps) => gaussianDelta(eps, mu),
    cdf: (t) => normalCdf((t - (mu * mu) / 2) / mu),
    center: (mu * mu) / 2,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Discretisation

/**
 * Walks from `start` in direction `dir` in doubling steps until `heavy` is false, then bisects to grid precision h.
 * Returns the outer (light) end: a point within h of a heavy one, so cutting there drops at most the tail bound.
 * Undefined when the walk runs past 1e6.
 */
function tailCut(start: number, h: number, dir: 1 | -1, heavy: (x: number) => boolean): number | undefined {
  let inner = start;
  let step = h;
  let outer = inner + dir * step;
  while (heavy(outer)) {
    inner = outer;
    step *= 2;
    outer = inner + dir * step;
    if (step > 1e6) return undefined;
  }
  while (Math.abs(outer - inner) > h) {
    const mid = 0.5 * (inner + outer);
    if (heavy(mid)) inner = mid;
    else outer = mid;
  }
  return outer;
}

/** The discrete connect-the-dots PLD of `curve` on the grid h, or undefined when it would exceed MAX_STEP_POINTS. */
export function discretize(curve: Curve, h: number): DiscretePld | undefined {
  if (!(h > 0)) throw new RangeError('discretize: h must be positive');
  let iLo: number;
  if (Number.isFinite(curve.lower)) {
    iLo = Math.floor(curve.lower / h);
  } else {
    // Cut where the lower-tail mass is below STEP_TAIL; that mass is moved up to the first grid point (pessimistic).
    const loT = tailCut(Math.min(curve.center ?? 0, curve.upper), h, -1, (x) => curve.cdf(x) > STEP_TAIL);
    if (loT === undefined) return undefined;
    iLo = Math.floor(loT / h);
  }
  let iHi: number;
  if (Number.isFinite(curve.upper)) {
    iHi = Math.ceil(curve.upper / h);
  } else {
    // Cut where the remaining δ above is below STEP_TAIL; that mass goes to the infinity atom (pessimistic).
    const hi = tailCut(Math.max(curve.center ?? 0, iLo * h), h, 1, (x) => curve.delta(x) > STEP_TAIL);
    if (hi === undefined) return undefined;
    iHi = Math.ceil(hi / h);
  }
  if (iHi < iLo + 1) iHi = iLo + 1;
  const n = iHi - iLo + 1;
  if (n > MAX_STEP_POINTS) return undefined;
  const d = new Float64Array(n);
  for (let k = 0; k < n; k++) d[k] = curve.delta((iLo + k) * h);
  // Masses from the slopes of the interpolated curve in x = e^ε (kink at x_k carries mass x_k·(right − left slope)):
  //   m_0 = (D_1 − D_0)/(e^h − 1) + (M − D_0)                  (left slope from the dot (0, M), M the total mass)
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
  pmf[0] = (d[1]! - d[0]!) / em1 + ((curve.total ?? 1) - d[0]!);
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
// Groups, factors and caches

/** One distinct mechanism of an account: (σ, q) for `steps` steps; q = 1 is a plain Gaussian with μ = 1/σ per step. */
export interface Group {
  sigma: number;
  q: number;
  steps: number;
}

/** A discrete PLD pair (remove and add directions) on one grid, with what composition needs to know about it. */
interface Pair {
  h: number;
  rem: DiscretePld;
  add: DiscretePld;
  /** Centre shift (grid points) used when folding each pmf into the FFT buffer, to keep the phases small. */
  shiftRem: number;
  shiftAdd: number;
  /** Cached log-MGFs ln Σ p_k e^{λ t_k}, keyed by `${dir}${λ}`. */
  cgf: Map<string, number>;
  bytes: number;
}

/** A factor of a composition: `pair` applied `times` times; `key` identifies the pair for the spectrum cache. */
interface Factor {
  key: string;
  pair: Pair;
  times: number;
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

interface Spectrum {
  /** Half-spectrum (k = 0..N/2) of the folded remove pmf (A) and add pmf (B): real and imaginary parts. */
  ar: Float64Array;
  ai: Float64Array;
  br: Float64Array;
  bi: Float64Array;
  bytes: number;
}

/** Per-step pairs (level 1 inputs) and coarse pairs of composed groups (level 2 inputs). */
const pairCache = new Lru<Pair>(64 * 2 ** 20);
/** Half-spectra of level-2 pairs at a given FFT size (memory caps: ~210 MB in all, LRU). */
const spectrumCache = new Lru<Spectrum>(96 * 2 ** 20);
/** Composed results: level-1 groups and whole accounts. */
const composedCache = new Lru<ComposedPair>(48 * 2 ** 20);

/** Drops every memoised PLD, spectrum and composed account (for tests, benchmarks and memory pressure). */
export function clearPldCaches(): void {
  clearRdpCache();
  pairCache.clear();
  spectrumCache.clear();
  composedCache.clear();
  momentCache.clear();
}

export function pldCacheStats(): { pairs: number; spectra: number; composed: number; bytes: number } {
  return {
    pairs: pairCache.size,
    spectra: spectrumCache.size,
    composed: composedCache.size,
    bytes: pairCache.sizeBytes + spectrumCache.sizeBytes + composedCache.sizeBytes,
  };
}

function meanIndex(p: DiscretePld): number {
  let m0 = 0;
  let m1 = 0;
  for (let k = 0; k < p.pmf.length; k++) {
    m0 += p.pmf[k]!;
    m1 += p.pmf[k]! * k;
  }
  return m0 > 0 ? m1 / m0 : 0;
}

function makePair(rem: DiscretePld, add: DiscretePld, h: number): Pair {
  return {
    h,
    rem,
    add,
    shiftRem: Math.round(meanIndex(rem)),
    shiftAdd: Math.round(meanIndex(add)),
    cgf: new Map(),
    bytes: 8 * (rem.pmf.length + (add === rem ? 0 : add.pmf.length)) + 512,
  };
}

/** The per-step pair of a group on grid h (memoised), or undefined when it would not fit. */
function stepPair(sigma: number, q: number, h: number): { key: string; pair: Pair } | undefined {
  const key = `s|${sigma}|${q}|${h}`;
  const hit = pairCache.get(key);
  if (hit) return { key, pair: hit };
  let rem: DiscretePld | undefined;
  let add: DiscretePld | undefined;
  if (q >= 1) {
    rem = discretize(gaussianCurve(1 / sigma), h);
    add = rem;
  } else {
    rem = discretize(removeCurve(sigma, q), h);
    add = rem && discretize(addCurve(sigma, q), h);
  }
  if (!rem || !add) return undefined;
  const pair = makePair(rem, add, h);
  pairCache.set(key, pair);
  return { key, pair };
}

/** ln Σ_k p_k e^{λ t_k} over the finite part (−∞ when it has no mass). Memoised per pair. */
function cgf(s: Pair, dir: 'rem' | 'add', lambda: number): number {
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
// Composed results

/** One composed direction on its window: mass c[i] at loss (start + i)·h, plus the mass counted in full. */
interface Composed {
  h: number;
  start: number;
  /** S1[i] = Σ_{j ≥ i} c_j (suffix sums; FFT round-off below 0 is raised to 0). */
  s1: Float64Array;
  /** G[i] = Σ_{j ≥ i} c_j e^{(start+i)h − (start+j)h}. */
  g: Float64Array;
  /** Infinity mass plus the Chernoff bound on the mass above the window: added to every δ. */
  extra: number;
}

interface ComposedPair {
  rem: Composed;
  add: Composed;
  h: number;
  size: number;
  bytes: number;
}

function buildComposed(c: Float64Array, h: number, start: number, extra: number): Composed {
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
function composedCurve(c: Composed): Curve {
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

// ---------------------------------------------------------------------------------------------------------------
// Grid choice

/**
 * Mean (remove direction, i.e. KL(P‖Q) ≥ 0) and variance (the larger of both directions) of one step's privacy loss,
 * by quadrature. Only used to pick grids, never for the bound itself.
 */
export function stepLossMoments(sigma: number, q: number): { mean: number; variance: number } {
  if (q >= 1) return { mean: 1 / (2 * sigma * sigma), variance: 1 / (sigma * sigma) };
  const m = 600; // ≥ 24 points per σ over [−12σ, 1 + 12σ]: ample for a grid heuristic
  const lo = -12 * sigma;
  const hi = 1 + 12 * sigma;
  const dx = (hi - lo) / m;
  const logQ = Math.log(q);
  const ratio = (1 - q) / q;
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    a0 = 0,
    a1 = 0,
    a2 = 0;
  for (let i = 0; i <= m; i++) {
    const x = lo + i * dx;
    const y = (2 * x - 1) / (2 * sigma * sigma);
    const l = y > 30 ? logQ + y + Math.log1p(ratio * Math.exp(-y)) : Math.log1p(q * Math.expm1(y));
    const f0 = Math.exp(-0.5 * (x / sigma) ** 2);
    const f1 = Math.exp(-0.5 * ((x - 1) / sigma) ** 2);
    const end = i === 0 || i === m ? 0.5 : 1;
    const wr = (q * f1 + (1 - q) * f0) * end;
    const wa = f0 * end;
    s0 += wr;
    s1 += wr * l;
    s2 += wr * l * l;
    a0 += wa;
    a1 -= wa * l;
    a2 += wa * l * l;
  }
  const vr = s2 / s0 - (s1 / s0) ** 2;
  const va = a2 / a0 - (a1 / a0) ** 2;
  return { mean: Math.max(0, s1 / s0), variance: Math.max(vr, va, 0) };
}

const momentCache = new Map<string, { mean: number; variance: number }>();
function moments(sigma: number, q: number): { mean: number; variance: number } {
  const key = `${sigma}|${q}`;
  let v = momentCache.get(key);
  if (v === undefined) {
    v = stepLossMoments(sigma, q);
    if (momentCache.size > 10000) momentCache.clear();
    momentCache.set(key, v);
  }
  return v;
}

function pow2Floor(x: number, min: number, max: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return max;
  return Math.min(max, Math.max(min, 2 ** Math.floor(Math.log2(x))));
}

/** Loss scale of an account: total mean plus one standard deviation (what ε is measured against). */
function lossScale(groups: readonly Group[]): { scale: number; variance: number } {
  let mean = 0;
  let variance = 0;
  for (const g of groups) {
    const m = moments(g.sigma, g.q);
    mean += g.steps * m.mean;
    variance += g.steps * m.variance;
  }
  return { scale: mean + Math.sqrt(variance), variance };
}

/**
 * Largest grid for an account of the given loss scale: 2^−10 (2^−8 on the coarse level), or scale/2000 when the
 * losses are large, so an account with ε in the hundreds does not need millions of grid points (the grid error of ε
 * is at most one spacing, and usually far less).
 */
function hCap(scale: number, base: number): number {
  return Math.max(base, pow2Floor(scale / 2000, H_MIN, 1));
}

/**
 * Level-1 grid of a group on its own: T steps each add ≤ h²/6 (on average) of variance against T·v of true variance,
 * so h = 2η·sqrt(v) (a power of two) keeps the relative inflation near η². It depends only on (σ, q, T).
 */
export function chooseStepH(sigma: number, q: number, steps = 1): number {
  const cap = hCap(lossScale([{ sigma, q, steps }]).scale, H_MAX);
  return pow2Floor(2 * ETA * Math.sqrt(moments(sigma, q).variance), H_MIN, cap);
}

/**
 * Level-1 grid of a group inside a larger account: the group's T steps may add up to η²·max(V_g, V/F) of variance
 * (V the account's total loss variance, F its number of factors), so a group that is a small part of the account is
 * not resolved more finely than the account needs.
 */
function chooseGroupH(g: Group, total: { scale: number; variance: number }, factors: number): number {
  const vg = g.steps * moments(g.sigma, g.q).variance;
  const allowance = Math.max(vg, total.variance / Math.max(1, factors));
  return pow2Floor(2 * ETA * Math.sqrt(allowance / g.steps), H_MIN, hCap(total.scale, H_MAX));
}

/**
 * Level-2 grid: F factors each add ≤ h²/4 against the total variance V; at most 2^−8 (more only for very large
 * losses). The level-2 error measured against 16× finer grids stays below 0.15% of ε on heterogeneous ledgers.
 */
function chooseCoarseH(total: { scale: number; variance: number }, factors: number, finest: number): number {
  const cap = hCap(total.scale, H_MAX_COARSE);
  const h = pow2Floor(2 * ETA * Math.sqrt(total.variance / Math.max(1, factors)), H_MIN, cap);
  return Math.max(h, Math.min(finest, cap));
}

// ---------------------------------------------------------------------------------------------------------------
// Composition in the Fourier domain

/** λ grid for the Chernoff bounds: 2^(k/2) for k = −8…40 (memoised per pair, so shared across calls). */
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
 * K = Σ_f T_f ln Σ_k p_fk e^{λ t_k} the exact log-MGF of the discrete composed pmf. The best λ is found by walking
 * the λ grid while the bound improves (the exponent is convex in λ).
 */
function chooseWindow(factors: readonly Factor[], dir: 'rem' | 'add', h: number): Window {
  let hardLow = 0;
  let hardHigh = 0;
  for (const f of factors) {
    const p = dir === 'rem' ? f.pair.rem : f.pair.add;
    hardLow += f.times * p.offset;
    hardHigh += f.times * (p.offset + p.pmf.length - 1);
  }
  const logInv = Math.log(1 / TAIL);
  const totalCgf = (lambda: number) => {
    let k = 0;
    for (const f of factors) k += f.times * cgf(f.pair, dir, lambda);
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
function windowLength(w: Window): number {
  const need = Math.max(2, w.hardHigh - w.start + 1);
  let n = 2;
  while (n < need && w.upperBound(n) > TAIL) n *= 2;
  return Math.min(n, nextPow2(need));
}

/**
 * Half-spectrum FFT of one pair's folded remove/add pmfs at size n (both real sequences in one complex transform).
 * Memoised for factors used once (level 2, reused across calls); level-1 spectra are used once and not kept.
 */
function spectrum(f: Factor, n: number): Spectrum {
  const k = `${f.key}|${n}`;
  const cacheable = f.times === 1;
  const hit = cacheable ? spectrumCache.get(k) : undefined;
  if (hit) return hit;
  const s = f.pair;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  const fold = (p: DiscretePld, shift: number, into: Float64Array) => {
    const pmf = p.pmf;
    let idx = (((0 - shift) % n) + n) % n;
    for (let j = 0; j < pmf.length; j++) {
      into[idx]! += pmf[j]!;
      if (++idx === n) idx = 0;
    }
  };
  fold(s.rem, s.shiftRem, re);
  fold(s.add, s.shiftAdd, im);
  fft(re, im);
  const half = n / 2 + 1;
  const ar = new Float64Array(half);
  const ai = new Float64Array(half);
  const br = new Float64Array(half);
  const bi = new Float64Array(half);
  for (let j = 0; j < half; j++) {
    const m = j === 0 ? 0 : n - j;
    // Two real sequences in one transform: A = (Z_j + conj Z_{−j})/2, B = (Z_j − conj Z_{−j})/(2i).
    ar[j] = 0.5 * (re[j]! + re[m]!);
    ai[j] = 0.5 * (im[j]! - im[m]!);
    br[j] = 0.5 * (im[j]! + im[m]!);
    bi[j] = -0.5 * (re[j]! - re[m]!);
  }
  const out: Spectrum = { ar, ai, br, bi, bytes: 32 * half + 128 };
  if (cacheable) spectrumCache.set(k, out);
  return out;
}

const TWO_PI = 2 * Math.PI;
function reduceAngle(a: number): number {
  return a - TWO_PI * Math.round(a / TWO_PI);
}

/** Magnitudes below this are flushed to 0 (they cannot matter, and denormals are slow). */
const TINY = 1e-280;

/** (pr + i·pi) ← (pr + i·pi)·(xr + i·xi), elementwise. */
function multiplyInto(pr: Float64Array, pi: Float64Array, xr: Float64Array, xi: Float64Array): void {
  for (let j = 0; j < pr.length; j++) {
    const a = pr[j]!;
    const b = pi[j]!;
    if (a === 0 && b === 0) continue;
    const c = xr[j]!;
    const d = xi[j]!;
    const r = a * c - b * d;
    const i = a * d + b * c;
    if (Math.abs(r) + Math.abs(i) < TINY) {
      pr[j] = 0;
      pi[j] = 0;
    } else {
      pr[j] = r;
      pi[j] = i;
    }
  }
}

/**
 * (pr + i·pi) ← (pr + i·pi)·(xr + i·xi)^T, elementwise, via the polar form exp(T·ln|x|)·e^{iT·arg x} (exact for an
 * integer T whatever branch arg takes). Frequencies whose T-th power underflows are skipped without a log or atan2.
 */
function powerInto(pr: Float64Array, pi: Float64Array, xr: Float64Array, xi: Float64Array, T: number): void {
  const deadSq = Math.exp((2 * -745) / T); // |x|² below this ⇒ |x|^T < e^−745
  for (let j = 0; j < pr.length; j++) {
    const a = pr[j]!;
    const b = pi[j]!;
    if (a === 0 && b === 0) continue;
    const c = xr[j]!;
    const d = xi[j]!;
    const m2 = c * c + d * d;
    if (!(m2 > deadSq)) {
      pr[j] = 0;
      pi[j] = 0;
      continue;
    }
    const mag = Math.exp(0.5 * T * Math.log(m2));
    const ang = reduceAngle(T * Math.atan2(d, c));
    const c2 = mag * Math.cos(ang);
    const d2 = mag * Math.sin(ang);
    const r = a * c2 - b * d2;
    const i = a * d2 + b * c2;
    if (Math.abs(r) + Math.abs(i) < TINY) {
      pr[j] = 0;
      pi[j] = 0;
    } else {
      pr[j] = r;
      pi[j] = i;
    }
  }
}

/** Composes the factors (each applied `times` times) on grid h; undefined when the FFT would exceed MAX_N. */
function composeFactors(factors: readonly Factor[], h: number): ComposedPair | undefined {
  const wr = chooseWindow(factors, 'rem', h);
  const wa = chooseWindow(factors, 'add', h);
  const n = Math.max(windowLength(wr), windowLength(wa), 2);
  if (n > MAX_N) return undefined;
  const half = n / 2 + 1;
  // The product over factors of (spectrum)^times, per direction, as real/imaginary parts on the half spectrum.
  const par = new Float64Array(half).fill(1);
  const pai = new Float64Array(half);
  const pbr = new Float64Array(half).fill(1);
  const pbi = new Float64Array(half);
  let originRem = 0;
  let originAdd = 0;
  let logNoInfRem = 0;
  let logNoInfAdd = 0;
  for (const f of factors) {
    const s = f.pair;
    const T = f.times;
    const sp = spectrum(f, n);
    if (T === 1) {
      multiplyInto(par, pai, sp.ar, sp.ai);
      multiplyInto(pbr, pbi, sp.br, sp.bi);
    } else {
      powerInto(par, pai, sp.ar, sp.ai, T);
      powerInto(pbr, pbi, sp.br, sp.bi, T);
    }
    originRem += T * (s.rem.offset + s.shiftRem);
    originAdd += T * (s.add.offset + s.shiftAdd);
    logNoInfRem += T * Math.log1p(-s.rem.infMass);
    logNoInfAdd += T * Math.log1p(-s.add.infMass);
  }
  // Back to the loss domain: Z = A + iB over the full spectrum (A, B Hermitian), one inverse FFT gives both.
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let j = 0; j < half; j++) {
    const ar = par[j]!;
    const ai = pai[j]!;
    const br = pbr[j]!;
    const bi = pbi[j]!;
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
    return buildComposed(c, h, w.start, -Math.expm1(logNoInf) + w.upperBound(n));
  };
  const rem = extract(re, wr, originRem, logNoInfRem);
  const add = extract(im, wa, originAdd, logNoInfAdd);
  return { rem, add, h, size: n, bytes: 32 * (n + 1) + 256 };
}

/** Level 1: T-fold self-composition of one group's per-step PLD (memoised). Coarsens the grid if it does not fit. */
function composeGroup(g: Group, hOverride?: number): { key: string; composed: ComposedPair } {
  let h = hOverride ?? chooseStepH(g.sigma, g.q, g.steps);
  for (let attempt = 0; attempt < 16; attempt++, h *= 2) {
    const key = `g|${g.sigma}|${g.q}|${g.steps}|${h}`;
    const hit = composedCache.get(key);
    if (hit) return { key, composed: hit };
    const sp = stepPair(g.sigma, g.q, h);
    if (!sp) continue;
    const composed = composeFactors([{ key: sp.key, pair: sp.pair, times: g.steps }], h);
    if (!composed) continue;
    composedCache.set(key, composed);
    return { key, composed };
  }
  throw new Error('PLD composition does not fit in memory even on a coarse grid');
}

function cachedCoarseFactor(groupKey: string, hc: number): Factor | undefined {
  const key = `c|${groupKey}|${hc}`;
  const hit = pairCache.get(key);
  return hit && { key, pair: hit, times: 1 };
}

/** Level 2 factor: a composed group re-discretised on the coarse grid (memoised). */
function coarseFactor(groupKey: string, composed: ComposedPair, hc: number): Factor | undefined {
  const key = `c|${groupKey}|${hc}`;
  const hit = pairCache.get(key);
  if (hit) return { key, pair: hit, times: 1 };
  const rem = discretize(composedCurve(composed.rem), hc);
  const add = rem && discretize(composedCurve(composed.add), hc);
  if (!rem || !add) return undefined;
  const pair = makePair(rem, add, hc);
  pairCache.set(key, pair);
  return { key, pair, times: 1 };
}

/** Normalised groups in a canonical order (identical (σ, q) merged) with a cache key. */
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
 * Composes the groups into a PLD account (memoised). A group with q = 1 is a plain Gaussian (one per account is
 * expected: the merged Gaussian entries). `h` overrides the level-1 grid and `coarseH` the level-2 grid (tests use
 * them to check convergence); the answer is an upper bound for every grid, tighter as the grids shrink.
 */
export function composePld(
  input: readonly Group[],
  opts: { h?: number; coarseH?: number } = {},
): PldAccount | undefined {
  for (const g of input) {
    if (!Number.isInteger(g.steps) || g.steps < 0 || !(g.sigma > 0) || !(g.q >= 0 && g.q <= 1))
      throw new RangeError(`composePld: bad group ${JSON.stringify(g)}`);
  }
  const { groups, key } = canonical(input);
  if (groups.length === 0) return undefined;
  const accountKey = `a|${key}|${opts.h ?? ''}|${opts.coarseH ?? ''}`;
  const hit = composedCache.get(accountKey);
  if (hit) return new PldAccount(hit);
  let result: ComposedPair;
  if (groups.length === 1) {
    result = composeGroup(groups[0]!, opts.h).composed;
  } else {
    // Level 1 for every group (a single-step group, such as the merged Gaussian, is discretised directly at level 2).
    // Level-1 results are computed lazily: when a group's coarse pair is already cached (the common case while a
    // ledger grows by one entry at a time), its self-composition is not needed again.
    const total = lossScale(groups);
    const plans = groups.map((g) => {
      const h = opts.h ?? chooseGroupH(g, total, groups.length);
      return { g, h };
    });
    const finest = Math.min(hCap(total.scale, H_MAX), ...plans.filter((p) => p.g.steps > 1).map((p) => p.h));
    let hc = opts.coarseH ?? chooseCoarseH(total, groups.length, finest);
    let out: ComposedPair | undefined;
    for (let attempt = 0; attempt < 16 && !out; attempt++, hc *= 2) {
      const factors: Factor[] = [];
      let ok = true;
      for (const { g, h } of plans) {
        let f: Factor | undefined;
        if (g.steps === 1) {
          const sp = stepPair(g.sigma, g.q, hc);
          f = sp && { key: sp.key, pair: sp.pair, times: 1 };
        } else {
          f = cachedCoarseFactor(`g|${g.sigma}|${g.q}|${g.steps}|${h}`, hc);
          if (!f) {
            const c = composeGroup(g, h);
            f = coarseFactor(c.key, c.composed, hc);
          }
        }
        if (!f) {
          ok = false;
          break;
        }
        factors.push(f);
      }
      if (ok) out = composeFactors(factors, hc);
    }
    if (!out) throw new Error('PLD composition does not fit in memory even on a coarse grid');
    result = out;
  }
  composedCache.set(accountKey, result);
  return new PldAccount(result);
}
