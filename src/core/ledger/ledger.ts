/**
 * The per-dataset privacy-budget ledger: total, spent, remaining, and the run lifecycle
 * reserve → (settle | abort). See docs/LEDGER.md for the rules in prose.
 *
 * Every public method reads and verifies the whole ledger under the cross-process lock, so two processes (the CLI
 * and an editor window) always see each other's runs; the check and the append of a reservation happen under one
 * lock, so two runs can never both fit into the same remaining budget.
 */
import { randomBytes } from 'node:crypto';
import type { DatasetIdentity } from '../data';
import type { CanonicalRecord } from '../data/load';
import { UsageError, UserError } from '../errors';
import { TOOL_VERSION } from '../version';
import { DELTA_MIN } from '../privacy/types';
import type { LedgerAccountant, MechanismSpec } from './accountant';
import { SpentCalculator, type PoolCharge, type Recorded } from './compose';
import { defaultFilter } from './default-accountant';
import { filterSpent, type FilterSpent, type RunCharges } from './filter';
import {
  LEDGER_FORMAT,
  LEDGER_VERSION,
  labelPartition,
  type BudgetLine,
  type ClosedLine,
  type DatasetRef,
  type LedgerLine,
  type LineBody,
  type ParsedLedger,
  type ReservedLine,
  type StoredCharge,
} from './format';
import { datasetRuns, matchDataset, matchingLines, toRef, type DatasetMatch } from './identity';
import { defaultRecordIndex, type RecordIndex, type ElsewhereMatch } from './record-index';
import { distinctRecords, recordSet, RecordStore, unkeyedHashes, type RecordSet } from './records';
import { LedgerStore, type LockOptions } from './store';

/** Time each refusal search (σ, steps) may spend refining its answer. */
const SUGGEST_MS = 4000;

/** Default total ε for a dataset (the paper's headline setting for both algorithms). */
export const DEFAULT_TOTAL_EPSILON = 4;

/**
 * Default δ of a dataset whose δ was never set: a fixed public constant, so that a release made at the default states
 * nothing about the dataset (a default computed from the exact number of records n would publish n with every
 * release). DP asks δ ≪ 1/n: δ of the order of 1/n allows "privacy" by publishing the complete records of a few
 * people (Dwork & Roth 2014, "The Algorithmic Foundations of Differential Privacy", §2.3, after Definition 2.4).
 * 10⁻⁶ is below the usual 1/(n·ln n) for n up to about 87,000 records. Above that the data owner
 * should set δ (`private-fewshot budget <dataset> --delta D`); defaultDeltaWarning says so, locally. Ledgers that
 * pinned the earlier default 1/(n·ln n) keep their pinned value (it is read from the budget line).
 */
export const DEFAULT_DELTA = 1e-6;

/**
 * The conventional δ = 1/(n·ln n) for n records or privacy units, below 1/n for n ≥ 3 (the Aug-PE / pe convention,
 * Xie et al. 2024). Computed from the exact n, so it is only a local yardstick (defaultDeltaWarning), never a
 * default; Infinity for n ≤ 1 and above 1/n for n = 2, where it says nothing.
 */
export function conventionalDelta(units: number): number {
  return units > 1 ? 1 / (units * Math.log(units)) : Infinity;
}

/**
 * A warning, LOCAL ONLY (it follows the exact n), when a dataset's δ is the default (not set by the user) and above
 * 1/(n·ln n), i.e. weak for a dataset this large. Never a refusal: the default stays public and the runs proceed.
 */
export function defaultDeltaWarning(
  total: Pick<BudgetTotal, 'delta' | 'source'>,
  units: number,
  datasetPath: string,
): string | undefined {
  if (total.source === 'user' || !(total.delta > conventionalDelta(units))) return undefined;
  return (
    `local only, not private: this dataset's δ is the default ${total.delta.toExponential(2)}, above 1/(n·ln n) = ` +
    `${conventionalDelta(units).toExponential(2)} for its ${units} records or privacy units (DP needs δ well below 1/n); ` +
    `set a smaller δ: private-fewshot budget ${datasetPath} --delta D`
  );
}

/** `*` charges every record; `label:<name>` charges the pool of records with that label. */
export type Partition = '*' | `label:${string}`;

export interface Charge {
  partition: Partition;
  mechanism: MechanismSpec;
}

export interface RunPlan {
  /** e.g. 'dp-few-shot' or 'aug-pe'. */
  algorithm: string;
  charges: Charge[];
  /** Free text for people (no private data). */
  note?: string;
  /**
   * The reservation this run continues (e.g. DP few-shot's token steps after its noisy pool-count release): the
   * budget filter counts a group as one run.
   */
  group?: string;
  /**
   * The (ε, δ) the whole group guarantees by construction, valid even though its later parts were chosen from its
   * earlier outputs (e.g. basic composition of a budget split fixed before anything was drawn; Dwork & Roth 2014,
   * Thm 3.16). A group that is a pool's only run is valued at this ε when δ ≤ the ledger's δ.
   */
  guarantee?: { epsilon: number; delta: number };
}

