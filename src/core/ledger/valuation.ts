/**
 * The ledger's valuation of a parsed snapshot: which lines apply to a dataset, its total, its runs, and their spent ε
 * under the budget filter and under the "as if planned" PLD composition. Pure reads: nothing here takes the lock or
 * writes a line (ledger.ts does both and calls these on the snapshot it holds).
 */
import type { CanonicalRecord } from '../data/load';
import { UserError } from '../errors';
import type { LedgerAccountant } from './accountant';
import { checkUnit, distinct, isExhausted, recordedOf, unrecorded } from './charges';
import { SpentCalculator, type PoolCharge, type Recorded } from './compose';
import { defaultFilter } from './default-accountant';
import { filterSpent, type FilterSpent, type RunCharges } from './filter';
import {
  labelPartition,
  type BudgetLine,
  type ClosedLine,
  type ParsedLedger,
  type ReservedLine,
  type StoredCharge,
} from './format';
import { datasetRuns, matchDataset, matchingLines, type DatasetMatch } from './identity';
import { recordSet, unkeyedHashes, type RecordSet, type RecordStore } from './records';
import { suggest } from './suggest';
import {
  DEFAULT_DELTA,
  DEFAULT_TOTAL_EPSILON,
  privacyUnitOf,
  type BudgetStatus,
  type BudgetTotal,
  type Charge,
  type ChargeView,
  type LedgerDataset,
  type PlanCheck,
  type RunPlan,
} from './types';

export class Valuation {
  /** The "as if planned" PLD composition (and each run's own ε). */
  readonly calc: SpentCalculator;
  /** The budget filter (filter.ts): what admission compares with the total. */
  readonly filterCalc: SpentCalculator;
  private readonly sets = new WeakMap<readonly CanonicalRecord[], { salt?: string; set?: RecordSet; hashes: Buffer }>();

  constructor(
    readonly file: string,
    readonly recordStore: RecordStore,
    accountant: LedgerAccountant,
    filter: LedgerAccountant = defaultFilter(),
  ) {
    this.calc = new SpentCalculator(accountant);
    this.filterCalc = new SpentCalculator(filter);
  }

  totalOf(parsed: ParsedLedger, ds: LedgerDataset, seqs = this.match(parsed, ds).seqs): BudgetTotal {
    let latest: BudgetLine | undefined;
    for (const l of parsed.lines) if (l.type === 'budget' && seqs.has(l.seq)) latest = l;
    if (!latest) return { epsilon: DEFAULT_TOTAL_EPSILON, delta: DEFAULT_DELTA, source: 'default' };
    return {
      epsilon: latest.epsilon,
      delta: latest.delta,
      source: latest.source === 'user' ? 'user' : 'pinned-default',
      line: latest.seq,
    };
  }

  /** The runs of a dataset (reservations in its identity component and their closing lines). */
  runsOf(parsed: ParsedLedger, seqs: Set<number>): { reserved: ReservedLine; closed?: ClosedLine }[] {
    const runs = new Map<string, { reserved: ReservedLine; closed?: ClosedLine }>();
    const all = new Map<string, ReservedLine>();
    for (const l of parsed.lines) {
      if (l.type !== 'run') continue;
      if (l.status === 'reserved') {
        if (all.has(l.id))
          throw new UserError(
            `${this.file}:${l.seq}: reservation ${l.id} appears twice`,
            'The ledger was edited; restore it from a backup.',
          );
        all.set(l.id, l);
        if (seqs.has(l.seq)) runs.set(l.id, { reserved: l });
        continue;
      }
      const res = all.get(l.id);
      if (!res)
        throw new UserError(
          `${this.file}:${l.seq}: closes reservation ${l.id}, which no earlier line reserved`,
          'The ledger was edited; restore it from a backup.',
        );
      const run = runs.get(l.id);
      if (run?.closed)
        throw new UserError(
          `${this.file}:${l.seq}: reservation ${l.id} is closed twice (first at line ${run.closed.seq})`,
          'The ledger was edited; restore it from a backup.',
        );
      if (run) run.closed = l;
    }
    return [...runs.values()];
  }

  /** The budget filter's spent ε of these runs (filter.ts); its values include the PLD pool values it computed. */
  spentOf(runs: RunCharges[], delta: number, recorded: Recorded, opts: { stopAbove?: number } = {}): FilterSpent {
    return filterSpent(runs, delta, { filter: this.filterCalc, pld: this.calc }, recorded, opts);
  }

