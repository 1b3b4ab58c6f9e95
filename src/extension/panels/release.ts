// The panels' release boundary without vscode (unit-tested in plain Node): the result message a finished run sends to
// the webview. It carries the release (src/core/release.ts: what Copy, Insert and Export… render) and, apart, the
// ledger's figures and the local diagnostics for the "Local only, not private" area.
import type { Usage } from '../../core/providers/types';
import {
  augPeRelease,
  fewShotRelease,
  type AugPeRelease,
  type AugPeReleaseInput,
  type FewShotRelease,
  type FewShotReleaseInput,
} from '../../core/release';
import type { BudgetMessage, HostMessage } from '../../shared/protocol';

type Ledgered = { budgetUsed: number; budget: BudgetMessage; journal: string; message?: string };

function local(u: Usage, durationMs: number, journal: string) {
  return {
    calls: u.calls,
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    cost: u.cost,
    durationMs,
    journal,
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
  const message: Extract<HostMessage, { type: 'result' }> = {
    type: 'result',
    release,
    budgetUsed: o.budgetUsed,
    budget: o.budget,
    localOnlyNotPrivate: local(run.result.report.usage, run.result.report.durationMs, o.journal),
    ...(o.message === undefined ? {} : { message: o.message }),
  };
  return { release, message };
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
  const u = run.result.report.usage;
  const pe = run.result.privateEmbeddingUsage;
  const all: Usage = {
    calls: u.calls + pe.calls,
    inputTokens: u.inputTokens + pe.inputTokens,
    outputTokens: u.outputTokens + pe.outputTokens,
    cost: u.cost + pe.cost,
  };
  const release = augPeRelease(run);
  const message: Extract<HostMessage, { type: 'synthResult' }> = {
    type: 'synthResult',
    release,
    budgetUsed: o.budgetUsed,
    budget: o.budget,
    localOnlyNotPrivate: local(all, run.result.report.durationMs, o.journal),
    ...(o.message === undefined ? {} : { message: o.message }),
  };
  return { release, message };
}
