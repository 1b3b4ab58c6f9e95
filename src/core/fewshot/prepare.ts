import { summarize, type Dataset, type DatasetSummary } from '../data';
import type { BudgetStatus, Ledger, LedgerDataset, PlanCheck } from '../ledger';
import { planFewShot, type FewShotPlan, type FewShotSettings } from './plan';

/** The run settings before δ is known: δ defaults to the dataset's ledger δ. */
export type PrepareSettings = Omit<FewShotSettings, 'delta'> & { delta?: number };

export interface PreparedFewShot {
  summary: DatasetSummary;
  /** What the ledger keys the dataset by (identity and n). */
  target: LedgerDataset;
  /** The budget before the run. */
  status: BudgetStatus;
  plan: FewShotPlan;
  /** Whether the plan fits the remaining budget; nothing is reserved or written. */
  check: PlanCheck;
}

/**
 * The steps shared by the CLI's `demos` and the editor's Generate panel before a run: ledger status (for δ), the
 * plan, and the budget check. Reads the ledger, writes nothing.
 */
export async function prepareFewShot(ds: Dataset, ledger: Ledger, settings: PrepareSettings, summary = summarize(ds)): Promise<PreparedFewShot> {
  const target: LedgerDataset = { identity: ds.identity, units: summary.units };
  const status = await ledger.status(target);
  const plan = planFewShot(ds, { ...settings, delta: settings.delta ?? status.total.delta });
  const check = await ledger.check(target, plan.ledgerPlan);
  return { summary, target, status, plan, check };
}
