/**
 * The ledger's public vocabulary: default budget, plans and charges, the views `status` and `check` return, and the
 * reservation lifecycle's types. The mechanism vocabulary itself (MechanismSpec, the stored kinds) is in
 * privacy/types.ts.
 */
import type { DatasetIdentity } from '../data';
import type { CanonicalRecord } from '../data/load';
import type { LedgerAccountant, MechanismSpec } from './accountant';
import type { FilterSpent } from './filter';
import type { DatasetRef, StoredCharge } from './format';
import type { ElsewhereMatch, RecordIndex } from './record-index';
import type { LockOptions } from './store';

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
