// The Synthesize panel's run machinery without vscode (unit-tested in plain Node): the per-label progress board, and
// the host side of the Aug-PE worker thread (start, cancel, progress, calls to a host-only generator, result).
//
// Why a worker: the vote histogram (docs/AUGPE.md: ~6 s per iteration at 10k × 1k) and the built-in model are
// synchronous CPU work. In the extension host they would freeze every extension and the panel's own Cancel; in a
// worker_threads Worker the host only forwards messages. The worker is one more esbuild entry (dist/augpe-worker.js).
import { Worker } from 'node:worker_threads';
import type { AugPePlan, AugPeProgress, AugPeResult } from '../../core/augpe';
import type { Dataset } from '../../core/data';
import { UserError } from '../../core/errors';
import type { ProviderConfig } from '../../core/providers';
import type { Capabilities, GenerateRequest, Provider, Usage } from '../../core/providers/types';
import type { HostMessage, SynthLabelRow } from '../../shared/protocol';

// ---------------------------------------------------------------------------------------------------------------
// Messages between the host and the worker (structured clone: plain data only).

/** What the worker needs: everything is plain data; the key (if any) stays inside this process. */
export interface WorkerInput {
  dataset: Dataset;
  plan: AugPePlan;
  units: number;
  /** Where the ledger (and the checkpoints) live. */
  root: string;
  /** A core provider the worker builds itself, or one that lives only in the host (vscode.lm), reached by calls. */
  generator: { config: ProviderConfig } | { host: { kind: string; model: string; offline: boolean } };
  /** 'builtin': the built-in embedder embeds the private rows (they stay on this machine). */
  embedder: 'same' | 'builtin';
  /** The per-user record index folder (core/ledger/record-index.ts), when the host has one. */
  indexDir?: string;
  /** The id of a stopped run to continue (core/augpe/run.ts loadAugPeResume; the host checked it first). */
  resume?: string;
}

export type HostCall =
  | { method: 'capabilities' }
  | { method: 'generate'; req: Omit<GenerateRequest, 'signal'> }
  | { method: 'embed'; texts: string[] };

export interface SerializedError {
  message: string;
  hint?: string;
  /** 'budget': the ledger refused the reservation; 'user': any other UserError; 'internal': a bug or a crash. */
  kind: 'budget' | 'user' | 'internal';
}

export type WorkerResult = Omit<AugPeResult, 'error'> & { error?: SerializedError };

export type FromWorker =
  | { type: 'progress'; progress: AugPeProgress }
  | { type: 'call'; id: number; call: HostCall }
  | { type: 'result'; result: WorkerResult }
  | { type: 'error'; error: SerializedError };

export type ToWorker =
  | { type: 'cancel' }
  | { type: 'reply'; id: number; ok: true; value: unknown; usage: Usage }
  | { type: 'reply'; id: number; ok: false; error: SerializedError; usage: Usage };

export function serializeError(e: unknown, budget: (e: unknown) => boolean = () => false): SerializedError {
  if (budget(e))
    return {
      kind: 'budget',
      message: (e as UserError).message,
      ...((e as UserError).hint ? { hint: (e as UserError).hint } : {}),
    };
  if (e instanceof UserError) return { kind: 'user', message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  return { kind: 'internal', message: e instanceof Error ? e.message : String(e) };
}

/** An error from the worker, rebuilt in the host. `budget` marks the ledger's refusal (the view offers Set Privacy
 * Budget…). */
export class WorkerRunError extends UserError {
  constructor(readonly detail: SerializedError) {
    super(detail.message, detail.hint);
    this.name = 'WorkerRunError';
  }
  get budget(): boolean {
    return this.detail.kind === 'budget';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The host side of the worker.

export interface WorkerRunOptions {
  /** The worker's script: dist/augpe-worker.js in the extension, the .ts source in tests (run under tsx). */
  workerFile: string | URL;
  input: WorkerInput;
  /** The generator when it lives in the host (`input.generator.host`). It sees what the worker sends: synthetic text
   * only. */
  hostGenerator?: Provider;
  signal: AbortSignal;
  onProgress: (p: AugPeProgress) => void;
}

/**
 * Runs Aug-PE in a worker thread. Cancel (the signal) is forwarded as a message: the worker aborts its run, which
 * settles the histograms that ran and returns the last selection. A worker that dies (crash, out of memory) rejects
 * the promise; a reservation it made stays charged in full (the ledger's rule for a crash).
 */
export function runInWorker(o: WorkerRunOptions): Promise<WorkerResult> {
  return new Promise<WorkerResult>((resolve, reject) => {
    const worker = new Worker(o.workerFile, { workerData: o.input });
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      o.signal.removeEventListener('abort', cancel);
      void worker.terminate();
      f();
    };
    const cancel = () => worker.postMessage({ type: 'cancel' } satisfies ToWorker);
    if (o.signal.aborted) cancel();
    else o.signal.addEventListener('abort', cancel, { once: true });

    const answer = async (id: number, call: HostCall) => {
      const p = o.hostGenerator;
      const usage = () => p?.usage() ?? { calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 };
      try {
        if (!p) throw new Error('the worker asked for a host generator that was not given');
        const value =
          call.method === 'capabilities'
            ? await p.capabilities(o.signal)
            : call.method === 'generate'
              ? await p.generate({ ...call.req, signal: o.signal })
              : await p.embed(call.texts, o.signal);
        if (!settled) worker.postMessage({ type: 'reply', id, ok: true, value, usage: usage() } satisfies ToWorker);
      } catch (e) {
        if (!settled)
          worker.postMessage({
            type: 'reply',
            id,
            ok: false,
            error: serializeError(e),
            usage: usage(),
          } satisfies ToWorker);
      }
    };

    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'progress':
          if (!settled) o.onProgress(m.progress);
          break;
        case 'call':
          void answer(m.id, m.call);
          break;
        case 'result':
          finish(() => resolve(m.result));
          break;
        case 'error':
          finish(() => reject(new WorkerRunError(m.error)));
          break;
      }
    });
    worker.on('error', (e) => finish(() => reject(crashed(e.message))));
    worker.on('exit', (code) => finish(() => reject(crashed(`it exited with code ${code}`))));
  });
}