/** The dataset as the ledger needs it: its identity, its number of records or privacy units, and the unit. */
export interface LedgerDataset {
  identity: DatasetIdentity;
  units: number;
  /** The privacy-unit column (e.g. user_id: user-level DP); absent when each row is a unit (row-level DP). */
  unitColumn?: string;
  /** Its records in canonical form (data/load.ts canonicalRecords): the ledger then identifies it by its records
   * (identity.ts). Without them it falls back to the path/hash rule. */
  records?: readonly CanonicalRecord[];
}

/** The privacy unit as stored on ledger lines: 'row', or 'column:<name>' for a unit column. */
export function privacyUnitOf(ds: Pick<LedgerDataset, 'unitColumn'>): string {
  return ds.unitColumn === undefined ? 'row' : `column:${ds.unitColumn}`;
}

/** A stored privacy unit for people: "row" or "unit column \"user_id\"". */
export function describeUnit(unit: string): string {
  return unit === 'row' ? 'row (each row is one unit)' : `unit column ${JSON.stringify(unit.slice('column:'.length))}`;
}

/** A stored charge plus, when the caller passed the dataset's labels and one hashes to this pool, the label (local
 * display only). */
export type ChargeView = StoredCharge & { label?: string };

export interface RunView {
  id: string;
  algorithm: string;
  time: string;
  status: 'reserved' | 'settled' | 'aborted';
  dataset: DatasetRef;
  delta: number;
  /** What counts: the closing line's charges, or the reservation's while it is open. */
  charges: ChargeView[];
  /** What was reserved. */
  planned: ChargeView[];
  released?: string;
  epsilonRun?: number;
  reason?: string;
  note?: string;
  /** The privacy unit the run recorded ('row' or 'column:<name>'); absent on lines written before units were. */
  unit?: string;
  /** Ledger line numbers: the reservation and, when closed, the closing line. */
  lines: number[];
}

export interface BudgetTotal {
  epsilon: number;
  delta: number;
  /** 'default' before any run (not yet written), 'pinned-default' once written at the first run, 'user' when set. */
  source: 'default' | 'pinned-default' | 'user';
  /** The ledger line that set it. */
  line?: number;
}

export interface BudgetStatus {
  file: string;
  dataset: DatasetIdentity;
  units: number;
  total: BudgetTotal;
  /** Spent ε under the budget filter (valid when each run was chosen after reading earlier outputs); see filter.ts. */
  spent: number;
  /** total − spent; negative when over. */
  remaining: number;
  /** ε of the PLD composition of every run, as if all had been planned in advance (not a guarantee across runs). */
  pldIfPlanned: number;
  /** How the worst pool's spent was obtained: its one run's own PLD ε, or the Rényi filter over its runs. */
  spentRule: FilterSpent['rule'];
  /** The privacy unit of the dataset as loaded ('row' or 'column:<name>'). */
  privacyUnit: string;
  /** The distinct privacy units recorded by the counted runs (older lines record none). */
  recordedUnits: string[];
  /** The pool that reaches `spent` (a stored partition), and its label when known. */
  worst: { partition: string; label?: string } | null;
  runs: RunView[];
  /** Every path and content hash whose entries were counted (see identity.ts). */
  matched: { paths: string[]; hashes: string[] };
  /** Local diagnostic (exact counts of private records; never export): other datasets in this ledger that share
   * records with this one. Present when the dataset was given with its records. */
  shared?: { path: string; records: number; of: number }[];
  /** Local diagnostic: ledgers elsewhere (per-user index, see record-index.ts) that charged some of these records. */
  elsewhere?: ElsewhereMatch[];
}

export interface PlanCheck {
  fits: boolean;
  total: BudgetTotal;
  /** Spent ε under the budget filter, before and with this run (what admission compares with the total). */
  spentBefore: number;
  spentAfter: number;
  /** The PLD composition before and with this run, as if every run had been planned in advance (for comparison). */
  pldBefore: number;
  pldAfter: number;
  /** ε of the planned run alone. */
  epsilonRun: number;
  /** By how much spentAfter passes the total (0 when it fits). */
  over: number;
  suggestion?: Suggestion;
}

export interface Suggestion {
  /** A noise multiplier that would fit with the planned steps (σ of each charge, in plan order), rounded up. */
  sigmas?: number[];
  /** A step budget that would fit with the planned σ (steps of each charge, in plan order). */
  steps?: number[];
}

