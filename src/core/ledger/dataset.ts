/**
 * The dataset as the ledger sees it, built in one place: identity, number of privacy units, privacy unit, records.
 * Every caller that reads or charges the budget uses this, so a unit column can never be forgotten on one path (the
 * ledger would then see another privacy unit and refuse, or key records by text instead of by unit).
 */
import { canonicalRecords, summarize, type Dataset } from '../data';
import type { LedgerDataset } from './ledger';

export function ledgerDatasetOf(ds: Dataset, units = summarize(ds).units): LedgerDataset {
  return {
    identity: ds.identity,
    units,
    ...(ds.columns.unit !== undefined ? { unitColumn: ds.columns.unit } : {}),
    records: canonicalRecords(ds),
  };
}
