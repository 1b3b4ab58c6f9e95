// What a run panel shows for an error next to its Run button (no vscode import, so it is unit-tested in plain Node): a
// budget refusal with Set Privacy Budget… and, when known, the largest ε that fits; a problem with the model endpoint
// with Open Settings / Check Endpoint / Use the Built-in Model; anything else as an unexpected error. And the answer
// of Check Endpoint.
import { UserError } from '../../core/errors';
import { isBudgetRefusal } from '../../core/ledger';
import { endpointProblem, providerEndpoint } from '../../core/providers/endpoint';
import type { Provider } from '../../core/providers/types';
import { verdicts } from '../../core/providers/verdicts';
import type { HostMessage } from '../../shared/protocol';
import { editorHint } from '../budget';

/** The largest ε that fits, attached to a refusal thrown by a run (see withLargestFit). */
const largestFits = new WeakMap<object, number>();

/** Remembers the largest ε that fits with a refusal thrown by a run, for the error's "use it" button. */
export function withLargestFit<E extends UserError>(e: E, largestFit: number | undefined): E {
  if (largestFit !== undefined) largestFits.set(e, largestFit);
  return e;
}

/** A problem message and the log line that goes with it. */
export interface PanelProblem {
  message: Extract<HostMessage, { type: 'generateError' }>;
  log: { level: 'warn'; text: string } | { level: 'error'; error: Error };
}

/**
 * The panel's message for `e`. `name` is the dataset as the panel names it (relative), `datasetPath` as the ledger's
 * hints name it (the CLI command in a hint becomes the panel's button); `words` puts a planner's text in the form's
 * words; `action` ("Generate", "Synthesize") starts the log line.
 */
export function problemOf(
  e: unknown,
  o: { action: string; name: string; datasetPath: string; words: (text: string) => string },
): PanelProblem {
  const at = `${o.action} (${o.name})`;
  if (isBudgetRefusal(e)) {
    const largestFit = largestFits.get(e);
    return {
      message: {
        type: 'generateError',
        message: o.words(e.message),
        hint: e.hint && o.words(editorHint(editorHint(e.hint, o.name), o.datasetPath)),
        action: 'setBudget',
        ...(largestFit !== undefined ? { largestFit } : {}),
      },
      log: { level: 'warn', text: `${at}: refused by the budget.` },
    };
  }
  if (e instanceof UserError) {
    // A problem with the model endpoint gets the buttons Open Settings / Check Endpoint / Use the Built-in Model.
    const endpoint = endpointProblem(e);
    return {
      message: {
        type: 'generateError',
        message: o.words(e.message),
        hint: e.hint && o.words(e.hint),
        ...(endpoint ? { endpoint } : {}),
      },
      log: { level: 'warn', text: `${at}: ${e.message}` },
    };
  }
  const error = e instanceof Error ? e : new Error(String(e));
  return {
    message: { type: 'generateError', message: `Unexpected error: ${error.message}` },
    log: { level: 'error', error },
  };
}

/**
 * The Check Endpoint button's answer: probe `provider` and say what it can run (DP few-shot, Aug-PE), or what failed.
 * Errors other than a UserError are thrown.
 */
export async function endpointCheckOf(provider: Provider): Promise<{
  message: Extract<HostMessage, { type: 'endpointCheck' }>;
  log: { level: 'info' | 'warn'; text: string };
}> {
  try {
    const caps = await provider.capabilities();
    const v = verdicts(caps, provider.offline);
    const where = providerEndpoint(provider) ?? (provider.offline ? 'this machine' : provider.kind);
    return {
      message: {
        type: 'endpointCheck',
        ok: true,
        message: `${provider.kind}/${provider.model} at ${where} answered. DP few-shot: ${v.dpFewShot.detail}. Aug-PE: ${v.augPe.detail}.`,
      },
      log: { level: 'info', text: `${provider.kind}/${provider.model} ok.` },
    };
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return {
      message: { type: 'endpointCheck', ok: false, message: e.message, hint: e.hint },
      log: { level: 'warn', text: `Endpoint check failed: ${e.message}` },
    };
  }
}