/** A refused reservation: the run would pass the dataset's total. */
export class BudgetExceededError extends UserError {
  constructor(
    readonly check: PlanCheck,
    datasetPath: string,
    plan: RunPlan,
  ) {
    const f = (x: number) => fmt(x);
    const s = check.suggestion ?? {};
    const options: string[] = [];
    const sigmas = distinct(plan.charges.map((c) => c.mechanism.sigma));
    if (s.sigmas) {
      const after = distinct(s.sigmas);
      options.push(
        sigmas.length === 1 && after.length === 1
          ? `noise σ ≥ ${after[0]} (planned ${sigmas[0]})`
          : `noise σ of ${s.sigmas.join(', ')} (planned ${plan.charges.map((c) => c.mechanism.sigma).join(', ')})`,
      );
    }
    if (s.steps) {
      const planned = plan.charges.map((c) => c.mechanism.steps);
      options.push(
        distinct(planned).length === 1
          ? `at most ${s.steps[0]} steps (planned ${planned[0]})`
          : `at most ${s.steps.join(', ')} steps (planned ${planned.join(', ')})`,
      );
    }
    const exhausted = isExhausted(check.spentBefore, check.total.epsilon);
    const pld =
      check.pldAfter <= check.total.epsilon
        ? `; composed as if every run had been planned in advance it would be ε = ${f(check.pldAfter)}, but runs chosen after reading earlier outputs need the budget filter`
        : '';
    super(
      `this run would bring the spent privacy budget of ${datasetPath} to ε = ${f(check.spentAfter)}, over its total ε = ${f(check.total.epsilon)} by ${f(check.over)} (spent so far ${f(check.spentBefore)}, remaining ${f(Math.max(0, check.total.epsilon - check.spentBefore))}; this run alone ε = ${f(check.epsilonRun)} at δ = ${check.total.delta.toPrecision(3)}${pld}); nothing was reserved`,
      exhausted
        ? `The budget is used up. Raise the total only if you accept the larger privacy loss: private-fewshot budget ${datasetPath} --set-total EPS.`
        : options.length
          ? `To fit, use ${options.join(', or ')}; or raise the total: private-fewshot budget ${datasetPath} --set-total EPS.`
          : `No smaller run of this shape fits. Raise the total only if you accept the larger privacy loss: private-fewshot budget ${datasetPath} --set-total EPS.`,
    );
    this.name = 'BudgetExceededError';
  }
}

export interface LedgerOptions {
  /** Binds the ε computations of one run and of the "as if planned" composition; see accountant.ts. */
  accountant: LedgerAccountant;
  /**
   * A pool's ε under fully adaptive composition (the budget filter, filter.ts). Default: the Rényi filter
   * (default-accountant.ts defaultFilter). Tests may bind another valid filter (e.g. Gaussian-DP).
   */
  filter?: LedgerAccountant;
  lock?: LockOptions;
  /** Clock for line times (tests). */
  now?: () => Date;
  /** The per-user index of record sets across ledgers (record-index.ts); none: no cross-ledger warnings. */
  index?: RecordIndex;
}

export interface Usage {
  /** What the run actually used (never fewer steps than ran). Default: the reservation's charges. */
  used?: Charge[];
  /** SHA-256 (hex) of what was released. */
  released?: string;
}

export interface Closed {
  id: string;
  line: number;
  /** True when the recorded use is larger than the reservation in some pool (it is recorded anyway). */
  exceededReservation: boolean;
}

export interface Reservation {
  id: string;
  line: number;
  epsilonRun: number;
  spentAfter: number;
  total: BudgetTotal;
  settle(usage: Usage & { released: string }): Promise<Closed>;
  abort(usage?: Usage & { reason?: string }): Promise<Closed>;
}

export class Ledger {
  readonly store: LedgerStore;
  private readonly calc: SpentCalculator;
  private readonly filterCalc: SpentCalculator;
  private readonly now: () => Date;
  private readonly recordStore: RecordStore;
  private readonly sets = new WeakMap<readonly CanonicalRecord[], { salt?: string; set?: RecordSet; hashes: Buffer }>();

  constructor(
    readonly workspaceRoot: string,
    private readonly options: LedgerOptions,
  ) {
    this.store = new LedgerStore(workspaceRoot, options.lock);
    this.calc = new SpentCalculator(options.accountant);
    this.filterCalc = new SpentCalculator(options.filter ?? defaultFilter());
    this.now = options.now ?? (() => new Date());
    this.recordStore = new RecordStore(this.store.dir);
  }

  get file(): string {
    return this.store.file;
  }

  private get index(): RecordIndex | undefined {
    return this.options.index ?? defaultRecordIndex();
  }

  /** Total, spent, remaining and the runs of a dataset. Pass `labels` to show label names locally. */
  async status(ds: LedgerDataset, opts: { labels?: string[] } = {}): Promise<BudgetStatus> {
    // Read and verify under the lock; compose after releasing it (nothing is written, so a snapshot suffices).
    const parsed = await this.store.withLock(false, (s) => s.parsed);
    const status = this.statusOf(parsed, ds, opts.labels);
    if (this.index && ds.records && ds.records.length) {
      try {
        status.elsewhere = this.index.lookup(ds.records, this.store.dir, this.hashesOf(ds.records));
      } catch {
        // A diagnostic only: an unreadable index never blocks reading the budget.
      }
    }
    return status;
  }

