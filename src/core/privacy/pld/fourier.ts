/**
 * Composition in the Fourier domain: the window of each direction from Chernoff bounds, the half-spectra of the
 * factors, their product (powers for self-composition) and one inverse FFT for both directions.
 */
import { fft, nextPow2 } from '../fft';
import { cgf, spectrumCache, type Factor } from './cache';
import { buildComposed, type Composed, type ComposedPair } from './composed';
import type { DiscretePld } from './discretize';

/** Chernoff level of the composed window: at most this much mass lies beyond each end (added to δ or wrapped up). */
const TAIL = 1e-16;
/** Upper limit on the composed grid (complex FFT of this size, ~16·N bytes per array). */
const MAX_N = 1 << 21;

export interface Spectrum {
  /** Half-spectrum (k = 0..N/2) of the folded remove pmf (A) and add pmf (B): real and imaginary parts. */
  ar: Float64Array;
  ai: Float64Array;
  br: Float64Array;
  bi: Float64Array;
  bytes: number;
}

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

/** (pr[j] + i·pi[j]) ← (a + i·b)·(c + i·d), flushed to 0 below TINY. */
function setProduct(pr: Float64Array, pi: Float64Array, j: number, a: number, b: number, c: number, d: number): void {
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

/** (pr + i·pi) ← (pr + i·pi)·(xr + i·xi), elementwise. */
function multiplyInto(pr: Float64Array, pi: Float64Array, xr: Float64Array, xi: Float64Array): void {
  for (let j = 0; j < pr.length; j++) {
    const a = pr[j]!;
    const b = pi[j]!;
    if (a === 0 && b === 0) continue;
    setProduct(pr, pi, j, a, b, xr[j]!, xi[j]!);
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
    setProduct(pr, pi, j, a, b, mag * Math.cos(ang), mag * Math.sin(ang));
  }
}

/** Composes the factors (each applied `times` times) on grid h; undefined when the FFT would exceed MAX_N. */
export function composeFactors(factors: readonly Factor[], h: number): ComposedPair | undefined {
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