  /** The unkeyed record hashes of a dataset (records.ts), computed once per records array. */
  hashesOf(records: readonly CanonicalRecord[]): Buffer {
    const hit = this.sets.get(records);
    if (hit) return hit.hashes;
    const hashes = unkeyedHashes(records);
    this.sets.set(records, { hashes });
    return hashes;
  }

  /** The dataset's record set under this ledger's key (undefined without records or before the ledger exists). */
  setOf(ds: LedgerDataset, salt: string | undefined): RecordSet | undefined {
    if (!ds.records || salt === undefined) return undefined;
    const hit = this.sets.get(ds.records);
    if (hit?.set && hit.salt === salt) return hit.set;
    const hashes = this.hashesOf(ds.records);
    const set = recordSet(ds.records, salt, hashes);
    this.sets.set(ds.records, { salt, set, hashes });
    return set;
  }

  /** Which lines apply to `ds` (identity.ts). */
  match(parsed: ParsedLedger, ds: LedgerDataset, salt = parsed.header?.labelSalt): DatasetMatch {
    return matchDataset(parsed, ds.identity, this.setOf(ds, salt), this.recordStore, this.file);
  }

  /** The runs to value for a match, per record class when it has records (identity.ts datasetRuns). */
  /**
   * The runs whose privacy unit must agree with this dataset's: those on its records, and those on the same file (by
   * path or content hash). Records are keyed by unit when there is a unit column and by text otherwise, so the same
   * file read with and without a unit column shares no records; without the file rule it would start from zero.
   */
  unitRuns(parsed: ParsedLedger, ds: LedgerDataset, match: DatasetMatch): { reserved: ReservedLine }[] {
    const seqs = new Set([...match.seqs, ...matchingLines(parsed.lines, ds.identity).seqs]);
    return this.runsOf(parsed, seqs);
  }

  runsFor(parsed: ParsedLedger, match: DatasetMatch, runs = this.runsOf(parsed, match.seqs)) {
    return datasetRuns(runs, match);
  }

  statusOf(parsed: ParsedLedger, ds: LedgerDataset, labels?: string[]): BudgetStatus {
    const match = this.match(parsed, ds);
    const total = this.totalOf(parsed, ds, match.seqs);
    const runs = this.runsOf(parsed, match.seqs);
    const recorded = recordedOf(parsed);
    const { runs: perRun, display } = this.runsFor(parsed, match, runs);
    const spent = this.spentOf(perRun, total.delta, recorded);
    const pld = this.calc.spent(perRun.flat(), total.delta, recorded);
    const worst = spent.worst === null ? null : display(spent.worst);
    const names = new Map<string, string>();
    if (labels && parsed.header) for (const l of labels) names.set(labelPartition(l, parsed.header.labelSalt), l);
    const view = (c: StoredCharge): ChargeView =>
      names.has(c.partition) ? { ...c, label: names.get(c.partition)! } : { ...c };
    return {
      file: this.file,
      dataset: ds.identity,
      units: ds.units,
      total,
      spent: spent.epsilon,
      remaining: total.epsilon - spent.epsilon,
      pldIfPlanned: pld.epsilon,
      spentRule: spent.rule,
      privacyUnit: privacyUnitOf(ds),
      recordedUnits: distinct(
        this.unitRuns(parsed, ds, match).flatMap((r) => (r.reserved.unit !== undefined ? [r.reserved.unit] : [])),
      ),
      worst:
        worst === null
          ? null
          : names.has(worst)
            ? { partition: worst, label: names.get(worst)! }
            : { partition: worst },
      runs: runs.map(({ reserved: r, closed: c }) => ({
        id: r.id,
        algorithm: r.algorithm,
        time: r.time,
        status: c ? c.status : 'reserved',
        dataset: r.dataset,
        delta: r.delta,
        charges: (c ?? r).charges.map(view),
        planned: r.charges.map(view),
        ...(c?.released ? { released: c.released } : {}),
        ...(r.epsilonRun !== undefined ? { epsilonRun: r.epsilonRun } : {}),
        ...(c?.reason ? { reason: c.reason } : {}),
        ...(r.note ? { note: r.note } : {}),
        ...(r.unit !== undefined ? { unit: r.unit } : {}),
        lines: c ? [r.seq, c.seq] : [r.seq],
      })),
      matched: { paths: [...match.paths], hashes: [...match.hashes] },
      ...(match.records ? { shared: sharedView(match, ds.identity.path) } : {}),
    };
  }

