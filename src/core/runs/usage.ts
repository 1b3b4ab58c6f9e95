/**
 * Usage arithmetic shared by the runs (calls, tokens, cost). Usage counted over private text is a local diagnostic
 * (it depends on the private data): whatever these add up stays in the run journal, never in a release.
 */
import type { Usage } from '../providers/types';

export const ZERO_USAGE: Usage = { calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 };

export function minusUsage(a: Usage, b: Usage): Usage {
  return {
    calls: a.calls - b.calls,
    inputTokens: a.inputTokens - b.inputTokens,
    outputTokens: a.outputTokens - b.outputTokens,
    cost: a.cost - b.cost,
  };
}

export function plusUsage(a: Usage, b: Usage): Usage {
  return {
    calls: a.calls + b.calls,
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cost: a.cost + b.cost,
  };
}
