/**
 * How the runs charged to a dataset become a spent ε and an admission decision: the budget filter.
 *
 * Runs are chosen one after another by people who read the earlier outputs (fully adaptive composition). Composing
 * the runs' PLDs and refusing a run when the composition would pass the total is not a valid privacy filter in that
 * setting (Rogers, Roth, Ullman & Vadhan 2016; Honkela, Koskela, Tran & Räisä 2026), so admission uses a filter that
 * is: per pool of records (see compose.ts for pools; for a dataset with record sets, per record class, identity.ts),
 *
 *   - a pool touched by ONE run: that run's parameters were fixed before any output that depends on the pool's
 *     records, so its own exact (PLD) ε stands; the pool's value is min(PLD ε, Rényi-filter ε) of the run;
 *   - a pool touched by two or more runs: the Rényi filter ε of all of them (src/core/privacy/filter.ts).
 *
 * Why the lone-run rule keeps the filter valid: whether the first run on a pool fits the Rényi filter is decided by
 * its plan alone (made before any output that depends on the pool). If it fits, the pool runs a Rényi filter from
 * the start. If it does not, no later run on the pool can fit the Rényi filter either (RDP only grows), so that run
 * is the pool's whole interaction: one mechanism with fixed parameters, whose PLD ε is a valid guarantee.
 *
 * spent = max over pools of the pool's value; a run is admitted when spent with it stays ≤ the total. The PLD
 * composition of everything ("as if all runs had been planned in advance") is reported next to it.
 */
import type { MechanismSpec } from './accountant';
import type { PoolCharge, Recorded, SpentCalculator } from './compose';
import { isPoissonGaussian } from '../privacy/types';

/** What the filter needs to know of a run besides its charges. */
export interface RunGroupInfo {
  /** The run's reservation id ('' for a plan not yet reserved). */
  id: string;
  /** The reservation this run continues: runs of one group count as one run. */
  group?: string;
  /** The (ε, δ) the group guarantees by construction (ledger.ts RunPlan.guarantee). */
  guarantee?: { epsilon: number; delta: number };
}

/** One run's charges (stored partitions), with its group. */
export type RunCharges = readonly PoolCharge[] & { readonly info?: RunGroupInfo };

/** `charges` tagged with the run's group (see RunGroupInfo). */
export function withGroup(charges: PoolCharge[], info: RunGroupInfo): RunCharges {
  return Object.assign(charges, { info });
}

/**
 * Merges the runs of one group (a run and the runs that continue it) into one: the filter treats a group as a
 * single interaction whose parts were planned together. The group's guarantee is the one any part records.
 */
