import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { planAugPe, type AugPePlan, type AugPeProgress } from '../../../src/core/augpe';
import { canonicalRecords, loadDataset, summarize } from '../../../src/core/data';
import { UserError } from '../../../src/core/errors';
import { planFewShot, type FewShotPlan } from '../../../src/core/fewshot/plan';
import type { FewShotProgress } from '../../../src/core/fewshot/run';
import { Ledger, defaultAccountant, isBudgetRefusal } from '../../../src/core/ledger';
import { epsilonFor } from '../../../src/core/privacy';
import { createProvider, ProviderError } from '../../../src/core/providers';
import { createBuiltinProvider } from '../../../src/core/providers/builtin';
import { endpointProblem } from '../../../src/core/providers/endpoint';
import type { GenerateRequest, Provider } from '../../../src/core/providers/types';
import { runInWorker } from '../../../src/core/worker/host';
import {
  fromWorkerSchema,
  hostCallSchema,
  jobSchema,
  modelRefOf,
  toWorkerSchema,
  type AugPeJob,
  type FewShotJob,
} from '../../../src/core/worker/protocol';
import { repoRoot } from '../../support/cli';
import { startFakeServer, type FakeServer } from '../../support/fake-openai-server';
import { tempDir, writeFile } from '../../support/tmp';
import { runWorkerBundle } from '../../support/worker';