  /** Sets the total ε and/or δ (a new budget line; earlier ones stay). δ must be below 1/n. */
  async setTotal(ds: LedgerDataset, total: { epsilon?: number; delta?: number }): Promise<BudgetStatus> {
    if (total.epsilon !== undefined && !(Number.isFinite(total.epsilon) && total.epsilon > 0))
      throw new UsageError(`the total ε must be a positive number; got ${total.epsilon}`);
    if (
      total.delta !== undefined &&
      !(Number.isFinite(total.delta) && total.delta >= DELTA_MIN && total.delta < 1 / ds.units)
    ) {
      throw new UsageError(
        `δ must be in [${DELTA_MIN}, 1/n) = [${DELTA_MIN}, ${(1 / ds.units).toPrecision(3)}) for ${ds.units} records; got ${total.delta}`,
        ds.units > 2
          ? `DP needs δ well below 1/n; a common choice is 1/(n·ln n) = ${conventionalDelta(ds.units).toPrecision(3)}.`
          : 'DP needs δ well below 1/n.',
      );
    }
    if (total.delta !== undefined) {
      // Compose at the new δ outside the lock first (fills the cache; see reserve).
      const snapshot = await this.store.withLock(false, (s) => s.parsed);
      const m = this.match(snapshot, ds);
      const perRun = this.runsFor(snapshot, m).runs;
      this.spentOf(perRun, total.delta, recordedOf(snapshot));
      this.calc.spent(perRun.flat(), total.delta, recordedOf(snapshot));
    }
    return this.store.withLock(true, ({ parsed, append }) => {
      const bodies: LineBody[] = [];
      const salt = this.ensureHeader(parsed, bodies);
      const match = this.match(parsed, ds, salt);
      const current = this.totalOf(parsed, ds, match.seqs);
      const delta = total.delta ?? current.delta;
      // Compose at the new δ now, so the line can record the pool values later reads will need.
      const recorded = recordedOf(parsed);
      const perRun = this.runsFor(parsed, match).runs;
      const values = new Map([
        ...this.spentOf(perRun, delta, recorded).values,
        ...this.calc.spent(perRun.flat(), delta, recorded).values,
      ]);
      bodies.push({
        ...this.budgetBody(ds, total.epsilon ?? current.epsilon, delta, 'user', this.writeSet(ds, salt)),
        ...unrecorded(values, recorded),
      });
      append(bodies);
      return this.statusOf(parsed, ds);
    });
  }

  /** What reserving `plan` would do, without writing anything. */
  async check(ds: LedgerDataset, plan: RunPlan): Promise<PlanCheck> {
    const charges = validatePlan(plan);
    const parsed = await this.store.withLock(false, (s) => s.parsed);
    return this.checkOf(parsed, ds, plan, charges, parsed.header?.labelSalt ?? randomBytes(16).toString('hex')).check;
  }

