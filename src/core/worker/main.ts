/**
 * The worker thread that runs either algorithm (bundled as dist/run-worker.js). It validates its job, builds the
 * built-in model here (CPU work: the reason for the thread) and proxies of the host's ledger and models
 * (core/worker/remote.ts), runs, reports progress, and answers a cancel by aborting the run, which settles what ran.
 * The host side is core/worker/host.ts; the messages are core/worker/protocol.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadAugPeResume, runAugPe } from '../augpe';
import { runFewShot } from '../fewshot/run';
import { createProvider } from '../providers';
import type { Provider } from '../providers/types';
import { runsDir } from '../runs/checkpoint';
import {
  jobSchema,
  parseOrThrow,
  reviveError,
  serializeError,
  toWorkerSchema,
  type FromWorker,
  type ModelRef,
  type SerializedError,
} from './protocol';
import { remoteLedger, remoteProvider, type HostCaller } from './remote';

const port = parentPort;
if (!port) throw new Error('core/worker/main.ts runs only as a worker thread');
const job = parseOrThrow(jobSchema, workerData, 'the worker');
const controller = new AbortController();
const post = (m: FromWorker) => port.postMessage(m);

let nextId = 0;
const waiting = new Map<
  number,
  { resolve: (r: Awaited<ReturnType<HostCaller>>) => void; reject: (e: Error) => void }
>();
const call: HostCaller = (c) =>
  new Promise((resolve, reject) => {
    const id = ++nextId;
    waiting.set(id, { resolve, reject });
    post({ type: 'call', id, call: c });
  });

port.on('message', (data: unknown) => {
  const m = parseOrThrow(toWorkerSchema, data, 'the worker');
  if (m.type === 'cancel') {
    controller.abort();
    return;
  }
  const w = waiting.get(m.id);
  if (!w) return;
  waiting.delete(m.id);
  if (m.ok) w.resolve({ value: m.value, usage: m.usage });
  else w.reject(reviveError(m.error));
});

/** The built-in model computes in this thread; createProvider runs its calls one per turn of the event loop
 * (providers/yielding.ts), so the cancel message is read between two calls. */
function model(ref: ModelRef, to: 'generator' | 'embedder'): Provider {
  return 'builtin' in ref
    ? createProvider({ kind: 'builtin', ...(ref.builtin.model ? { model: ref.builtin.model } : {}) })
    : remoteProvider(to, ref.host, call);
}

const withError = <R extends { error?: Error }>({ error, ...rest }: R) => ({
  ...rest,
  ...(error ? { error: serializeError(error) satisfies SerializedError } : {}),
});

async function main() {
  const ledger = remoteLedger(job.root, call);
  const generator = model(job.generator, 'generator');
  const common = {
    dataset: job.dataset,
    units: job.units,
    ledger,
    signal: controller.signal,
    onProgress: (progress: Extract<FromWorker, { type: 'progress' }>['progress']) =>
      post({ type: 'progress', progress }),
  };
  if (job.algorithm === 'dp-few-shot')
    return withError(
      await runFewShot({
        ...common,
        plan: job.plan,
        provider: generator,
        ...(job.lookahead !== undefined ? { lookahead: job.lookahead } : {}),
        ...(job.shotConcurrency !== undefined ? { shotConcurrency: job.shotConcurrency } : {}),
        onWarnings: (warnings) => post({ type: 'warnings', warnings }),
      }),
    );
  const embedder =
    job.embedder === 'builtin' && generator.kind !== 'builtin' ? model({ builtin: {} }, 'embedder') : generator;
  const resume = job.resume
    ? loadAugPeResume(runsDir(job.root), job.resume, {
        dataset: job.dataset,
        plan: job.plan,
        provider: generator,
        embedder,
      })
    : undefined;
  return withError(
    await runAugPe({ ...common, ...(resume ? { resume } : {}), plan: job.plan, provider: generator, embedder }),
  );
}

main().then(
  (result) => post({ type: 'result', result }),
  (e: unknown) => post({ type: 'error', error: serializeError(e) }),
);
