import { cliIndexDir, openLedger, type Ledger, type PlanCheck } from '../core/ledger';

/**
 * The CLI's ledger for a workspace folder, with the per-user record index ($PRIVATE_FEWSHOT_INDEX_DIR, else
 * $XDG_CONFIG_HOME/private-fewshot, else ~/.config/private-fewshot; see core/ledger/record-index.ts).
 */
export function cliLedger(root: string, env: NodeJS.ProcessEnv): Ledger {
  const dir = cliIndexDir(env);
  return openLedger(root, dir ? { indexDir: dir } : {});
}

/** The budget part of a dry run's `--json`: what the plan would do to the dataset's budget. */
export function dryRunBudget(check: PlanCheck) {
  return {
    total: check.total.epsilon,
    delta: check.total.delta,
    spent: check.spentBefore,
    spentAfter: check.spentAfter,
    remainingAfter: check.total.epsilon - check.spentAfter,
    pldAfter: check.pldAfter,
    fits: check.fits,
    over: check.over,
    suggestion: check.suggestion ?? null,
  };
}
