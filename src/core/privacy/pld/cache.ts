/**
 * Discrete PLD pairs and the PLD accountant's memoisation: per-step pairs and coarse pairs of composed groups, their
 * half-spectra and composed results, each an LRU with a byte cap (≈210 MB in all).
 */
import { clearRdpCache } from '../rdp';
import { addCurve, gaussianCurve, removeCurve } from './curves';
import { discretize, type DiscretePld } from './discretize';
import type { ComposedPair } from './composed';
import type { Spectrum } from './fourier';
import { clearMomentCache } from './grid';

/** A discrete PLD pair (remove and add directions) on one grid, with what composition needs to know about it. */
export interface Pair {
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
export interface Factor {
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

/** Per-step pairs (level 1 inputs) and coarse pairs of composed groups (level 2 inputs). */
export const pairCache = new Lru<Pair>(64 * 2 ** 20);
/** Half-spectra of level-2 pairs at a given FFT size (memory caps: ~210 MB in all, LRU). */
export const spectrumCache = new Lru<Spectrum>(96 * 2 ** 20);
/** Composed results: level-1 groups and whole accounts. */
export const composedCache = new Lru<ComposedPair>(48 * 2 ** 20);

/** Drops every memoised PLD, spectrum and composed account (for tests, benchmarks and memory pressure). */
export function clearPldCaches(): void {
  clearRdpCache();
  pairCache.clear();
  spectrumCache.clear();
  composedCache.clear();
  clearMomentCache();
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

export function makePair(rem: DiscretePld, add: DiscretePld, h: number): Pair {
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
export function stepPair(sigma: number, q: number, h: number): { key: string; pair: Pair } | undefined {
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
export function cgf(s: Pair, dir: 'rem' | 'add', lambda: number): number {
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
