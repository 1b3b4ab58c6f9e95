export {
  Ledger,
  BudgetExceededError,
  BudgetRefusal,
  isBudgetRefusal,
  type RunLedger,
  DEFAULT_TOTAL_EPSILON,
  DEFAULT_DELTA,
  conventionalDelta,
  defaultDeltaWarning,
  privacyUnitOf,
  describeUnit,
  type LedgerOptions,
  type LedgerDataset,
  type Partition,
  type Charge,
  type RunPlan,
  type Usage,
  type Closed,
  type Reservation,
  type BudgetStatus,
  type BudgetTotal,
  type RunView,
  type ChargeView,
  type PlanCheck,
  type Suggestion,
} from './ledger';
export type { LedgerAccountant, MechanismSpec, AccountantName } from './accountant';
export { SpentCalculator, type PoolCharge, type Spent } from './compose';
export {
  parseLedger,
  labelPartition,
  sha256Hex,
  GENESIS,
  type LedgerLine,
  type StoredCharge,
  type DatasetRef,
} from './format';
export { ledgerDatasetOf, prepareRun, type PreparedRun } from './dataset';
export { matchingLines, overlapNotes, matchDataset, datasetRuns, type DatasetMatch } from './identity';
export {
  RecordIndex,
  cliIndexDir,
  setDefaultRecordIndex,
  defaultRecordIndex,
  INDEX_ENV,
  type ElsewhereMatch,
} from './record-index';
export {
  RecordStore,
  recordSet,
  unkeyedHashes,
  ledgerRecordKey,
  RECORDS_DIR,
  BYTES_PER_ENTRY,
  type RecordSet,
} from './records';
export { LedgerStore, LEDGER_DIR, LEDGER_FILE, HEAD_FILE, type LockOptions } from './store';

/** SHA-256 (hex) of a released artifact, for settle(). */
export { sha256Hex as releaseHash } from './format';
export { defaultAccountant, defaultFilter } from './default-accountant';
export { filterSpent, filterStatus, type FilterSpent, type FilterStatus, type RunCharges } from './filter';
export { locateLedger, type LedgerLocation } from './locate';
export { openLedger, LEDGER_ACCOUNTANT, type OpenLedgerOptions } from './open';