  /**
   * Reserves `plan` before any private data is touched. Refuses (BudgetExceededError) when the spent budget with the
   * plan would pass the total, saying by how much and which σ or step budget would fit. The first run of a dataset
   * also pins its default total (ε = 4, δ = DEFAULT_DELTA) as a budget line, so a later change of the default does
   * not move δ.
   */
  async reserve(ds: LedgerDataset, plan: RunPlan): Promise<Reservation> {
    const charges = validatePlan(plan);
    // Compose once outside the lock to fill the cache (the slow part), so the authoritative check under the lock is
    // quick and the lock is never held for long (others would otherwise take it for stale).
    const snapshot = await this.store.withLock(false, (s) => s.parsed);
    if (snapshot.header) this.checkOf(snapshot, ds, plan, charges, snapshot.header.labelSalt, false);
    const result = await this.store.withLock(
      true,
      ({ parsed, append }): Reservation | { refused: ParsedLedger; salt: string } => {
        const bodies: LineBody[] = [];
        const salt = this.ensureHeader(parsed, bodies);
        const { check, values, recorded } = this.checkOf(parsed, ds, plan, charges, salt, false);
        if (!check.fits) return { refused: parsed, salt };
        // The record set file first (atomically), then the lines that name it.
        const records = this.writeSet(ds, salt);
        if (check.total.source === 'default')
          bodies.push(this.budgetBody(ds, check.total.epsilon, check.total.delta, 'default', records));
        const id = `r-${randomBytes(8).toString('hex')}`;
        const reserved: Omit<ReservedLine, 'seq' | 'prev' | 'hash'> = {
          time: this.now().toISOString(),
          tool: TOOL_VERSION,
          type: 'run',
          status: 'reserved',
          id,
          dataset: { ...toRef(ds.identity), ...(records ? { records } : {}) },
          algorithm: plan.algorithm,
          delta: check.total.delta,
          charges: charges.map((c) => stored(c, salt)),
          unit: privacyUnitOf(ds),
          epsilonRun: check.epsilonRun,
          epsilonAfter: check.spentAfter,
          epsilonAfterPld: check.pldAfter,
          accountant: this.options.accountant.name,
          filter: this.filterCalc.accountant.name,
          ...(plan.note ? { note: plan.note } : {}),
          ...(plan.group ? { group: plan.group } : {}),
          ...(plan.guarantee ? { guarantee: { ...plan.guarantee } } : {}),
          ...unrecorded(values, recorded),
        };
        bodies.push(reserved);
        const written = append(bodies);
        const total: BudgetTotal =
          check.total.source === 'default'
            ? { ...check.total, source: 'pinned-default', line: written[written.length - 2]!.seq }
            : check.total;
        return {
          id,
          line: written[written.length - 1]!.seq,
          epsilonRun: check.epsilonRun,
          spentAfter: check.spentAfter,
          total,
          settle: (usage) => this.settle(id, usage),
          abort: (usage) => this.abort(id, usage),
        };
      },
    );
    if (!('refused' in result) && this.index && ds.records && ds.records.length) {
      try {
        await this.index.add(this.store.dir, ds.identity.path, ds.records, this.hashesOf(ds.records));
      } catch {
        // The per-user index is a diagnostic for other folders; failing to update it never fails a reserved run.
      }
    }
    if ('refused' in result) {
      // Work out what would fit after releasing the lock (it may take a few seconds), on the state that refused.
      throw new BudgetExceededError(
        this.checkOf(result.refused, ds, plan, charges, result.salt).check,
        ds.identity.path,
        plan,
      );
    }
    return result;
  }

  /** Closes a reservation with what the run actually used and the hash of what it released. */
  settle(id: string, usage: Usage & { released: string }): Promise<Closed> {
    if (!/^[0-9a-f]{64}$/.test(usage.released ?? ''))
      throw new UsageError(
        `settle needs the SHA-256 (64 lowercase hex digits) of what was released; got ${JSON.stringify(usage.released)}`,
      );
    return this.close(id, 'settled', usage);
  }

  /** Closes a reservation of a run that stopped early. Without `used`, it stays charged at its planned size. */
  abort(id: string, usage: Usage & { reason?: string } = {}): Promise<Closed> {
    if (usage.released !== undefined && !/^[0-9a-f]{64}$/.test(usage.released))
      throw new UsageError(
        `released must be a SHA-256 (64 lowercase hex digits); got ${JSON.stringify(usage.released)}`,
      );
    return this.close(id, 'aborted', usage);
  }

  private async close(id: string, status: 'settled' | 'aborted', usage: Usage & { reason?: string }): Promise<Closed> {
    const used = usage.used ? validateCharges(usage.used, true) : undefined;
    // Warm the cache outside the lock when the usage differs from the plan (see reserve).
    const snapshot = await this.store.withLock(false, (s) => s.parsed);
    const planned = snapshot.lines.find(
      (l): l is ReservedLine => l.type === 'run' && l.status === 'reserved' && l.id === id,
    );
    if (planned && used && snapshot.header)
      this.valuesAfterClose(
        snapshot,
        planned,
        used.map((c) => stored(c, snapshot.header!.labelSalt)),
      );
    return this.store.withLock(true, ({ parsed, append }) => {
      const res = parsed.lines.find(
        (l): l is ReservedLine => l.type === 'run' && l.status === 'reserved' && l.id === id,
      );
      if (!res)
        throw new UserError(
          `no reservation ${id} in ${this.file}`,
          'Settle or abort only a reservation made by reserve() in this workspace.',
        );
      const done = parsed.lines.find(
        (l): l is ClosedLine => l.type === 'run' && l.status !== 'reserved' && l.id === id,
      );
      if (done) throw new UserError(`reservation ${id} was already ${done.status} (line ${done.seq} of ${this.file})`);
      const salt = parsed.header!.labelSalt;
      const charges = used ? used.map((c) => stored(c, salt)) : res.charges;
      const eps = this.valuesAfterClose(parsed, res, charges);
      const body: Omit<ClosedLine, 'seq' | 'prev' | 'hash'> = {
        time: this.now().toISOString(),
        tool: TOOL_VERSION,
        type: 'run',
        status,
        id,
        charges,
        ...(res.unit !== undefined ? { unit: res.unit } : {}),
        ...(usage.released ? { released: usage.released } : {}),
        ...(usage.reason ? { reason: usage.reason } : {}),
        ...eps,
      };
      const [line] = append([body]);
      return { id, line: line!.seq, exceededReservation: exceeds(charges, res.charges) };
    });
  }

