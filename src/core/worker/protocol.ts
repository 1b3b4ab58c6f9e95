/**
 * The one protocol between a run's host (the extension host; anything holding the ledger and the models) and the
 * worker thread that runs either algorithm (DP few-shot or Aug-PE) off the host's thread. Both sides validate every
 * message with these zod schemas, as the webview protocol does (src/shared/protocol.ts): a mismatch between the two
 * bundles, or a bug that posts the wrong shape, fails loudly at the boundary instead of deep inside a run.
 *
 * Who holds what (docs/ARCHITECTURE.md, "Runs off the host thread"):
 * - The HOST holds the ledger (the only `Ledger` of the run) and every model that needs a key or the editor (network
 *   providers, vscode.lm). The key never enters the worker.
 * - The WORKER holds the run: the dataset copy, the plan, the algorithm, the checkpoints, and the built-in model and
 *   embedder (CPU work, which is why there is a worker). It reaches the ledger and the host's models by `call`s.
 * - One cancel path (`cancel` → the run's AbortSignal), one progress path (`progress`), one end (`result` or `error`).
 *
 * Messages are structured clones: plain data, typed arrays (embeddings), no functions or class instances, so errors
 * travel as SerializedError and are rebuilt on the other side (reviveError) with the class the code branches on.
 */
import { z } from 'zod';
import type { AugPePlan, AugPeResult } from '../augpe';
import type { Dataset } from '../data';
import { UserError } from '../errors';
import type { FewShotPlan } from '../fewshot/plan';
import type { FewShotResult } from '../fewshot/run';
import { BudgetRefusal, isBudgetRefusal } from '../ledger/refusal';
import { MECHANISM_KINDS } from '../privacy/types';
import { isAbortError, ProviderError, type ProviderErrorCode } from '../providers/errors';
import type { Provider } from '../providers/types';
import { augPeTotalsShape } from '../../shared/protocol';

const count = z.number().int().nonnegative();
/** `z.custom` with a structural check: the value passes unchanged (no copy of a large dataset or plan). */
const shaped = <T>(check: z.ZodType) => z.custom<T>((v) => check.safeParse(v).success);

// ---------------------------------------------------------------------------------------------------------------
// Errors

export const serializedErrorSchema = z.object({
  /** budget: the ledger refused; provider: a model call failed (code says how); abort: cancelled; user: any other
   * UserError; internal: a bug or a crash. */
  kind: z.enum(['budget', 'provider', 'abort', 'user', 'internal']),
  message: z.string(),
  hint: z.string().optional(),
  code: z.string().optional(),
  details: z
    .object({
      provider: z.string().optional(),
      status: z.number().optional(),
      retryable: z.boolean().optional(),
      retryAfterMs: z.number().optional(),
      url: z.string().optional(),
    })
    .optional(),
});
export type SerializedError = z.infer<typeof serializedErrorSchema>;

export function serializeError(e: unknown): SerializedError {
  const hint = e instanceof UserError && e.hint ? { hint: e.hint } : {};
  if (isBudgetRefusal(e)) return { kind: 'budget', message: e.message, ...hint };
  if (e instanceof ProviderError)
    return { kind: 'provider', message: e.message, ...hint, code: e.code, details: { ...e.details } };
  if (isAbortError(e)) return { kind: 'abort', message: (e as Error).message };
  if (e instanceof UserError) return { kind: 'user', message: e.message, ...hint };
  return { kind: 'internal', message: e instanceof Error ? e.message : String(e) };
}

