/**
 * The worker's side of the host's ledger and models: objects with the ledger's and a provider's interfaces whose
 * every method is a `call` to the host (core/worker/protocol.ts). The run cannot tell them from the real ones: the
 * same results, and the same error classes (a budget refusal, a ProviderError with its code, an AbortError).
 */
import type { z } from 'zod';
import type { LedgerDataset, Reservation, RunLedger, RunPlan, Usage as LedgerUsage } from '../ledger';
import { abortReason, type ProviderError } from '../providers/errors';
import type { NextTokensRequest, Provider, Usage } from '../providers/types';
import { ZERO_USAGE } from '../runs/usage';
import { answerSchemas, parseOrThrow, reviveError, type HostCall, type ModelRef } from './protocol';

/** Sends one call to the host; resolves with its answer and the host model's usage since the job started. */
export type HostCaller = (call: HostCall) => Promise<{ value: unknown; usage: Usage }>;

const answer = <T>(schema: z.ZodType<T>, v: unknown): T => parseOrThrow(schema, v, 'the worker');

/** The host's ledger. Reservations settle and abort through it too; the ledger file is written by the host only. */
export function remoteLedger(root: string, call: HostCaller): RunLedger {
  const close = async (method: 'settle' | 'abort', id: string, usage: LedgerUsage & { reason?: string }) =>
    answer(answerSchemas.closed, (await call({ to: 'ledger', method, id, usage: { ...usage } })).value);
  return {
    workspaceRoot: root,
    async reserve(ds: LedgerDataset, plan: RunPlan): Promise<Reservation> {
      const dataset = {
        identity: ds.identity,
        units: ds.units,
        ...(ds.unitColumn !== undefined ? { unitColumn: ds.unitColumn } : {}),
        byRecords: ds.records !== undefined,
      };
      const r = answer(answerSchemas.reserve, (await call({ to: 'ledger', method: 'reserve', dataset, plan })).value);
      return {
        ...r,
        settle: (usage) => close('settle', r.id, usage),
        abort: (usage) => close('abort', r.id, usage ?? {}),
      };
    },
    abort: (id, usage = {}) => close('abort', id, usage),
  };
}

/** Rejects as soon as `signal` aborts (the host's late answer is then ignored), else settles as `p`. */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  // A late answer (or failure) of a call that was given up is dropped, never an unhandled rejection in the worker.
  p.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const stop = () => reject(abortReason(signal));
    signal.addEventListener('abort', stop, { once: true });
    const done = () => signal.removeEventListener('abort', stop);
    p.then(
      (v) => (done(), resolve(v)),
      (e: unknown) => (done(), reject(e as Error)),
    );
  });
}

/** A model that lives in the host (a network provider with its key, or the editor's models). */
export function remoteProvider(
  to: 'generator' | 'embedder',
  info: Extract<ModelRef, { host: unknown }>['host'],
  call: HostCaller,
): Provider {
  let usage: Usage = { ...ZERO_USAGE };
  const run = async (c: HostCall, signal: AbortSignal | undefined): Promise<unknown> => {
    signal?.throwIfAborted();
    const r = await unlessAborted(call(c), signal);
    usage = r.usage;
    return r.value;
  };
  const strip = ({ signal: _signal, ...req }: NextTokensRequest) => req;
  const provider: Provider = {
    kind: info.kind,
    model: info.model,
    offline: info.offline,
    capabilities: async (signal) =>
      answer(answerSchemas.capabilities, await run({ to, method: 'capabilities' }, signal)),
    generate: async ({ signal, ...req }) =>
      answer(answerSchemas.generate, await run({ to, method: 'generate', req }, signal)),
    embed: async (texts, signal) => answer(answerSchemas.embed, await run({ to, method: 'embed', texts }, signal)),
    nextTokens: async (req) =>
      answer(answerSchemas.nextTokens, await run({ to, method: 'nextTokens', req: strip(req) }, req.signal)),
    usage: () => ({ ...usage }),
  };
  if (info.batch)
    provider.nextTokensBatch = async (reqs) => {
      const signal = reqs.find((r) => r.signal)?.signal;
      const v = answer(
        answerSchemas.nextTokensBatch,
        await run({ to, method: 'nextTokensBatch', reqs: reqs.map(strip) }, signal),
      );
      return v.map((e) => (e.ok ? e.value : (reviveError(e.error) as ProviderError)));
    };
  return provider;
}
