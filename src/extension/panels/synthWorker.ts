// The Aug-PE worker thread (bundled as dist/augpe-worker.js; no vscode here: a worker cannot reach the editor API).
// It runs runAugPe with its own ledger handle and providers, reports progress, and answers a cancel message by
// aborting the run (which settles the histograms that ran). The host side is synthRun.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { loadAugPeResume, runAugPe } from '../../core/augpe';
import { runsDir } from '../../core/runs/checkpoint';
import { BudgetExceededError, openLedger } from '../../core/ledger';
import { createProvider } from '../../core/providers';
import type { Usage } from '../../core/providers/types';
import {
  hostProvider,
  serializeError,
  WorkerRunError,
  type FromWorker,
  type HostCall,
  type ToWorker,
  type WorkerInput,
  type WorkerResult,
} from './synthRun';

const port = parentPort;
if (!port) throw new Error('synthWorker.ts runs only as a worker thread');
const input = workerData as WorkerInput;
const controller = new AbortController();
const post = (m: FromWorker) => port.postMessage(m);

let nextId = 0;
const waiting = new Map<
  number,
  { resolve: (r: { value: unknown; usage: Usage }) => void; reject: (e: Error) => void }
>();
const callHost = (call: HostCall) =>
  new Promise<{ value: unknown; usage: Usage }>((resolve, reject) => {
    const id = ++nextId;
    waiting.set(id, { resolve, reject });
    post({ type: 'call', id, call });
  });

port.on('message', (m: ToWorker) => {
  if (m.type === 'cancel') {
    controller.abort();
    return;
  }
  const w = waiting.get(m.id);
  if (!w) return;
  waiting.delete(m.id);
  if (m.ok) w.resolve({ value: m.value, usage: m.usage });
  else w.reject(new WorkerRunError(m.error));
});

async function main(): Promise<WorkerResult> {
  const g = input.generator;
  // The built-in model and embedder compute synchronously in this thread; createProvider runs their calls one per
  // turn of the event loop (core/providers/yielding.ts), so the cancel message is read between two calls.
  const generator = 'config' in g ? createProvider(g.config) : hostProvider(g.host, callHost);
  const embedder =
    input.embedder === 'builtin' && generator.kind !== 'builtin' ? createProvider({ kind: 'builtin' }) : generator;
  const resume = input.resume
    ? loadAugPeResume(runsDir(input.root), input.resume, {
        dataset: input.dataset,
        plan: input.plan,
        provider: generator,
        embedder,
      })
    : undefined;
  const result = await runAugPe({
    ...(resume ? { resume } : {}),
    dataset: input.dataset,
    plan: input.plan,
    provider: generator,
    embedder,
    ledger: openLedger(input.root, input.indexDir ? { indexDir: input.indexDir } : {}),
    units: input.units,
    signal: controller.signal,
    onProgress: (progress) => post({ type: 'progress', progress }),
  });
  const { error, ...rest } = result;
  return { ...rest, ...(error ? { error: serializeError(error) } : {}) };
}

main().then(
  (result) => post({ type: 'result', result }),
  (e: unknown) => post({ type: 'error', error: serializeError(e, (x) => x instanceof BudgetExceededError) }),
);