/** The error again, with the class the code on this side branches on (budget refusal, ProviderError, AbortError). */
export function reviveError(s: SerializedError): Error {
  switch (s.kind) {
    case 'budget':
      return new BudgetRefusal(s.message, s.hint);
    case 'provider':
      return new ProviderError((s.code ?? 'server') as ProviderErrorCode, s.message, s.hint, s.details ?? {});
    case 'abort':
      return new DOMException(s.message, 'AbortError');
    case 'user':
      return new UserError(s.message, s.hint);
    case 'internal':
      return new Error(s.message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The job: what the worker runs. Everything is public parameters or the private dataset; no key.

const datasetCheck = z.looseObject({
  file: z.string(),
  format: z.string(),
  columns: z.looseObject({ text: z.string(), label: z.string(), unit: z.string().optional() }),
  examples: z.array(z.object({ line: z.number().int(), text: z.string(), label: z.string(), unit: z.string() })),
  identity: z.object({ path: z.string(), contentSha256: z.string(), bytes: count }),
});

const chargeSchema = z.object({
  partition: z.string(),
  mechanism: z.looseObject({ kind: z.enum(MECHANISM_KINDS), sigma: z.number(), steps: z.number() }),
});
const runPlanSchema = z.object({
  algorithm: z.string(),
  charges: z.array(chargeSchema),
  note: z.string().optional(),
  group: z.string().optional(),
  guarantee: z.object({ epsilon: z.number(), delta: z.number() }).optional(),
});

const planCheck = (algorithm: string) =>
  z.looseObject({
    settings: z.looseObject({ epsilon: z.number(), delta: z.number() }),
    labels: z.array(z.looseObject({})),
    epsilonRun: z.number(),
    // DP few-shot reserves its count release first ('dp-few-shot:pool-counts'), then its token steps.
    ledgerPlan: runPlanSchema.extend({ algorithm: z.string().startsWith(algorithm) }),
  });

/** A model: the built-in one, made in the worker, or one that lives in the host and is reached by calls. */
export const modelRefSchema = z.union([
  z.object({ builtin: z.object({ model: z.string().optional() }) }),
  z.object({
    host: z.object({
      kind: z.string(),
      model: z.string(),
      offline: z.boolean(),
      /** The host's provider sends several nextTokens requests in one HTTP request. */
      batch: z.boolean(),
    }),
  }),
]);
export type ModelRef = z.infer<typeof modelRefSchema>;

const jobCommon = {
  dataset: shaped<Dataset>(datasetCheck),
  units: count,
  /** The workspace: checkpoints are written under it (the ledger's own root, held by the host). */
  root: z.string(),
  generator: modelRefSchema,
};

export const jobSchema = z.discriminatedUnion('algorithm', [
  z.object({
    algorithm: z.literal('dp-few-shot'),
    ...jobCommon,
    plan: shaped<FewShotPlan>(planCheck('dp-few-shot')),
    lookahead: z.number().int().positive().optional(),
    shotConcurrency: z.number().int().positive().optional(),
  }),
  z.object({
    algorithm: z.literal('aug-pe'),
    ...jobCommon,
    plan: shaped<AugPePlan>(planCheck('aug-pe')),
    /** 'builtin': the built-in embedder embeds the private rows (they stay on this machine); 'same': the generator. */
    embedder: z.enum(['same', 'builtin']),
    /** The id of a stopped run to continue (the host checked it first). */
    resume: z.string().optional(),
  }),
]);
export type RunJob = z.infer<typeof jobSchema>;
export type FewShotJob = Extract<RunJob, { algorithm: 'dp-few-shot' }>;
export type AugPeJob = Extract<RunJob, { algorithm: 'aug-pe' }>;

// ---------------------------------------------------------------------------------------------------------------
// Calls from the worker to the host: the ledger, and the host's models.

const ledgerDatasetSchema = z.object({
  identity: z.object({ path: z.string(), contentSha256: z.string(), bytes: count }),
  units: count,
  unitColumn: z.string().optional(),
  /** The run identifies the dataset by its records (ledger/identity.ts). They are not sent back: the host takes them
   * from its own copy of the job's dataset (the same rows), so private text crosses the thread once, in the job. */
  byRecords: z.boolean(),
});
const ledgerUsageSchema = z.object({
  used: z.array(chargeSchema).optional(),
  released: z.string().optional(),
  reason: z.string().optional(),
});
const chatMessageSchema = z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() });
/** A request without its AbortSignal (not cloneable): the host passes the run's own signal. */
export const generateRequestSchema = z.object({
  messages: z.array(chatMessageSchema).optional(),
  prompt: z.string().optional(),
  n: z.number().int().optional(),
  maxTokens: z.number().int(),
  temperature: z.number().optional(),
  stop: z.array(z.string()).optional(),
});
export const nextTokensRequestSchema = z.object({
  prompt: z.string(),
  continuation: z.string(),
  topK: z.number().int(),
  positions: z.number().int(),
  candidates: z.array(z.string()).optional(),
});

export const hostCallSchema = z.union([
  z.object({
    to: z.literal('ledger'),
    method: z.literal('reserve'),
    dataset: ledgerDatasetSchema,
    plan: runPlanSchema,
  }),
  z.object({
    to: z.literal('ledger'),
    method: z.enum(['settle', 'abort']),
    id: z.string(),
    usage: ledgerUsageSchema,
  }),
  z.object({ to: z.enum(['generator', 'embedder']), method: z.literal('capabilities') }),
  z.object({ to: z.enum(['generator', 'embedder']), method: z.literal('generate'), req: generateRequestSchema }),
  z.object({ to: z.enum(['generator', 'embedder']), method: z.literal('embed'), texts: z.array(z.string()) }),
  z.object({ to: z.enum(['generator', 'embedder']), method: z.literal('nextTokens'), req: nextTokensRequestSchema }),
  z.object({
    to: z.enum(['generator', 'embedder']),
    method: z.literal('nextTokensBatch'),
    reqs: z.array(nextTokensRequestSchema),
  }),
]);
export type HostCall = z.infer<typeof hostCallSchema>;

/** What each call answers (checked in the worker before the run sees it). */
export const usageSchema = z.object({
  calls: count,
  inputTokens: count,
  outputTokens: count,
  cost: z.number(),
  retries: count.optional(),
  estimated: z.boolean().optional(),
});
const nextTokensResultSchema = z.object({
  steps: z.array(z.object({ token: z.string(), top: z.array(z.object({ token: z.string(), logprob: z.number() })) })),
});
export const answerSchemas = {
  reserve: z.object({
    id: z.string(),
    line: z.number().int(),
    epsilonRun: z.number(),
    spentAfter: z.number(),
    total: z.object({
      epsilon: z.number(),
      delta: z.number(),
      source: z.enum(['default', 'pinned-default', 'user']),
      line: z.number().int().optional(),
    }),
  }),
  closed: z.object({ id: z.string(), line: z.number().int(), exceededReservation: z.boolean() }),
  capabilities: z.object({
    nextTokenLogprobs: z
      .object({
        maxTopK: z.number().int(),
        mode: z.enum(['completions', 'assistant-prefill', 'chat-continuation', 'native']),
        logitBias: z.boolean(),
        logprobTemperature: z.number().optional(),
      })
      .nullable(),
    generate: z.boolean(),
    embed: z.boolean(),
    notes: z.array(z.string()),
    server: z.string().optional(),
    embedDimensions: z.number().int().optional(),
  }),
  generate: z.object({ texts: z.array(z.string()) }),
  embed: z.array(z.instanceof(Float32Array)),
  nextTokens: nextTokensResultSchema,
  /** One entry per request: its result, or the (settleable) error that request got on its own. */
  nextTokensBatch: z.array(
    z.union([
      z.object({ ok: z.literal(true), value: nextTokensResultSchema }),
      z.object({ ok: z.literal(false), error: serializedErrorSchema }),
    ]),
  ),
};

// ---------------------------------------------------------------------------------------------------------------
// The messages.

export const fewShotProgressSchema = z.object({
  label: z.string(),
  shot: count,
  text: z.string(),
  tokens: count,
  done: z.boolean(),
  calls: count,
  roundTrips: count,
  inputTokens: count,
  outputTokens: count,
  cost: z.number(),
});
export const augPeProgressSchema = z.object({
  phase: z.enum(['embed-private', 'initial', 'histogram', 'variations']),
  label: z.string().optional(),
  // The same figures the Synthesize view gets (a zod/mini shape: both builds share zod's core).
  ...augPeTotalsShape,
});

/** A result as it crosses: the run's error (if any) serialized. */
export type WorkerResult<R extends { error?: Error }> = Omit<R, 'error'> & { error?: SerializedError };
const resultCheck = z.looseObject({
  status: z.enum(['completed', 'cancelled', 'failed']),
  error: serializedErrorSchema.optional(),
  reservation: z.object({ id: z.string(), epsilonRun: z.number(), spentAfter: z.number() }),
  epsilonCharged: z.number(),
  checkpoint: z.string(),
  report: z.looseObject({ algorithm: z.enum(['dp-few-shot', 'aug-pe']) }),
});

export const fromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('progress'), progress: z.union([fewShotProgressSchema, augPeProgressSchema]) }),
  /** DP few-shot's warnings from the noisy pool counts (DP outputs), once, before any prompt is sent. */
  z.object({ type: z.literal('warnings'), warnings: z.array(z.string()) }),
  z.object({ type: z.literal('call'), id: count, call: hostCallSchema }),
  z.object({
    type: z.literal('result'),
    result: shaped<WorkerResult<FewShotResult> | WorkerResult<AugPeResult>>(resultCheck),
  }),
  z.object({ type: z.literal('error'), error: serializedErrorSchema }),
]);
export type FromWorker = z.infer<typeof fromWorkerSchema>;

