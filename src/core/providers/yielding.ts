import type { Provider } from './types';

/**
 * Wraps an in-process provider (the built-in model) so that its calls run one at a time, each on its own later turn
 * of the event loop. Its calls compute synchronously and resolve as microtasks, so a run awaiting one call after
 * another never lets the process handle anything else: the editor panel's Cancel message, a worker's port, the
 * CLI's SIGINT, progress timers, other extensions (VS Code reports the host as unresponsive). Yielding once per call
 * is not enough when a run starts many calls at once (Aug-PE sends a label's variations with Promise.all, DP few-shot
 * runs every demonstration at once): every yielded call would resume in the same check phase of the loop, and a
 * Cancel would wait for the whole wave (measured: 4 s in the Aug-PE e2e cancel). One thread computes them anyway, so
 * throughput is unchanged. The results are the inner provider's, unchanged.
 */
export function yieldingProvider(inner: Provider): Provider {
  let gate: Promise<unknown> = Promise.resolve();
  const turn = <T>(signals: readonly (AbortSignal | undefined)[], call: () => Promise<T>): Promise<T> => {
    // The turn starts after the previous call settled, on a later iteration of the loop (past its poll phase).
    const result = gate
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => {
        for (const s of signals) s?.throwIfAborted();
        return call();
      });
    gate = result.catch(() => undefined);
    return result;
  };
  const wrapped: Provider = {
    kind: inner.kind,
    model: inner.model,
    offline: inner.offline,
    capabilities: (signal) => inner.capabilities(signal),
    nextTokens: (req) => turn([req.signal], () => inner.nextTokens(req)),
    generate: (req) => turn([req.signal], () => inner.generate(req)),
    embed: (texts, signal) => turn([signal], () => inner.embed(texts, signal)),
    usage: () => inner.usage(),
  };
  const batch = inner.nextTokensBatch?.bind(inner);
  if (batch)
    wrapped.nextTokensBatch = (reqs) =>
      turn(
        reqs.map((r) => r.signal),
        () => batch(reqs),
      );
  return wrapped;
}