  checkOf(
    parsed: ParsedLedger,
    ds: LedgerDataset,
    plan: RunPlan,
    charges: Charge[],
    salt: string,
    withSuggestion = true,
  ): { check: PlanCheck; values: Map<string, number>; recorded: Recorded } {
    const match = this.match(parsed, ds, salt);
    const total = this.totalOf(parsed, ds, match.seqs);
    const runs = this.runsOf(parsed, match.seqs);
    checkUnit(ds, this.unitRuns(parsed, ds, match));
    const existingRuns = datasetRuns(runs, match).runs;
    const delta = total.delta;
    const recorded = recordedOf(parsed);
    const planCharges = (cs: Charge[]): PoolCharge[] =>
      cs.map((c) => ({
        partition: c.partition === '*' ? '*' : labelPartition(c.partition.slice('label:'.length), salt),
        mechanism: c.mechanism,
      }));
    const info = { id: '', group: plan.group, guarantee: plan.guarantee };
    // The plan as one more run on every current record (per record class when the dataset has records).
    const withPlan = (cs: Charge[]) => datasetRuns(runs, match, { charges: planCharges(cs), info }).runs;
    const before = this.spentOf(existingRuns, delta, recorded).epsilon;
    const afterRuns = withPlan(charges);
    const afterSpent = this.spentOf(afterRuns, delta, recorded);
    const after = afterSpent.epsilon;
    const pldAfter = this.calc.spent(afterRuns.flat(), delta, recorded);
    const values = new Map([...afterSpent.values, ...pldAfter.values]);
    const epsilonRun = this.calc.spent(planCharges(charges), delta, recorded).epsilon;
    const fits = after <= total.epsilon;
    const check: PlanCheck = {
      fits,
      total,
      spentBefore: before,
      spentAfter: after,
      pldBefore: this.calc.spent(existingRuns.flat(), delta, recorded).epsilon,
      pldAfter: pldAfter.epsilon,
      epsilonRun,
      over: fits ? 0 : after - total.epsilon,
    };
    if (withSuggestion && !fits && !isExhausted(before, total.epsilon))
      check.suggestion = suggest(
        charges,
        (cs) => this.spentOf(withPlan(cs), delta, recorded, { stopAbove: total.epsilon }).epsilon <= total.epsilon,
        total.epsilon - before,
        delta,
        this.calc.accountant,
      );
    return { check, values, recorded };
  }

  /**
   * The pool values of the reservation's dataset once `res` is closed with `charges`, to record on the closing
   * line. Unchanged usage hits the values recorded at reserve time; changed usage recomputes the pools it touches.
   */
  valuesAfterClose(parsed: ParsedLedger, res: ReservedLine, charges: StoredCharge[]): { eps?: Record<string, number> } {
    const identity = { path: res.dataset.path, contentSha256: res.dataset.sha256, bytes: res.dataset.bytes };
    // The run's own input is the dataset: its record set when it has one (identity.ts), else its path and hash.
    const current = res.dataset.records
      ? this.recordStore.read(res.dataset.records.sha256, res.seq, this.file)
      : undefined;
    const match = matchDataset(parsed, identity, current, this.recordStore, this.file);
    let latest: BudgetLine | undefined;
    for (const l of parsed.lines) if (l.type === 'budget' && match.seqs.has(l.seq)) latest = l;
    if (!latest) return {};
    const runs = this.runsOf(parsed, match.seqs).map((r) =>
      r.reserved.id === res.id ? { reserved: { ...r.reserved, charges }, closed: undefined } : r,
    );
    const all = datasetRuns(runs, match).runs;
    const recorded = recordedOf(parsed);
    const values = new Map([
      ...this.spentOf(all, latest.delta, recorded).values,
      ...this.calc.spent(all.flat(), latest.delta, recorded).values,
    ]);
    return unrecorded(values, recorded);
  }
}

/** The other datasets of this ledger sharing records with `path`'s current content, largest share first. */
function sharedView(match: DatasetMatch, path: string): { path: string; records: number; of: number }[] {
  const r = match.records!;
  const best = new Map<string, number>();
  for (const s of r.shared) {
    if (s.records === 0) continue;
    for (const p of s.paths) {
      if (p === path && s.records === r.of) continue;
      best.set(p, Math.max(s.records, best.get(p) ?? 0));
    }
  }
  return [...best]
    .map(([p, records]) => ({ path: p, records, of: r.of }))
    .sort((a, b) => b.records - a.records || a.path.localeCompare(b.path));
}
