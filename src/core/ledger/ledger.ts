/**
 * The per-dataset privacy-budget ledger: total, spent, remaining, and the run lifecycle
 * reserve → (settle | abort). See docs/LEDGER.md for the rules in prose.
 *
 * Every public method reads and verifies the whole ledger under the cross-process lock, so two processes (the CLI
 * and an editor window) always see each other's runs; the check and the append of a reservation happen under one
 * lock, so two runs can never both fit into the same remaining budget.
 */
import { randomBytes } from 'node:crypto';
import { UsageError, UserError } from '../errors';
import { TOOL_VERSION } from '../version';
import { DELTA_MIN } from '../privacy/types';
import {
  budgetBody,
  ensureHeader,
  exceeds,
  recordedOf,
  stored,
  unrecorded,
  validateCharges,
  validatePlan,
} from './charges';
import { type ClosedLine, type LedgerLine, type LineBody, type ParsedLedger, type ReservedLine } from './format';
import { toRef } from './identity';
import { defaultRecordIndex, type RecordIndex } from './record-index';
import { distinctRecords, RecordStore } from './records';
import { BudgetExceededError } from './refusal';
import { LedgerStore } from './store';
import {
  conventionalDelta,
  privacyUnitOf,
  type BudgetStatus,
  type BudgetTotal,
  type Closed,
  type LedgerDataset,
  type LedgerOptions,
  type PlanCheck,
  type Reservation,
  type RunPlan,
  type Usage,
} from './types';
import { Valuation } from './valuation';

export * from './types';
export { BudgetExceededError, BudgetRefusal, isBudgetRefusal } from './refusal';

/**
 * What a run needs of the ledger: reserve before it reads private data, and close a stopped part's reservation (the
 * Reservation settles itself). A run in a worker thread gets a proxy of the host's ledger (core/worker/remote.ts).
 */
export type RunLedger = Pick<Ledger, 'workspaceRoot' | 'reserve' | 'abort'>;

export class Ledger {
  readonly store: LedgerStore;
  private readonly book: Valuation;
  private readonly now: () => Date;
  private readonly recordStore: RecordStore;

  constructor(
    readonly workspaceRoot: string,
    private readonly options: LedgerOptions,
  ) {
    this.store = new LedgerStore(workspaceRoot, options.lock);
    this.now = options.now ?? (() => new Date());
    this.recordStore = new RecordStore(this.store.dir);
    this.book = new Valuation(this.store.file, this.recordStore, options.accountant, options.filter);
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
    const status = this.book.statusOf(parsed, ds, opts.labels);
    if (this.index && ds.records && ds.records.length) {
      try {
        status.elsewhere = this.index.lookup(ds.records, this.store.dir, this.book.hashesOf(ds.records));
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
      const m = this.book.match(snapshot, ds);
      const perRun = this.book.runsFor(snapshot, m).runs;
      this.book.spentOf(perRun, total.delta, recordedOf(snapshot));
      this.book.calc.spent(perRun.flat(), total.delta, recordedOf(snapshot));
    }
    return this.store.withLock(true, ({ parsed, append }) => {
      const bodies: LineBody[] = [];
      const salt = ensureHeader(parsed, bodies, this.now);
      const match = this.book.match(parsed, ds, salt);
      const current = this.book.totalOf(parsed, ds, match.seqs);
      const delta = total.delta ?? current.delta;
      // Compose at the new δ now, so the line can record the pool values later reads will need.
      const recorded = recordedOf(parsed);
      const perRun = this.book.runsFor(parsed, match).runs;
      const values = new Map([
        ...this.book.spentOf(perRun, delta, recorded).values,
        ...this.book.calc.spent(perRun.flat(), delta, recorded).values,
      ]);
      bodies.push({
        ...budgetBody(this.now, ds, total.epsilon ?? current.epsilon, delta, 'user', this.writeSet(ds, salt)),
        ...unrecorded(values, recorded),
      });
      append(bodies);
      return this.book.statusOf(parsed, ds);
    });
  }

  /** What reserving `plan` would do, without writing anything. */
  async check(ds: LedgerDataset, plan: RunPlan): Promise<PlanCheck> {
    const charges = validatePlan(plan);
    const parsed = await this.store.withLock(false, (s) => s.parsed);
    return this.book.checkOf(parsed, ds, plan, charges, parsed.header?.labelSalt ?? randomBytes(16).toString('hex'))
      .check;
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
    if (snapshot.header) this.book.checkOf(snapshot, ds, plan, charges, snapshot.header.labelSalt, false);
    const result = await this.store.withLock(
      true,
      ({ parsed, append }): Reservation | { refused: ParsedLedger; salt: string } => {
        const bodies: LineBody[] = [];
        const salt = ensureHeader(parsed, bodies, this.now);
        const { check, values, recorded } = this.book.checkOf(parsed, ds, plan, charges, salt, false);
        if (!check.fits) return { refused: parsed, salt };
        // The record set file first (atomically), then the lines that name it.
        const records = this.writeSet(ds, salt);
        if (check.total.source === 'default')
          bodies.push(budgetBody(this.now, ds, check.total.epsilon, check.total.delta, 'default', records));
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
          filter: this.book.filterCalc.accountant.name,
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
        await this.index.add(this.store.dir, ds.identity.path, ds.records, this.book.hashesOf(ds.records));
      } catch {
        // The per-user index is a diagnostic for other folders; failing to update it never fails a reserved run.
      }
    }
    if ('refused' in result) {
      // Work out what would fit after releasing the lock (it may take a few seconds), on the state that refused.
      throw new BudgetExceededError(
        this.book.checkOf(result.refused, ds, plan, charges, result.salt).check,
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
      this.book.valuesAfterClose(
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
      const eps = this.book.valuesAfterClose(parsed, res, charges);
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

  /** Writes the dataset's record set file (before any line names it); returns the reference for its lines. */
  private writeSet(ds: LedgerDataset, salt: string): { sha256: string; count: number } | undefined {
    const set = this.book.setOf(ds, salt);
    if (!set) return undefined;
    return { sha256: this.recordStore.write(set), count: distinctRecords(set) };
  }
}

export type { LedgerLine };
