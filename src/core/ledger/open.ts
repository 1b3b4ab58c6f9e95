/**
 * The one way production code opens a workspace's ledger: the accountant and the budget filter are chosen here, so
 * the CLI and the editor always value a ledger the same way. Tests construct `Ledger` directly when they
 * need another accountant, a clock or lock timings.
 */
import { DEFAULT_ACCOUNTANT } from '../privacy/types';
import type { AccountantName } from './accountant';
import { defaultAccountant, defaultFilter } from './default-accountant';
import { Ledger } from './ledger';
import { RecordIndex } from './record-index';
import type { LedgerOptions } from './types';

/** The accountant of every production ledger (one run's own ε and the "as if planned" composition). */
export const LEDGER_ACCOUNTANT: AccountantName = DEFAULT_ACCOUNTANT;

export interface OpenLedgerOptions {
  /** The per-user record index folder (record-index.ts); none: the process default (see setDefaultRecordIndex). */
  indexDir?: string;
  lock?: LedgerOptions['lock'];
}

/** The ledger of the workspace folder `root`, with the production accountant and budget filter. */
export function openLedger(root: string, options: OpenLedgerOptions = {}): Ledger {
  return new Ledger(root, {
    accountant: defaultAccountant(LEDGER_ACCOUNTANT),
    filter: defaultFilter(),
    ...(options.indexDir ? { index: new RecordIndex(options.indexDir) } : {}),
    ...(options.lock ? { lock: options.lock } : {}),
  });
}
