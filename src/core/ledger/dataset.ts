/**
 * The dataset as the ledger sees it, built in one place: identity, number of privacy units, privacy unit, records.
 * Every caller that reads or charges the budget uses this, so a unit column can never be forgotten on one path (the
 * ledger would then see another privacy unit and refuse, or key records by text instead of by unit).
 */
import { canonicalRecords, summarize, type Dataset, type DatasetSummary } from '../data';
import type { Ledger } from './ledger';
import type { BudgetStatus, LedgerDataset, PlanCheck, RunPlan } from './types';

export function ledgerDatasetOf(ds: Dataset, units = summarize(ds).units): LedgerDataset {
  return {
    identity: ds.identity,
    units,
    ...(ds.columns.unit !== undefined ? { unitColumn: ds.columns.unit } : {}),
    records: canonicalRecords(ds),
  };
}

/** What a run knows before it starts: the dataset as the ledger sees it, its budget, the plan and the check. */
export interface PreparedRun<P> {
  summary: DatasetSummary;
  /** What the ledger keys the dataset by (identity and n). */
  target: LedgerDataset;
  /** The budget before the run. */
  status: BudgetStatus;
  plan: P;
  /** Whether the plan fits the remaining budget; nothing is reserved or written. */
  check: PlanCheck;
}

/**
 * The steps both algorithms take before a run (the CLI's `demos` and `synth`, the editor's panels): the ledger
 * status, whose δ `plan` gets (the run's δ unless the user gave one), the plan, and the budget check. Reads the
 * ledger, writes nothing.
 */
export async function prepareRun<P extends { ledgerPlan: RunPlan }>(
  ds: Dataset,
  ledger: Ledger,
  summary: DatasetSummary,
  plan: (ledgerDelta: number) => P,
): Promise<PreparedRun<P>> {
  const target = ledgerDatasetOf(ds, summary.units);
  const status = await ledger.status(target);
  const planned = plan(status.total.delta);
  const check = await ledger.check(target, planned.ledgerPlan);
  return { summary, target, status, plan: planned, check };
}
