// A run panel opened again (or revived after a window reload) shows the newest saved release of its algorithm on its
// dataset (no vscode import, so it is unit-tested in plain Node). Only the release and the ledger's figures are shown
// as the result; the run's local diagnostics come from its journal, shown as "Local only, not private" as after the
// run.
import type { Release } from '../../core/release';
import type { BudgetMessage, HostMessage, LocalRunDiagnostics } from '../../shared/protocol';
import { shortTime } from '../views/runsModel';

/**
 * Per run (by checkpoint), what its panel said of it beyond the release: how much it raised the dataset's spent
 * budget and its status note. Kept for this session, so a panel closed and opened again shows the exact figures; after
 * a window reload only the saved release is there.
 */
const ranHere = new Map<string, { budgetUsed: number; message: string | undefined }>();

/** Remembers what the panel said of the run whose checkpoint is `checkpoint` (a result message). */
export function rememberRun(checkpoint: string, shown: HostMessage): void {
  if (shown.type === 'result' || shown.type === 'synthResult')
    ranHere.set(checkpoint, { budgetUsed: shown.budgetUsed, message: shown.message });
}

/** The local diagnostics of a run whose journal is missing: zeros, and the journal line says it was not found. */
export function missingJournal(journal: string): LocalRunDiagnostics {
  return {
    calls: 0,
    inputTokens: 0,
    outputTokens: 0,
    cost: 0,
    durationMs: 0,
    journal: `${journal} (not found: no local diagnostics)`,
  };
}

/**
 * The result message that shows `release` again: its run's time and checkpoint, the file it was saved in (as the
 * panel names it), its local diagnostics and the dataset's budget now.
 */
export function restoredMessage(o: {
  release: Release;
  run: { time: string; checkpoint: string };
  releaseFile: string;
  local: LocalRunDiagnostics;
  budget: BudgetMessage;
}): HostMessage {
  const here = ranHere.get(o.run.checkpoint);
  const again = `Shown again: the release of the run of ${shortTime(o.run.time)}, kept in ${o.releaseFile}.`;
  const common = here
    ? { budgetUsed: here.budgetUsed, message: here.message ? `${again} ${here.message}` : again }
    : {
        // Not run in this session: the rise of the dataset's spent budget it caused is not stored (it depends on the
        // runs before it under the budget filter), so the run's own ε charged stands in, and the note says so.
        budgetUsed: o.release.privacy.epsilonCharged,
        message: `${again} "Budget used by this run" shows its own ε charged here; the rise of the dataset's spent budget was shown when it ran.`,
      };
  const { release, budget, local } = o;
  return release.algorithm === 'dp-few-shot'
    ? { type: 'result', release, budget, localOnlyNotPrivate: local, ...common }
    : { type: 'synthResult', release, budget, localOnlyNotPrivate: local, ...common };
}
