/**
 * The host's side of a run in a worker thread (core/worker/protocol.ts says who holds what). The host keeps the
 * only ledger of the run and the models that need a key or the editor; it starts the worker, answers its calls,
 * forwards progress, turns its AbortSignal into the one `cancel` message, and rebuilds the result.
 *
 * Why a worker at all: the built-in model and Aug-PE's vote histograms are synchronous CPU work (docs/AUGPE.md,
 * docs/VOTING.md). On the extension host's thread they would freeze every extension and the panel's own Cancel.
 */
import { Worker } from 'node:worker_threads';
import type { AugPeProgress, AugPeResult } from '../augpe';
import { canonicalRecords } from '../data';
import { UserError } from '../errors';
import type { FewShotProgress, FewShotResult } from '../fewshot/run';
import type { Ledger, RunPlan, Usage as LedgerUsage } from '../ledger';
import type { Provider, Usage } from '../providers/types';
import { minusUsage, ZERO_USAGE } from '../runs/usage';
import {
  fromWorkerSchema,
  parseOrThrow,
  reviveError,
  serializeError,
  type AugPeJob,
  type FewShotJob,
  type FromWorker,
  type HostCall,
  type RunJob,
  type ToWorker,
} from './protocol';

interface Common {
  /** The worker's script: dist/run-worker.js in the extension; a bundle of core/worker/main.ts in tests. */
  workerFile: string | URL;
  /** The run's ledger: the only one (the worker reaches it by calls). */
  ledger: Ledger;
  /** The host's models, for a job whose generator (or embedder) is `{ host }`. They see what the worker sends. */
  models?: { generator?: Provider; embedder?: Provider };
  signal: AbortSignal;
}
export type FewShotWorkerRun = Common & {
  job: FewShotJob;
  onProgress: (p: FewShotProgress) => void;
  /** DP few-shot's warnings from the noisy pool counts (DP outputs). */
  onWarnings?: (warnings: string[]) => void;
};
export type AugPeWorkerRun = Common & { job: AugPeJob; onProgress: (p: AugPeProgress) => void };

/**
 * Runs the job in a worker thread. Cancel (the signal) becomes one message: the worker aborts its run, which settles
 * what ran and returns the partial result. A worker that dies (crash, out of memory) rejects the promise; a
 * reservation it made stays charged in full (the ledger's rule for a crash).
 */
export function runInWorker(o: FewShotWorkerRun): Promise<FewShotResult>;
export function runInWorker(o: AugPeWorkerRun): Promise<AugPeResult>;
export function runInWorker(o: FewShotWorkerRun | AugPeWorkerRun): Promise<FewShotResult | AugPeResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(o.workerFile, { workerData: o.job satisfies RunJob });
    // Usage is reported to the worker relative to the job's start (the provider may have probed the model before).
    const base = new Map<Provider, Usage>();
    for (const p of [o.models?.generator, o.models?.embedder]) if (p) base.set(p, p.usage());
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      o.signal.removeEventListener('abort', cancel);
      void worker.terminate();
      f();
    };
    const send = (m: ToWorker) => {
      if (!settled) worker.postMessage(m);
    };
    const cancel = () => send({ type: 'cancel' });
    if (o.signal.aborted) cancel();
    else o.signal.addEventListener('abort', cancel, { once: true });

    const answer = async (id: number, call: HostCall) => {
      const p =
        call.to === 'ledger'
          ? undefined
          : call.to === 'embedder'
            ? (o.models?.embedder ?? o.models?.generator)
            : o.models?.generator;
      const usage = (): Usage => (p ? { ...minusUsage(p.usage(), base.get(p) ?? ZERO_USAGE) } : { ...ZERO_USAGE });
      try {
        const value = await perform(o, call, p);
        send({ type: 'reply', id, ok: true, value, usage: usage() });
      } catch (e) {
        send({ type: 'reply', id, ok: false, error: serializeError(e), usage: usage() });
      }
    };

    worker.on('message', (data: unknown) => {
      let m: FromWorker;
      try {
        m = parseOrThrow(fromWorkerSchema, data, 'the host');
      } catch (e) {
        finish(() => reject(e as Error));
        return;
      }
      switch (m.type) {
        case 'progress':
          if (!settled) (o.onProgress as (p: unknown) => void)(m.progress);
          break;
        case 'warnings':
          if (!settled && 'onWarnings' in o) o.onWarnings?.(m.warnings);
          break;
        case 'call':
          void answer(m.id, m.call);
          break;
        case 'result': {
          const { error, ...rest } = m.result;
          const result = { ...rest, ...(error ? { error: reviveError(error) } : {}) };
          finish(() => resolve(result as FewShotResult | AugPeResult));
          break;
        }
        case 'error':
          finish(() => reject(reviveError(m.error)));
          break;
      }
    });
    worker.on('error', (e) => finish(() => reject(crashed(e.message))));
    worker.on('exit', (code) => finish(() => reject(crashed(`it exited with code ${code}`))));
  });
}

/** One call of the worker, on the host's ledger or model. Provider calls get the run's signal (Cancel). */
async function perform(o: FewShotWorkerRun | AugPeWorkerRun, c: HostCall, p: Provider | undefined): Promise<unknown> {
  // The call was validated with the message (fromWorkerSchema) before it reaches the ledger or a model. The schema
  // checks the shape; the ledger itself validates the charges (validatePlan) as for any caller.
  if (c.to === 'ledger') {
    if (c.method === 'reserve') {
      const { byRecords, ...target } = c.dataset;
      const ds = o.job.dataset;
      if (target.identity.contentSha256 !== ds.identity.contentSha256)
        throw new Error("the worker reserved for another dataset than its job's");
      const { id, line, epsilonRun, spentAfter, total } = await o.ledger.reserve(
        byRecords ? { ...target, records: canonicalRecords(ds) } : target,
        c.plan as RunPlan,
      );
      return { id, line, epsilonRun, spentAfter, total };
    }
    const usage = c.usage as LedgerUsage & { reason?: string };
    if (c.method === 'abort') return o.ledger.abort(c.id, usage);
    if (usage.released === undefined) throw new Error('settle needs the hash of what was released');
    return o.ledger.settle(c.id, { ...usage, released: usage.released });
  }
  if (!p) throw new Error(`the worker called the host's ${c.to}, but the host has none`);
  const signal = o.signal;
  switch (c.method) {
    case 'capabilities':
      return p.capabilities(signal);
    case 'generate':
      return p.generate({ ...c.req, signal });
    case 'embed':
      return p.embed(c.texts, signal);
    case 'nextTokens':
      return p.nextTokens({ ...c.req, signal });
    case 'nextTokensBatch': {
      if (!p.nextTokensBatch) throw new Error(`the host's ${c.to} cannot batch nextTokens requests`);
      const all = await p.nextTokensBatch(c.reqs.map((r) => ({ ...r, signal })));
      return all.map((r) => (r instanceof Error ? { ok: false, error: serializeError(r) } : { ok: true, value: r }));
    }
  }
}

function crashed(why: string): UserError {
  return new UserError(
    `the run's worker thread stopped unexpectedly (${why})`,
    'If it had reserved the budget, the reservation stays charged in full (.private-fewshot/ledger.jsonl). The Output panel "Private Few-Shot" may say more.',
  );
}
