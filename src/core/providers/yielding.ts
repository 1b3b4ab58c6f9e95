import type { Provider } from './types';

/** Resolves on a later turn of the event loop (after pending I/O callbacks), not in the current microtask queue. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Wraps an in-process provider (the built-in model) so that every model call first yields to the event loop.
 * Its calls compute synchronously and resolve as microtasks, so a run awaiting one call after another never lets
 * the process handle anything else: the editor panel's Cancel message, the CLI's SIGINT, progress timers, other
 * extensions (VS Code reports the host as unresponsive). Yielding once per call (one wave of a token step) keeps Cancel prompt. The
 * results are the inner provider's, unchanged.
 */
export function yieldingProvider(inner: Provider): Provider {
  const wrapped: Provider = {
    kind: inner.kind,
    model: inner.model,
    offline: inner.offline,
    capabilities: (signal) => inner.capabilities(signal),
    nextTokens: async (req) => {
      await nextTurn();
      req.signal?.throwIfAborted();
      return inner.nextTokens(req);
    },
    generate: async (req) => {
      await nextTurn();
      req.signal?.throwIfAborted();
      return inner.generate(req);
    },
    embed: async (texts, signal) => {
      await nextTurn();
      signal?.throwIfAborted();
      return inner.embed(texts, signal);
    },
    usage: () => inner.usage(),
  };
  const batch = inner.nextTokensBatch?.bind(inner);
  if (batch) {
    wrapped.nextTokensBatch = async (reqs) => {
      await nextTurn();
      for (const r of reqs) r.signal?.throwIfAborted();
      return batch(reqs);
    };
  }
  return wrapped;
}