const LABELS = ['card_arrival', 'exchange_rate'];
const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** A workspace with the sample data, and a ledger whose every write the test sees (the host's: the only one). */
async function workspace() {
  const root = tempDir('pfs-worker-');
  writeFile(root, 'data.csv', readFileSync(`${repoRoot}/examples/banking77-sample.csv`));
  const ds = await loadDataset('data.csv', { root });
  const units = summarize(ds).units;
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  const writes: string[] = [];
  for (const m of ['reserve', 'settle', 'abort'] as const) {
    const original = ledger[m].bind(ledger) as (...a: unknown[]) => Promise<unknown>;
    (ledger as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
      writes.push(m);
      return original(...a);
    };
  }
  const target = { identity: ds.identity, units };
  const delta = (await ledger.status(target)).total.delta;
  const privateTexts = ds.examples.filter((e) => LABELS.includes(e.label)).map((e) => e.text);
  return { root, ds, units, ledger, writes, target, delta, privateTexts };
}

const builtin = { builtin: {} };
const never = new AbortController().signal;

type Workspace = Awaited<ReturnType<typeof workspace>>;
/** The job of a run on the workspace's dataset with the built-in model; `more` overrides or adds fields. */
const augPeJob = (w: Workspace, plan: AugPePlan, more: Partial<AugPeJob> = {}): AugPeJob => ({
  algorithm: 'aug-pe',
  dataset: w.ds,
  plan,
  units: w.units,
  root: w.root,
  generator: builtin,
  embedder: 'builtin',
  ...more,
});
const fewShotJob = (w: Workspace, plan: FewShotPlan, more: Partial<FewShotJob> = {}): FewShotJob => ({
  algorithm: 'dp-few-shot',
  dataset: w.ds,
  plan,
  units: w.units,
  root: w.root,
  generator: builtin,
  ...more,
});

test('Aug-PE in the worker: records and progress come back, and the host ledger (the only one) is charged exactly the plan', async () => {
  const w = await workspace();
  const plan = planAugPe(w.ds, { labels: LABELS, delta: w.delta, count: 4, iterations: 2, epsilon: 1 });
  const seen: AugPeProgress[] = [];
  const result = await runInWorker({
    workerFile: await runWorkerBundle(),
    job: augPeJob(w, plan),
    ledger: w.ledger,
    signal: never,
    onProgress: (p) => seen.push(p),
  });
  assert.equal(result.status, 'completed');
  assert.equal(result.histograms, 2);
  assert.deepEqual(
    result.records.map((r) => r.label),
    ['card_arrival', 'card_arrival', 'exchange_rate', 'exchange_rate'],
  );
  assert.ok(result.records.every((r) => typeof r.text === 'string' && r.text.length > 0));
  assert.deepEqual(
    seen.filter((p) => p.label === undefined).map((p) => `${p.phase}:${p.iteration}`),
    ['embed-private:0', 'initial:0', 'histogram:1', 'variations:1', 'histogram:2'],
  );
  assert.equal(seen.at(-1)!.histograms, 2);
  // The reservation and its settlement went through the host's ledger.
  assert.deepEqual(w.writes, ['reserve', 'settle']);
  // The host identified the dataset by its records (taken from its copy of the job's rows, not sent back).
  const reserved = readFileSync(path.join(w.root, '.private-fewshot', 'ledger.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { status?: string; dataset?: { records?: { count: number } } })
    .find((l) => l.status === 'reserved');
  assert.equal(reserved?.dataset?.records?.count, canonicalRecords(w.ds).length);
  const status = await w.ledger.status(w.target);
  assert.ok(Math.abs(status.spent - plan.epsilonRun) < 1e-9, `spent ${status.spent}, planned ${plan.epsilonRun}`);
  assert.ok(Math.abs(result.epsilonCharged - plan.epsilonRun) < 1e-9);
  assert.equal(result.report.provider.kind, 'builtin');
});

test('DP few-shot in the worker: demonstrations, progress and the noisy-count warnings come back; two reservations settle on the host', async () => {
  const w = await workspace();
  const plan = planFewShot(w.ds, { labels: LABELS, shots: 1, epsilon: 3, delta: w.delta, maxTokens: 6, prompts: 4 });
  const seen: FewShotProgress[] = [];
  let warned: string[] = [];
  const result = await runInWorker({
    workerFile: await runWorkerBundle(),
    job: fewShotJob(w, plan),
    ledger: w.ledger,
    signal: never,
    onProgress: (p) => seen.push(p),
    onWarnings: (ws) => (warned = ws),
  });
  // The warnings the run reports (from the noisy counts; with M = 4 prompts the noise std σ·√2/M is always over the
  // weak-signal line) reached the host's callback.
  assert.ok(result.warnings.some((x) => /weak signal/.test(x)));
  assert.deepEqual(warned, result.warnings);
  assert.equal(result.status, 'completed');
  assert.deepEqual(
    result.demonstrations.map((d) => d.label),
    LABELS,
  );
  assert.ok(seen.some((p) => p.done && p.label === 'card_arrival'));
  assert.ok(seen.every((p) => LABELS.includes(p.label)));
  // The noisy pool-count release, then the token steps: both on the host's ledger.
  assert.deepEqual(w.writes, ['reserve', 'settle', 'reserve', 'settle']);
  const status = await w.ledger.status(w.target);
  assert.ok(Math.abs(status.spent - result.epsilonCharged) < 1e-9, `spent ${status.spent} vs ${result.epsilonCharged}`);
  assert.ok(result.epsilonCharged <= plan.settings.epsilon + 1e-9);
  assert.equal(result.counts.noisy.length, LABELS.length);
});

test('Cancel is one message for either algorithm: a DP few-shot run stopped after its first demonstration keeps it and is charged less', async () => {
  const w = await workspace();
  // 20 shots a label (3 before): the cancel, posted by the host at the first finished demonstration, must reach the
  // worker before it writes the rest, now 39 demonstrations of 8 tokens instead of 5.
  const plan = planFewShot(w.ds, { labels: LABELS, shots: 20, epsilon: 3, delta: w.delta, maxTokens: 8, prompts: 4 });
  const controller = new AbortController();
  const result = await runInWorker({
    workerFile: await runWorkerBundle(),
    job: fewShotJob(w, plan, { shotConcurrency: 1 }),
    ledger: w.ledger,
    signal: controller.signal,
    onProgress: (p) => {
      if (p.done) controller.abort();
    },
  });
  assert.equal(result.status, 'cancelled');
  assert.ok(result.demonstrations.length >= 1 && result.demonstrations.length < 40);
  // The steps settled are the started demonstrations' (× T_max), fewer than the 40 planned; both figures below the
  // plan's ε (the result states its ε at the run's δ, the ledger at its own: not compared to each other here).
  const status = await w.ledger.status(w.target);
  const steps = status.runs[1]!.charges.reduce((n, c) => n + c.steps, 0);
  const planned = status.runs[1]!.planned.reduce((n, c) => n + c.steps, 0);
  assert.equal(planned, 40 * 8);
  assert.ok(steps >= 8 && steps < planned, `${steps} of ${planned} steps`);
  assert.ok(status.spent < plan.settings.epsilon, `spent ${status.spent}`);
  assert.ok(result.epsilonCharged <= plan.settings.epsilon + 1e-9);
  assert.deepEqual(w.writes, ['reserve', 'settle', 'reserve', 'settle']);
});

/** A generator that lives in the host (like vscode.lm): records every request; from `hold` on it waits for the cancel.
 * */
function hostGenerator() {
  const inner = createBuiltinProvider();
  const requests: GenerateRequest[] = [];
  const state = { hold: false };
  const provider: Provider = {
    kind: 'vscode-lm',
    model: 'fake-host-model',
    offline: false,
    capabilities: async () => ({ nextTokenLogprobs: null, generate: true, embed: false, notes: [] }),
    nextTokens: () => Promise.reject(new Error('not used')),
    generate: async (r) => {
      requests.push(r);
      if (state.hold) {
        // Blocks until the run is cancelled: the worker cannot get past this iteration's variations.
        await new Promise((_, reject) => {
          if (r.signal?.aborted) reject(r.signal.reason);
          r.signal?.addEventListener('abort', () => reject(r.signal!.reason), { once: true });
        });
      }
      return inner.generate({ ...r, signal: undefined });
    },
    embed: () => Promise.reject(new Error('this generator has no embeddings')),
    usage: () => inner.usage(),
  };
  return { provider, requests, state };
}

test('a host-side generator reached from the worker sees no private text; Cancel after the first histogram charges exactly one', async () => {
  const w = await workspace();
  const plan = planAugPe(w.ds, { labels: LABELS, delta: w.delta, count: 6, iterations: 5, epsilon: 2 });
  const host = hostGenerator();
  const controller = new AbortController();
  const result = await runInWorker({
    workerFile: await runWorkerBundle(),
    job: augPeJob(w, plan, { generator: modelRefOf(host.provider) }),
    ledger: w.ledger,
    models: { generator: host.provider },
    signal: controller.signal,
    onProgress: (p) => {
      // The worker reports the histogram before computing it; from here on the host generator waits for the cancel.
      if (p.phase === 'histogram' && p.iteration === 1) {
        host.state.hold = true;
        controller.abort();
      }
    },
  });
  assert.equal(result.status, 'cancelled');
  assert.equal(result.histograms, 1);
  assert.equal(result.records.length, 6, 'the selection of the first histogram is released');
  assert.ok(host.requests.length > 0);
  const sent = host.requests
    .map((r) => [...(r.messages ?? []).map((m) => m.content), r.prompt ?? ''].join('\n'))
    .join('\n');
  for (const t of w.privateTexts) assert.ok(!sent.includes(t), 'a private row reached the generator');
  // The ledger: one histogram of σ charged, not the five reserved.
  const one = epsilonFor([{ kind: 'gaussian', sigma: plan.sigma, steps: 1 }], plan.settings.delta, 'gdp');
  const status = await w.ledger.status(w.target);
  assert.ok(one < plan.epsilonRun);
  assert.ok(Math.abs(status.spent - one) < 1e-9, `spent ${status.spent}, one histogram ${one}`);
  assert.ok(Math.abs(result.epsilonCharged - one) < 1e-9);
  const settled = readFileSync(path.join(w.root, '.private-fewshot', 'ledger.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { status?: string; charges?: { steps: number }[] })
    .filter((l) => l.status === 'settled');
  assert.deepEqual(
    settled.flatMap((l) => l.charges!.map((c) => c.steps)),
    [1, 1],
  );
});

test('a network model stays in the host with its key: the job holds no key, and its errors come back as ProviderErrors with their code', async () => {
  const key = 'sk-test-worker-0123456789';
  const s = await startFakeServer({ flavour: 'vllm', apiKey: key });
  servers.push(s);
  const w = await workspace();
  const plan = planFewShot(w.ds, { labels: LABELS, shots: 1, epsilon: 3, delta: w.delta, maxTokens: 6, prompts: 4 });
  const provider = createProvider({
    kind: 'openai',
    model: 'fake',
    baseURL: s.baseURL,
    apiKey: key,
    probeCache: new Map(),
  });
  const job = fewShotJob(w, plan, { generator: modelRefOf(provider) });
  assert.ok(!JSON.stringify(job).includes(key), 'the key never enters the worker');
  assert.deepEqual(job.generator, { host: { kind: 'openai', model: 'fake', offline: false, batch: true } });
  const result = await runInWorker({
    workerFile: await runWorkerBundle(),
    job,
    ledger: w.ledger,
    models: { generator: provider },
    signal: never,
    onProgress: () => {},
  });
  assert.equal(result.status, 'completed');
  assert.equal(result.demonstrations.length, 2);
  // Usage as the host's provider counted it, and one list of prompts per label and step (nextTokensBatch crossed).
  assert.equal(result.report.usage.calls, s.requests.length);
  assert.ok(s.requests.some((q) => q.path === '/v1/completions' && Array.isArray(q.body.prompt)));

  // A wrong key: the 401 becomes ProviderError "auth" in the worker and again in the host (the panel's endpoint
  // buttons depend on it); nothing was reserved.
  const w2 = await workspace();
  const wrong = createProvider({
    kind: 'openai',
    model: 'fake',
    baseURL: s.baseURL,
    apiKey: 'sk-wrong',
    probeCache: new Map(),
  });
  const failed = await runInWorker({
    workerFile: await runWorkerBundle(),
    job: fewShotJob(w2, plan, { generator: modelRefOf(wrong) }),
    ledger: w2.ledger,
    models: { generator: wrong },
    signal: never,
    onProgress: () => {},
  }).then(
    (r) => r.error,
    (e: unknown) => e,
  );
  assert.ok(failed instanceof ProviderError, String(failed));
  assert.equal(failed.code, 'auth');
  assert.equal(endpointProblem(failed)?.code, 'auth');
});

test('errors from the worker come back as user errors (a generator that cannot embed with embedder "same"), nothing spent', async () => {
  const w = await workspace();
  const plan = planAugPe(w.ds, { labels: LABELS, delta: w.delta, count: 2, iterations: 1, epsilon: 1 });
  const host = hostGenerator();
  const err = await runInWorker({
    workerFile: await runWorkerBundle(),
    job: augPeJob(w, plan, { generator: modelRefOf(host.provider), embedder: 'same' }),
    ledger: w.ledger,
    models: { generator: host.provider },
    signal: never,
    onProgress: () => {},
  }).then(
    () => assert.fail('the run should have been refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UserError);
  assert.match(err.message, /returns no embeddings/);
  assert.equal(isBudgetRefusal(err), false);
  assert.equal((await w.ledger.status(w.target)).spent, 0);
  assert.deepEqual(w.writes, []);
});

test("the ledger's refusal inside the worker comes back as a budget refusal (the panel offers Set Privacy Budget…)", async () => {
  const w = await workspace();
  await w.ledger.setTotal(w.target, { epsilon: 0.5 });
  const plan = planAugPe(w.ds, { labels: LABELS, delta: w.delta, count: 2, iterations: 1, epsilon: 1 });
  const err = await runInWorker({
    workerFile: await runWorkerBundle(),
    job: augPeJob(w, plan),
    ledger: w.ledger,
    signal: never,
    onProgress: () => {},
  }).then(
    () => assert.fail('the ledger should have refused'),
    (e: unknown) => e,
  );
  assert.ok(isBudgetRefusal(err), String(err));
  assert.match((err as Error).message, /over its total ε = 0\.5/);
  assert.equal((await w.ledger.status(w.target)).spent, 0);
});

test('the protocol rejects what it does not know, on both sides', async () => {
  const w = await workspace();
  const plan = planAugPe(w.ds, { labels: LABELS, delta: w.delta, count: 2, iterations: 1, epsilon: 1 });
  const job = augPeJob(w, plan);
  assert.equal(jobSchema.safeParse(job).success, true);
  // A plan of the other algorithm, a dataset without rows' text, an embedder that does not exist, a key-bearing config.
  assert.equal(jobSchema.safeParse({ ...job, algorithm: 'dp-few-shot' }).success, false);
  assert.equal(
    jobSchema.safeParse({ ...job, dataset: { ...w.ds, examples: [{ line: 1, label: 'a', unit: 'u' }] } }).success,
    false,
  );
  assert.equal(jobSchema.safeParse({ ...job, embedder: 'remote' }).success, false);
  assert.equal(
    jobSchema.safeParse({ ...job, generator: { config: { kind: 'openai', apiKey: 'sk-x' } } }).success,
    false,
  );
  // Calls: only the ledger's reserve/settle/abort and the provider methods.
  assert.equal(hostCallSchema.safeParse({ to: 'ledger', method: 'setTotal', epsilon: 100 }).success, false);
  assert.equal(hostCallSchema.safeParse({ to: 'generator', method: 'embed', texts: ['x'] }).success, true);
  assert.equal(fromWorkerSchema.safeParse({ type: 'progress', progress: { phase: 'voting' } }).success, false);
  assert.equal(
    toWorkerSchema.safeParse({ type: 'reply', id: 1, ok: true, value: 1 }).success,
    false,
    'usage is required',
  );
  assert.equal(toWorkerSchema.safeParse({ type: 'cancel' }).success, true);
});