function crashed(why: string): WorkerRunError {
  return new WorkerRunError({
    kind: 'internal',
    message: `the Aug-PE worker stopped unexpectedly (${why})`,
    hint: 'If it had reserved the budget, the reservation stays charged in full (.private-fewshot/ledger.jsonl). The Output panel "Private Few-Shot" may say more.',
  });
}

/** A Provider in the worker whose calls run in the host (vscode.lm exists only there). */
export function hostProvider(
  info: { kind: string; model: string; offline: boolean },
  call: (c: HostCall) => Promise<{ value: unknown; usage: Usage }>,
): Provider {
  let usage: Usage = { calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 };
  const run = async <T>(c: HostCall, signal?: AbortSignal): Promise<T> => {
    signal?.throwIfAborted();
    const r = await call(c);
    usage = r.usage;
    return r.value as T;
  };
  return {
    kind: info.kind,
    model: info.model,
    offline: info.offline,
    capabilities: (signal) => run<Capabilities>({ method: 'capabilities' }, signal),
    nextTokens: () => Promise.reject(new UserError('Aug-PE does not use next-token probabilities')),
    generate: ({ signal, ...req }) => run({ method: 'generate', req }, signal),
    embed: (texts, signal) => run({ method: 'embed', texts }, signal),
    usage: () => ({ ...usage }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Progress: one row per label, and the run's totals.

export type SynthProgressMessage = Extract<HostMessage, { type: 'synthProgress' }>;

/**
 * Turns the core's AugPeProgress reports into the view's state. Transitions (run.ts reports them in this order):
 * embed-private → every label "embedding"; initial → "writing", then each label "written" as its population is
 * done; histogram t → every label "voting" (one joint histogram); variations t → "varying", then each label "varied";
 * at the end "done" (completed) or "stopped".
 */
export class SynthProgressBoard {
  private readonly rows: SynthLabelRow[];
  private readonly byLabel = new Map<string, SynthLabelRow>();
  private last: AugPeProgress | undefined;
  private changed = true;

  constructor(
    labels: readonly { label: string; count: number }[],
    readonly iterations: number,
  ) {
    this.rows = labels.map((l) => ({ label: l.label, count: l.count, stage: 'waiting', iteration: 0 }));
    for (const r of this.rows) this.byLabel.set(r.label, r);
  }

  update(p: AugPeProgress): void {
    // Usage only grows; a report cannot take the totals back.
    if (this.last) {
      p = {
        ...p,
        calls: Math.max(p.calls, this.last.calls),
        inputTokens: Math.max(p.inputTokens, this.last.inputTokens),
        outputTokens: Math.max(p.outputTokens, this.last.outputTokens),
        cost: Math.max(p.cost, this.last.cost),
        completions: Math.max(p.completions, this.last.completions),
        histograms: Math.max(p.histograms, this.last.histograms),
      };
    }
    this.last = p;
    this.changed = true;
    const one = p.label === undefined ? undefined : this.byLabel.get(p.label);
    const set = (rows: SynthLabelRow[], stage: SynthLabelRow['stage']) => {
      for (const r of rows) {
        r.stage = stage;
        r.iteration = p.iteration;
      }
    };
    switch (p.phase) {
      case 'embed-private':
        set(this.rows, 'embedding');
        break;
      case 'initial':
        if (one) set([one], 'written');
        else
          set(
            this.rows.filter((r) => r.stage !== 'written'),
            'writing',
          );
        break;
      case 'histogram':
        set(this.rows, 'voting');
        break;
      case 'variations':
        if (one) set([one], 'varied');
        else set(this.rows, 'varying');
        break;
    }
  }

  /** The end of the run: a completed run's labels are done; otherwise what had started is marked stopped. */
  finish(status: 'completed' | 'cancelled' | 'failed'): void {
    this.changed = true;
    for (const r of this.rows) {
      if (status === 'completed') {
        r.stage = 'done';
        r.iteration = this.iterations;
      } else if (r.stage !== 'waiting') r.stage = 'stopped';
    }
  }

  get pending(): boolean {
    return this.changed;
  }

  /** The whole state (it is small: one row per label); clears `pending`. */
  take(running: boolean): SynthProgressMessage {
    this.changed = false;
    return this.snapshot(running);
  }

  snapshot(running: boolean): SynthProgressMessage {
    const p = this.last;
    return {
      type: 'synthProgress',
      running,
      phase: p?.phase ?? 'starting',
      iteration: p?.iteration ?? 0,
      iterations: this.iterations,
      histograms: p?.histograms ?? 0,
      completions: p?.completions ?? 0,
      calls: p?.calls ?? 0,
      inputTokens: p?.inputTokens ?? 0,
      outputTokens: p?.outputTokens ?? 0,
      cost: p?.cost ?? 0,
      labels: this.rows.map((r) => ({ ...r })),
    };
  }
}
