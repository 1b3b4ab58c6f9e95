/**
 * Spent ε of a set of charges under the partition rule:
 *
 *   spent = max over label pools p of ε( compose(charges on p ∪ charges on *) )   at the dataset's δ,
 *   or ε( compose(charges on *) ) when no charge names a label pool.
 *
 * Per-label pools are disjoint sets of records, so mechanisms on different pools compose in parallel (a record
 * lives in one pool: parallel composition, McSherry 2009, Thm 4); mechanisms on the same pool, and `*` mechanisms
 * (which touch every record), compose in sequence.
 *
 * Two reductions keep this fast without loosening it:
 * - Charges with the same kind, σ and q on one pool are merged by adding their steps: k steps then m steps of one
 *   mechanism are exactly k+m steps of it.
 * - A pool whose merged charges are a sub-multiset of another pool's cannot have a larger ε (adding mechanisms never
 *   lowers ε; the other pool's value is an upper bound on it), so it is not computed. The result is still an upper
 *   bound on the true spent ε.
 * Results are cached in memory by the pool's merged contents and δ, so unchanged pools are not recomputed, and
 * may be read from values recorded in the hash-chained ledger itself (see `recordKey`): a value computed by the
 * same tool version and accountant for exactly the same composition and δ.
 */
import { createHash } from 'node:crypto';
import { TOOL_VERSION } from '../version';
import type { LedgerAccountant, MechanismSpec } from './accountant';
import { isPoissonGaussian } from '../privacy/types';

export interface PoolCharge {
  partition: string;
  mechanism: MechanismSpec;
}

export interface Spent {
  epsilon: number;
  /** The pool that reaches `epsilon` ('*' when only whole-dataset charges exist); null when nothing was charged. */
  worst: string | null;
  /** Label pools seen. */
  pools: number;
  /** Accountant calls made (not served from the cache or the recorded values). */
  computed: number;
  /** The pool values this result rests on, by record key (what a write records in the ledger). */
  values: Map<string, number>;
}

type Merged = Map<string, MechanismSpec>;

function specKey(m: MechanismSpec): string {
  return isPoissonGaussian(m) ? `pg|${m.sigma}|${m.samplingRate}` : `g|${m.sigma}`;
}

function addTo(target: Merged, m: MechanismSpec): void {
  if (m.steps <= 0) return;
  const k = specKey(m);
  const had = target.get(k);
  target.set(k, had ? { ...had, steps: had.steps + m.steps } : { ...m });
}

function poolKey(m: Merged): string {
  return [...m.entries()]
    .map(([k, s]) => `${k}|${s.steps}`)
    .sort()
    .join(';');
}

/** True when every mechanism of `small` appears in `big` with at least as many steps. */
function dominatedBy(small: Merged, big: Merged): boolean {
  if (small.size > big.size) return false;
  for (const [k, s] of small) {
    const b = big.get(k);
    if (!b || b.steps < s.steps) return false;
  }
  return true;
}

/** Recorded pool values: record key → ε. */
export type Recorded = ReadonlyMap<string, number>;

export class SpentCalculator {
  private readonly cache = new Map<string, number>();

  constructor(
    readonly accountant: LedgerAccountant,
    private readonly version: string = TOOL_VERSION,
  ) {}

  /**
   * The key under which a pool's ε is recorded: 96 bits of SHA-256 over the accountant, the tool version, δ and
   * the merged composition. Any change to any of them (a new step, another δ, an upgraded tool) is a new key.
   */
  recordKey(merged: Merged, delta: number): string {
    return createHash('sha256')
      .update(`${this.accountant.name}|${this.version}|${delta}|${poolKey(merged)}`)
      .digest('hex')
      .slice(0, 24);
  }

  /** ε of one pool's composition (0 when empty): from memory, the recorded values, or the accountant. */
  poolEpsilon(
    merged: Merged,
    delta: number,
    recorded?: Recorded,
  ): { epsilon: number; computed: boolean; key?: string } {
    if (merged.size === 0) return { epsilon: 0, computed: false };
    const key = this.recordKey(merged, delta);
    const hit = this.cache.get(key) ?? recorded?.get(key);
    if (hit !== undefined) return { epsilon: hit, computed: false, key };
    const eps = this.accountant.epsilonFor([...merged.values()], delta);
    if (!(eps >= 0)) throw new Error(`accountant returned ε = ${eps}`);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, eps);
    return { epsilon: eps, computed: true, key };
  }

  /**
   * Spent ε of `charges` at `delta`. With `stopAbove`, returns as soon as one pool is above it (pools whose value is
   * known are checked first): the result is then only a witness that spent > stopAbove, for yes/no fit checks.
   */
  spent(charges: PoolCharge[], delta: number, recorded?: Recorded, opts: { stopAbove?: number } = {}): Spent {
    const values = new Map<string, number>();
    const pool = (m: Merged) => {
      const r = this.poolEpsilon(m, delta, recorded);
      if (r.key !== undefined) values.set(r.key, r.epsilon);
      return r;
    };
    const star: Merged = new Map();
    const pools = new Map<string, Merged>();
    for (const c of charges) {
      if (c.partition === '*') addTo(star, c.mechanism);
      else {
        let m = pools.get(c.partition);
        if (!m) pools.set(c.partition, (m = new Map()));
        addTo(m, c.mechanism);
      }
    }
    if (pools.size === 0) {
      const r = pool(star);
      return { epsilon: r.epsilon, worst: star.size ? '*' : null, pools: 0, computed: r.computed ? 1 : 0, values };
    }
    // Each pool composed with the whole-dataset charges; identical pools collapse to one key.
    const candidates = new Map<string, { partition: string; merged: Merged; weight: number }>();
    for (const [partition, own] of pools) {
      const merged: Merged = new Map();
      for (const s of own.values()) addTo(merged, s);
      for (const s of star.values()) addTo(merged, s);
      const key = poolKey(merged);
      if (candidates.has(key)) continue;
      let weight = 0;
      for (const s of merged.values()) weight += s.steps;
      candidates.set(key, { partition, merged, weight });
    }
    // Drop pools dominated by another (keep the heavier first so dominance checks are against survivors).
    const sorted = [...candidates.values()].sort((a, b) => b.weight - a.weight || b.merged.size - a.merged.size);
    const kept: typeof sorted = [];
    for (const c of sorted) if (!kept.some((k) => dominatedBy(c.merged, k.merged))) kept.push(c);

    if (opts.stopAbove !== undefined) {
      const known = (c: (typeof kept)[number]) => {
        const k = this.recordKey(c.merged, delta);
        return this.cache.has(k) || recorded?.has(k) === true;
      };
      kept.sort((a, b) => Number(known(b)) - Number(known(a)));
    }
    let best = 0;
    let worst: string | null = null;
    let computed = 0;
    for (const c of kept) {
      const r = pool(c.merged);
      if (r.computed) computed++;
      if (worst === null || r.epsilon > best) {
        best = r.epsilon;
        worst = c.merged.size ? c.partition : worst;
      }
      if (opts.stopAbove !== undefined && best > opts.stopAbove) break;
    }
    return { epsilon: best, worst, pools: pools.size, computed, values };
  }
}
