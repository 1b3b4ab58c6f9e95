/**
 * Privacy-loss-distribution (PLD) accountant for Poisson-subsampled Gaussian and plain Gaussian entries: both
 * add/remove directions, connect-the-dots discretisation, two-level FFT composition. The method, its sources and its
 * limits are described in ../README.md ("Accountants", pld) and docs/BACKGROUND.md §3; this folder follows the same
 * seams as dp_accounting's pld package:
 *   curves.ts      exact per-step privacy curves (remove, add, Gaussian)
 *   discretize.ts  connect-the-dots discretisation
 *   grid.ts        grid spacings
 *   cache.ts       discrete pairs and the memoisation (LRU caches)
 *   fourier.ts     composition in the Fourier domain (windows, spectra, products)
 *   composed.ts    composed pmfs, δ(ε) / ε(δ) queries, PldAccount
 *   index.ts       the two-level composition of an account (composePld)
 */
import { composedCache, pairCache, makePair, stepPair, type Factor } from './cache';
import { composedCurve, PldAccount, type ComposedPair } from './composed';
import { discretize } from './discretize';
import { composeFactors } from './fourier';
import { chooseCoarseH, chooseGroupH, chooseStepH, hCap, H_MAX, lossScale, type Group } from './grid';

export { addCurve, gaussianCurve, removeCurve } from './curves';
export { discretize, type DiscretePld } from './discretize';
export { chooseStepH, stepLossMoments, type Group } from './grid';
export { clearPldCaches, pldCacheStats } from './cache';
export { PldAccount } from './composed';

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