  // ---- internals -------------------------------------------------------------------------------------------

  private ensureHeader(parsed: ParsedLedger, bodies: LineBody[]): string {
    if (parsed.header) return parsed.header.labelSalt;
    const labelSalt = randomBytes(16).toString('hex');
    bodies.push({
      time: this.now().toISOString(),
      tool: TOOL_VERSION,
      type: 'ledger',
      format: LEDGER_FORMAT,
      version: LEDGER_VERSION,
      labelSalt,
    });
    return labelSalt;
  }

  private budgetBody(
    ds: LedgerDataset,
    epsilon: number,
    delta: number,
    source: 'default' | 'user',
    records?: { sha256: string; count: number },
  ): Omit<BudgetLine, 'seq' | 'prev' | 'hash'> {
    return {
      time: this.now().toISOString(),
      tool: TOOL_VERSION,
      type: 'budget',
      dataset: { ...toRef(ds.identity), ...(records ? { records } : {}) },
      epsilon,
      delta,
      source,
      units: ds.units,
      unit: privacyUnitOf(ds),
    };
  }

  private totalOf(parsed: ParsedLedger, ds: LedgerDataset, seqs = this.match(parsed, ds).seqs): BudgetTotal {
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
  private runsOf(parsed: ParsedLedger, seqs: Set<number>): { reserved: ReservedLine; closed?: ClosedLine }[] {
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
  private spentOf(
    runs: RunCharges[],
    delta: number,
    recorded: Recorded,
    opts: { stopAbove?: number } = {},
  ): FilterSpent {
    return filterSpent(runs, delta, { filter: this.filterCalc, pld: this.calc }, recorded, opts);
  }

  /**
   * Refuses a run whose privacy unit differs from one recorded by an earlier run on the same data. A user-level
   * guarantee does not bound row-level neighbours at the same ε (removing one row changes a user's data, it does not
   * remove a user), and a row-level one bounds a user only through group privacy; neither composes with the other
   * into one guarantee, so the ledger refuses rather than guess. Lines written before units were recorded carry none
   * and are composed with any unit.
   */
  private checkUnit(ds: LedgerDataset, runs: { reserved: ReservedLine }[]): void {
    const unit = privacyUnitOf(ds);
    const other = runs.find((r) => r.reserved.unit !== undefined && r.reserved.unit !== unit);
    if (!other) return;
    const theirs = other.reserved.unit!;
    throw new UserError(
      `${ds.identity.path}: this run's privacy unit is ${describeUnit(unit)}, but the run at ledger line ${other.reserved.seq} on the same data used ${describeUnit(theirs)}; guarantees for different privacy units do not compose into one, so nothing was reserved`,
      theirs === 'row'
        ? 'Run without --unit-column (in the editor: clear the setting privateFewShot.data.unitColumn), as the earlier runs did, or keep the user-level budget in a separate workspace deliberately.'
        : `Run with --unit-column ${theirs.slice('column:'.length)} (in the editor: set privateFewShot.data.unitColumn to it), as the earlier runs did, or keep this unit's budget in a separate workspace deliberately.`,
    );
  }

  /**
   * The runs whose privacy unit must agree with this dataset's: those on its records, and those on the same file (by
   * path or content hash). Records are keyed by unit when there is a unit column and by text otherwise, so the same
   * file read with and without a unit column shares no records; without the file rule it would start from zero.
   */
  private unitRuns(parsed: ParsedLedger, ds: LedgerDataset, match: DatasetMatch): { reserved: ReservedLine }[] {
    const seqs = new Set([...match.seqs, ...matchingLines(parsed.lines, ds.identity).seqs]);
    return this.runsOf(parsed, seqs);
  }

  /** The unkeyed record hashes of a dataset (records.ts), computed once per records array. */
  private hashesOf(records: readonly CanonicalRecord[]): Buffer {
    const hit = this.sets.get(records);
    if (hit) return hit.hashes;
    const hashes = unkeyedHashes(records);
    this.sets.set(records, { hashes });
    return hashes;
  }

  /** The dataset's record set under this ledger's key (undefined without records or before the ledger exists). */
  private setOf(ds: LedgerDataset, salt: string | undefined): RecordSet | undefined {
    if (!ds.records || salt === undefined) return undefined;
    const hit = this.sets.get(ds.records);
    if (hit?.set && hit.salt === salt) return hit.set;
    const hashes = this.hashesOf(ds.records);
    const set = recordSet(ds.records, salt, hashes);
    this.sets.set(ds.records, { salt, set, hashes });
    return set;
  }

  /** Writes the dataset's record set file (before any line names it); returns the reference for its lines. */
  private writeSet(ds: LedgerDataset, salt: string): { sha256: string; count: number } | undefined {
    const set = this.setOf(ds, salt);
    if (!set) return undefined;
    return { sha256: this.recordStore.write(set), count: distinctRecords(set) };
  }

  /** Which lines apply to `ds` (identity.ts). */
  private match(parsed: ParsedLedger, ds: LedgerDataset, salt = parsed.header?.labelSalt): DatasetMatch {
    return matchDataset(parsed, ds.identity, this.setOf(ds, salt), this.recordStore, this.file);
  }

  /** The runs to value for a match, per record class when it has records (identity.ts datasetRuns). */
  private runsFor(parsed: ParsedLedger, match: DatasetMatch, runs = this.runsOf(parsed, match.seqs)) {
    return datasetRuns(runs, match);
  }

  private statusOf(parsed: ParsedLedger, ds: LedgerDataset, labels?: string[]): BudgetStatus {
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

  private checkOf(
    parsed: ParsedLedger,
    ds: LedgerDataset,
    plan: RunPlan,
    charges: Charge[],
    salt: string,
    suggest = true,
  ): { check: PlanCheck; values: Map<string, number>; recorded: Recorded } {
    const match = this.match(parsed, ds, salt);
    const total = this.totalOf(parsed, ds, match.seqs);
    const runs = this.runsOf(parsed, match.seqs);
    this.checkUnit(ds, this.unitRuns(parsed, ds, match));
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
    if (suggest && !fits && !isExhausted(before, total.epsilon))
      check.suggestion = this.suggest(
        charges,
        (cs) => this.spentOf(withPlan(cs), delta, recorded, { stopAbove: total.epsilon }).epsilon <= total.epsilon,
        total.epsilon - before,
        delta,
      );
    return { check, values, recorded };
  }

  /**
   * The pool values of the reservation's dataset once `res` is closed with `charges`, to record on the closing
   * line. Unchanged usage hits the values recorded at reserve time; changed usage recomputes the pools it touches.
   */
  private valuesAfterClose(
    parsed: ParsedLedger,
    res: ReservedLine,
    charges: StoredCharge[],
  ): { eps?: Record<string, number> } {
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

  /**
   * Searches for the smallest σ scale and the largest step budget that fit. Used only when refusing. Every answer is
   * checked against the exact composition; each search stops refining after SUGGEST_MS (a plan on `*` recomposes
   * every label pool per try), so a suggestion always fits but may be a little conservative on a very large ledger.
   */
  private suggest(charges: Charge[], fits: (cs: Charge[]) => boolean, remaining: number, delta: number): Suggestion {
    const out: Suggestion = {};
    const active = charges.filter((c) => c.mechanism.steps > 0);
    const main = [...active].sort((a, b) => b.mechanism.steps - a.mechanism.steps)[0];
    if (!main) return out;

    // σ: scale every charge's σ by c ≥ 1. Start from calibrateSigma on the remaining budget for the largest charge
    // (a guess only: composition is not additive in ε), then bracket and bisect on the exact composition.
    const scaled = (c: number) =>
      charges.map((ch) => ({ ...ch, mechanism: { ...ch.mechanism, sigma: roundUp(ch.mechanism.sigma * c) } }));
    let lo = 1;
    let hi: number | undefined;
    try {
      const m = main.mechanism;
      const guess =
        this.options.accountant.calibrateSigma(
          { epsilon: remaining, delta },
          m.kind === 'poisson-gaussian'
            ? { kind: m.kind, samplingRate: m.samplingRate, steps: m.steps }
            : { kind: m.kind, steps: m.steps },
        ) / m.sigma;
      if (Number.isFinite(guess) && guess > 1) hi = guess;
    } catch {
      hi = undefined;
    }
    if (hi === undefined || !fits(scaled(hi))) {
      if (hi !== undefined) lo = hi;
      hi = Math.max(2, lo * 2);
      while (!fits(scaled(hi)) && hi < 1e4) {
        lo = hi;
        hi *= 2;
      }
    }
    if (fits(scaled(hi))) {
      const deadline = Date.now() + SUGGEST_MS;
      for (let i = 0; i < 14 && hi / lo > 1.002 && Date.now() < deadline; i++) {
        const mid = Math.sqrt(lo * hi);
        if (fits(scaled(mid))) hi = mid;
        else lo = mid;
      }
      out.sigmas = scaled(hi).map((c) => c.mechanism.sigma);
    }

    // Steps: scale every charge's steps by T'/T (rounding down); binary search the largest T' that fits.
    const T = main.mechanism.steps;
    const withSteps = (t: number) =>
      charges.map((ch) => ({ ...ch, mechanism: { ...ch.mechanism, steps: Math.floor((ch.mechanism.steps * t) / T) } }));
    let good = 0;
    let bad = T;
    const deadline = Date.now() + SUGGEST_MS;
    while (bad - good > 1 && Date.now() < deadline) {
      const mid = Math.floor((good + bad) / 2);
      if (fits(withSteps(mid))) good = mid;
      else bad = mid;
    }
    if (good >= 1) out.steps = withSteps(good).map((c) => c.mechanism.steps);
    return out;
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

/** Every pool value recorded on the ledger's lines (see compose.ts recordKey). Rebuilt per read: lines are few. */
function recordedOf(parsed: ParsedLedger): Recorded {
  const m = new Map<string, number>();
  for (const l of parsed.lines) {
    if (!('eps' in l) || !l.eps) continue;
    for (const [k, v] of Object.entries(l.eps)) m.set(k, Math.max(v, m.get(k) ?? 0));
  }
  return m;
}

/** The values not yet recorded, as the `eps` member of a line (omitted when none; finite values only). */
function unrecorded(values: Map<string, number>, recorded: Recorded): { eps?: Record<string, number> } {
  const eps: Record<string, number> = {};
  let n = 0;
  for (const [k, v] of values) {
    if (recorded.get(k) === v || !Number.isFinite(v)) continue;
    eps[k] = v;
    n++;
  }
  return n ? { eps } : {};
}

/** Checks a plan's charges; returns them typed. Errors are UsageErrors naming the charge. */
function validatePlan(plan: RunPlan): Charge[] {
  if (!plan || typeof plan.algorithm !== 'string' || plan.algorithm === '')
    throw new UsageError('a run plan needs an algorithm name');
  return validateCharges(plan.charges, false);
}

/** Checks charges (a plan's, or a run's actual use, which may be empty when nothing ran). */
function validateCharges(charges: Charge[], allowEmpty: boolean): Charge[] {
  if (!Array.isArray(charges) || (!allowEmpty && charges.length === 0))
    throw new UsageError('a run plan needs at least one charge (partition and mechanism)');
  charges.forEach((c, i) => {
    const where = `charge ${i + 1}`;
    if (
      c.partition !== '*' &&
      !(typeof c.partition === 'string' && c.partition.startsWith('label:') && c.partition.length > 'label:'.length)
    ) {
      throw new UsageError(`${where}: partition must be "*" or "label:<name>"; got ${JSON.stringify(c.partition)}`);
    }
    const m = c.mechanism as MechanismSpec | undefined;
    if (!m || (m.kind !== 'poisson-gaussian' && m.kind !== 'gaussian'))
      throw new UsageError(`${where}: mechanism kind must be "poisson-gaussian" or "gaussian"`);
    if (!(Number.isFinite(m.sigma) && m.sigma > 0))
      throw new UsageError(`${where}: σ must be a positive number; got ${m.sigma}`);
    if (!(Number.isInteger(m.steps) && m.steps >= 0))
      throw new UsageError(`${where}: steps must be a whole number ≥ 0; got ${m.steps}`);
    if (
      m.kind === 'poisson-gaussian' &&
      !(Number.isFinite(m.samplingRate) && m.samplingRate > 0 && m.samplingRate <= 1)
    ) {
      throw new UsageError(`${where}: the sampling rate q must be in (0, 1]; got ${m.samplingRate}`);
    }
  });
  return charges;
}

function stored(c: Charge, salt: string): StoredCharge {
  const partition = c.partition === '*' ? '*' : labelPartition(c.partition.slice('label:'.length), salt);
  const m = c.mechanism;
  return m.kind === 'poisson-gaussian'
    ? { partition, kind: m.kind, sigma: m.sigma, samplingRate: m.samplingRate, steps: m.steps }
    : { partition, kind: m.kind, sigma: m.sigma, steps: m.steps, mu: Math.sqrt(m.steps) / m.sigma };
}

/** True when `used` has, in some partition, a mechanism with more steps than `planned` reserved for it. */
function exceeds(used: StoredCharge[], planned: StoredCharge[]): boolean {
  const key = (c: StoredCharge) =>
    `${c.partition}|${c.kind}|${c.sigma}|${c.kind === 'poisson-gaussian' ? c.samplingRate : ''}`;
  const sum = (cs: StoredCharge[]) => {
    const m = new Map<string, number>();
    for (const c of cs) m.set(key(c), (m.get(key(c)) ?? 0) + c.steps);
    return m;
  };
  const p = sum(planned);
  for (const [k, steps] of sum(used)) if (steps > 0 && steps > (p.get(k) ?? 0)) return true;
  return false;
}

/** Rounds up to 3 significant digits (a suggested σ must never be below what fits). */
function roundUp(x: number): number {
  const e = 10 ** (Math.floor(Math.log10(x)) - 2);
  return Number((Math.ceil(x / e - 1e-9) * e).toPrecision(3));
}

/** Nothing left to spend (up to float noise from composing the same charges in another order). */
function isExhausted(spent: number, total: number): boolean {
  return total - spent <= 1e-9 * total;
}

function distinct<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function fmt(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(4))) : String(x);
}

export type { LedgerLine };
