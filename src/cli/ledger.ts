import { cliIndexDir, defaultAccountant, Ledger, RecordIndex } from '../core/ledger';

/**
 * The CLI's ledger for a workspace folder, with the per-user record index ($PRIVATE_FEWSHOT_INDEX_DIR, else
 * $XDG_CONFIG_HOME/private-fewshot, else ~/.config/private-fewshot; see core/ledger/record-index.ts).
 */
export function cliLedger(root: string, env: NodeJS.ProcessEnv): Ledger {
  const dir = cliIndexDir(env);
  return new Ledger(root, { accountant: defaultAccountant(), ...(dir ? { index: new RecordIndex(dir) } : {}) });
}
