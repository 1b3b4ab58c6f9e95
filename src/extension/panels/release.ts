// The panels' release boundary without vscode (unit-tested in plain Node): the result message a finished run sends to
// the webview. It carries the release (src/core/release.ts: what Copy, Insert and Export… render) and, apart, the
// ledger's figures and the local diagnostics for the "Local only, not private" area.
import type { Usage } from '../../core/providers/types';
import { plusUsage } from '../../core/runs/usage';
import {
  augPeRelease,
  fewShotRelease,
  type AugPeRelease,
  type AugPeReleaseInput,
  type FewShotRelease,
  type FewShotReleaseInput,
} from '../../core/release';
import type { BudgetMessage, HostMessage } from '../../shared/protocol';

/** What a result message carries besides the release and the usage: the ledger's figures, the journal, the note. */
export type Ledgered = { budgetUsed: number; budget: BudgetMessage; journal: string; message?: string };

/** The ledger's figures, the local diagnostics and the status note around a release (the result message's body). */
function around(o: Ledgered, u: Usage, durationMs: number) {
  return {
    budgetUsed: o.budgetUsed,
    budget: o.budget,
    localOnlyNotPrivate: {
      calls: u.calls,
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      cost: u.cost,
      durationMs,
      journal: o.journal,
    },
    ...(o.message === undefined ? {} : { message: o.message }),
  };
}

/**
 * The Generate panel's result message, and the release it carries (branded: what the exporters accept).
 * `result.report` brings the usage and duration (local diagnostics).
 */
export function fewShotResultMessage(
  run: FewShotReleaseInput & { result: { report: { usage: Usage; durationMs: number } } },
  o: Ledgered,
): { release: FewShotRelease; message: Extract<HostMessage, { type: 'result' }> } {
  const release = fewShotRelease(run);
  return {
    release,
    message: { type: 'result', release, ...around(o, run.result.report.usage, run.result.report.durationMs) },
  };
}

/**
 * The Synthesize panel's result message, and the release it carries. The local usage includes the embedding of the
 * private rows.
 */
export function augPeResultMessage(
  run: AugPeReleaseInput & {
    result: { report: { usage: Usage; durationMs: number }; privateEmbeddingUsage: Usage };
  },
  o: Ledgered,
): { release: AugPeRelease; message: Extract<HostMessage, { type: 'synthResult' }> } {
  const all = plusUsage(run.result.report.usage, run.result.privateEmbeddingUsage);
  const release = augPeRelease(run);
  return { release, message: { type: 'synthResult', release, ...around(o, all, run.result.report.durationMs) } };
}