function mergeGroups(runs: readonly RunCharges[]): { charges: PoolCharge[]; guarantee?: RunGroupInfo['guarantee'] }[] {
  const groups = new Map<string, { charges: PoolCharge[]; guarantee?: RunGroupInfo['guarantee'] }>();
  runs.forEach((r, i) => {
    const key = r.info?.group || r.info?.id || `#${i}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { charges: [] }));
    g.charges.push(...r);
    if (r.info?.guarantee) g.guarantee = r.info.guarantee;
  });
  return [...groups.values()];
}

export interface FilterSpent {
  /** The filter's spent ε: max over pools (0 when nothing was charged). */
  epsilon: number;
  /** The pool that reaches it ('*' for the records only whole-dataset runs touch), null when nothing was charged. */
  worst: string | null;
  /** How the worst pool's value was obtained: its lone run's PLD ε, or the Rényi filter. */
  rule: 'lone-run-pld' | 'lone-run-guarantee' | 'renyi-filter' | null;
  /** PLD values computed for lone-run pools (record keys → ε, to record in the ledger). */
  values: Map<string, number>;
}

export interface FilterStatus extends FilterSpent {
  total: number;
  /** total − spent (negative when over). */
  remaining: number;
  /** ε of the PLD composition of every run, as if all had been planned in advance (the old rule; not a guarantee). */
  pldIfPlanned: number;
  /** True when the filter, with `run` added, stays within the total. */
  admits(run: RunCharges): boolean;
}

const leaks = (m: MechanismSpec) => m.steps > 0 && !(isPoissonGaussian(m) && m.samplingRate === 0);

/**
 * The filter's spent ε of `runs` at `delta`. `filter` computes a pool's Rényi-filter ε (compose.ts calculator over
 * the filter accountant); `pld` a pool's exact composition (the ledger's accountant).
 */
export function filterSpent(
  runs: readonly RunCharges[],
  delta: number,
  calcs: { filter: SpentCalculator; pld: SpentCalculator },
  recorded?: Recorded,
  opts: { stopAbove?: number } = {},
): FilterSpent {
  const merged = mergeGroups(runs);
  const live = merged.map((g) => g.charges.filter((c) => leaks(c.mechanism))).filter((r) => r.length > 0);
  const guarantees = merged.filter((g) => g.charges.some((c) => leaks(c.mechanism))).map((g) => g.guarantee);
  const named = new Set<string>();
  let star = false;
  for (const r of live)
    for (const c of r) {
      if (c.partition === '*') star = true;
      else named.add(c.partition);
    }
  const pools = [...named];
  if (star) pools.push('*'); // the records of labels no run names: touched by the whole-dataset runs only
  const values = new Map<string, number>();
  let best = 0;
  let worst: string | null = null;
  let rule: FilterSpent['rule'] = null;
  // Per pool: its own charges, and how many runs name it; '*' charges are added to every pool.
  const own = new Map<string, { charges: PoolCharge[]; runs: number }>();
  const starCharges: PoolCharge[] = [];
  let starRuns = 0;
  // The guarantee of the one run touching a pool, when that run recorded one.
  const lone = new Map<string, RunGroupInfo['guarantee']>();
  let starGuarantee: RunGroupInfo['guarantee'];
  for (const [i, r] of live.entries()) {
    for (const c of r) {
      if (c.partition === '*') starGuarantee = guarantees[i];
      else lone.set(c.partition, guarantees[i]);
    }
    const seen = new Set<string>();
    for (const c of r) {
      if (c.partition === '*') {
        starCharges.push(c);
        seen.add('*');
        continue;
      }
      let o = own.get(c.partition);
      if (!o) own.set(c.partition, (o = { charges: [], runs: 0 }));
      o.charges.push(c);
      if (!seen.has(c.partition)) {
        seen.add(c.partition);
        if (!r.some((x) => x.partition === '*')) o.runs++;
      }
    }
    if (seen.has('*')) starRuns++;
  }
  for (const p of pools) {
    const o = p === '*' ? { charges: [], runs: 0 } : own.get(p)!;
    // Runs touching p: those naming p without '*', plus every run with a '*' charge.
    const touching = o.runs + starRuns;
    const charges: PoolCharge[] = [...o.charges, ...starCharges].map((c) => ({ partition: p, mechanism: c.mechanism }));
    let value = calcs.filter.spent(charges, delta).epsilon;
    let how: FilterSpent['rule'] = 'renyi-filter';
    if (touching === 1) {
      const guarantee = starRuns === 1 ? starGuarantee : lone.get(p);
      if (guarantee) {
        // A group whose later parts were chosen from its earlier outputs: its PLD composition assumes parameters
        // fixed in advance, so only the guarantee it was built to meet stands (at a δ no larger than the ledger's).
        if (guarantee.delta <= delta && guarantee.epsilon < value) {
          value = guarantee.epsilon;
          how = 'lone-run-guarantee';
        }
      } else {
        const pld = calcs.pld.spent(charges, delta, recorded);
        for (const [k, v] of pld.values) values.set(k, v);
        if (pld.epsilon < value) {
          value = pld.epsilon;
          how = 'lone-run-pld';
        }
      }
    }
    if (worst === null || value > best) {
      best = value;
      worst = p;
      rule = how;
    }
    if (opts.stopAbove !== undefined && best > opts.stopAbove) break;
  }
  return { epsilon: best, worst, rule, values };
}

/** The filter's view of a dataset's runs against its total: spent, remaining, the PLD number, and admission. */
export function filterStatus(
  runs: readonly RunCharges[],
  budget: { total: number; delta: number },
  calcs: { filter: SpentCalculator; pld: SpentCalculator },
  recorded?: Recorded,
): FilterStatus {
  const spent = filterSpent(runs, budget.delta, calcs, recorded);
  const pld = calcs.pld.spent(runs.flat(), budget.delta, recorded);
  for (const [k, v] of pld.values) spent.values.set(k, v);
  return {
    ...spent,
    total: budget.total,
    remaining: budget.total - spent.epsilon,
    pldIfPlanned: pld.epsilon,
    admits: (run) =>
      filterSpent([...runs, run], budget.delta, calcs, recorded, { stopAbove: budget.total }).epsilon <= budget.total,
  };
}