export const toWorkerSchema = z.union([
  z.object({ type: z.literal('cancel') }),
  z.object({ type: z.literal('reply'), id: count, ok: z.literal(true), value: z.unknown(), usage: usageSchema }),
  z.object({
    type: z.literal('reply'),
    id: count,
    ok: z.literal(false),
    error: serializedErrorSchema,
    usage: usageSchema,
  }),
]);
export type ToWorker = z.infer<typeof toWorkerSchema>;

/** Parses or throws an internal error naming the side that rejected the message (a bug, never user input). */
export function parseOrThrow<T>(schema: z.ZodType<T>, data: unknown, where: string): T {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new Error(
    `${where}: a message does not match the worker protocol (${issue?.path.join('.')}: ${issue?.message})`,
  );
}

/** How a job names `provider`: the built-in model is made again in the worker; any other stays in the host (with its
 * key, or the editor's API) and is reached by calls. */
export function modelRefOf(provider: Pick<Provider, 'kind' | 'model' | 'offline' | 'nextTokensBatch'>): ModelRef {
  return provider.kind === 'builtin'
    ? { builtin: { model: provider.model } }
    : {
        host: {
          kind: provider.kind,
          model: provider.model,
          offline: provider.offline,
          batch: provider.nextTokensBatch !== undefined,
        },
      };
}
