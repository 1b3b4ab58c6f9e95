import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { planAugPe } from '../../src/core/augpe';
import type { AugPeProgress } from '../../src/core/augpe';
import { loadDataset, summarize } from '../../src/core/data';
import { Ledger, defaultAccountant } from '../../src/core/ledger';
import { epsilonFor } from '../../src/core/privacy';
import { createBuiltinProvider } from '../../src/core/providers/builtin';
import type { GenerateRequest, Provider } from '../../src/core/providers/types';
import { runInWorker, SynthProgressBoard, WorkerRunError, type WorkerInput } from '../../src/extension/panels/synthRun';
import { parseHostMessage } from '../../src/shared/protocol';
import { repoRoot } from '../support/cli';
import { tempDir, writeFile } from '../support/tmp';

const LABELS = ['card_arrival', 'exchange_rate'];

/**
 * The worker as the extension ships it: bundled by esbuild (the options of its entry in esbuild.config.mjs). A worker
 * thread does not get tsx's require hook, so the TypeScript source cannot run there directly.
 */
const bundleDir = tempDir('pfs-synth-bundle-');
let bundled: Promise<string> | undefined;
function workerBundle(): Promise<string> {
  bundled ??= (async () => {
    const out = path.join(bundleDir, 'augpe-worker.js');
    await build({
      entryPoints: [path.join(repoRoot, 'src', 'extension', 'panels', 'synthWorker.ts')],
      outfile: out,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node22',
      alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' },
      logLevel: 'silent',
    });
    return out;
  })();
  return bundled;
}

const ev = (
  phase: AugPeProgress['phase'],
  iteration: number,
  label?: string,
  histograms = 0,
  calls = 1,
): AugPeProgress => ({
  phase,
  iteration,
  iterations: 3,
  ...(label ? { label } : {}),
  histograms,
  completions: 2 * calls,
  calls,
  inputTokens: 10 * calls,
  outputTokens: calls,
  cost: 0.5 * calls,
});

test('progress board: every label moves through embedding, initial population, votes and variations; totals never go back', () => {
  const b = new SynthProgressBoard(
    [
      { label: 'a', count: 2 },
      { label: 'b', count: 3 },
    ],
    3,
  );
  const stages = () => b.snapshot(true).labels.map((r) => `${r.label}:${r.stage}:${r.iteration}`);
  assert.deepEqual(stages(), ['a:waiting:0', 'b:waiting:0']);
  assert.equal(b.snapshot(true).phase, 'starting');
  b.update(ev('embed-private', 0));
  assert.deepEqual(stages(), ['a:embedding:0', 'b:embedding:0']);
  b.update(ev('initial', 0));
  b.update(ev('initial', 0, 'b', 0, 4));
  assert.deepEqual(stages(), ['a:writing:0', 'b:written:0']);
  b.update(ev('initial', 0, 'a', 0, 5));
  b.update(ev('histogram', 1, undefined, 1, 6));
  assert.deepEqual(stages(), ['a:voting:1', 'b:voting:1']);
  b.update(ev('variations', 1, undefined, 1, 6));
  b.update(ev('variations', 1, 'a', 1, 9));
  assert.deepEqual(stages(), ['a:varied:1', 'b:varying:1']);
  // A report that arrives late with smaller totals does not move them back.
  b.update(ev('variations', 1, 'b', 1, 7));
  const m = b.take(true);
  assert.deepEqual(
    [m.phase, m.iteration, m.iterations, m.histograms, m.calls, m.completions, m.inputTokens, m.cost],
    ['variations', 1, 3, 1, 9, 18, 90, 4.5],
  );
  assert.equal(b.pending, false);
  // The message passes the protocol (the webview would reject anything else).
  assert.deepEqual(parseHostMessage(m), m);
  b.update(ev('histogram', 2, undefined, 2, 10));
  assert.equal(b.pending, true);
  b.finish('cancelled');
  assert.deepEqual(stages(), ['a:stopped:2', 'b:stopped:2']);
  const done = new SynthProgressBoard(
    [
      { label: 'a', count: 1 },
      { label: 'b', count: 1 },
    ],
    3,
  );
  done.update(ev('embed-private', 0));
  done.finish('completed');
  assert.deepEqual(
    done.snapshot(false).labels.map((r) => `${r.stage}:${r.iteration}`),
    ['done:3', 'done:3'],
  );
  const never = new SynthProgressBoard([{ label: 'a', count: 1 }], 3);
  never.finish('failed');
  assert.equal(never.snapshot(false).labels[0]!.stage, 'waiting', 'a label that never started is not "stopped"');
});

async function setup(settings: { count: number; iterations: number; epsilon: number }) {
  const root = tempDir('pfs-synth-worker-');
  writeFile(root, 'data.csv', readFileSync(`${repoRoot}/examples/banking77-sample.csv`));
  const ds = await loadDataset('data.csv', { root });
  const units = summarize(ds).units;
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  const target = { identity: ds.identity, units };
  const delta = (await ledger.status(target)).total.delta;
  const plan = planAugPe(ds, { labels: LABELS, delta, ...settings });
  const privateTexts = ds.examples.filter((e) => LABELS.includes(e.label)).map((e) => e.text);
  return { root, ds, units, ledger, target, plan, privateTexts };
}

test('a run in the worker thread (built-in provider): records, progress, and the ledger charged exactly the plan', async () => {
  const { root, ds, units, ledger, target, plan } = await setup({ count: 4, iterations: 2, epsilon: 1 });
  const seen: AugPeProgress[] = [];
  const input: WorkerInput = {
    dataset: ds,
    plan,
    units,
    root,
    generator: { config: { kind: 'builtin' } },
    embedder: 'builtin',
  };
  const result = await runInWorker({
    workerFile: await workerBundle(),
    input,
    signal: new AbortController().signal,
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
  assert.deepEqual(
    seen
      .filter((p) => p.label !== undefined)
      .map((p) => `${p.phase}:${p.iteration}:${p.label}`)
      .sort(),
    ['initial:0:card_arrival', 'initial:0:exchange_rate', 'variations:1:card_arrival', 'variations:1:exchange_rate'],
  );
  assert.equal(seen.at(-1)!.histograms, 2);
  const status = await ledger.status(target);
  assert.ok(Math.abs(status.spent - plan.epsilonRun) < 1e-9, `spent ${status.spent}, planned ${plan.epsilonRun}`);
  assert.ok(Math.abs(result.epsilonCharged - plan.epsilonRun) < 1e-9);
  assert.equal(result.report.provider.kind, 'builtin');
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
  const { root, ds, units, ledger, target, plan, privateTexts } = await setup({ count: 6, iterations: 5, epsilon: 2 });
  const host = hostGenerator();
  const controller = new AbortController();
  const seen: AugPeProgress[] = [];
  const input: WorkerInput = {
    dataset: ds,
    plan,
    units,
    root,
    generator: { host: { kind: 'vscode-lm', model: 'fake-host-model', offline: false } },
    embedder: 'builtin',
  };
  const result = await runInWorker({
    workerFile: await workerBundle(),
    input,
    hostGenerator: host.provider,
    signal: controller.signal,
    onProgress: (p) => {
      seen.push(p);
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
  for (const t of privateTexts) assert.ok(!sent.includes(t), 'a private row reached the generator');
  // The ledger: one histogram of σ charged, not the five reserved.
  const one = epsilonFor([{ kind: 'gaussian', sigma: plan.sigma, steps: 1 }], plan.settings.delta, 'gdp');
  const status = await ledger.status(target);
  assert.ok(one < plan.epsilonRun);
  assert.ok(Math.abs(status.spent - one) < 1e-9, `spent ${status.spent}, one histogram ${one}`);
  assert.ok(Math.abs(result.epsilonCharged - one) < 1e-9);
  const settled = readFileSync(path.join(root, '.private-fewshot', 'ledger.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { status?: string; charges?: { steps: number }[] })
    .filter((l) => l.status === 'settled');
  assert.deepEqual(
    settled.flatMap((l) => l.charges!.map((c) => c.steps)),
    [1, 1],
  );
});

test('errors from the worker come back as user errors (here: a generator that cannot embed with embedder "same")', async () => {
  const { root, ds, units, ledger, target, plan } = await setup({ count: 2, iterations: 1, epsilon: 1 });
  const host = hostGenerator();
  const input: WorkerInput = {
    dataset: ds,
    plan,
    units,
    root,
    generator: { host: { kind: 'vscode-lm', model: 'fake-host-model', offline: false } },
    embedder: 'same',
  };
  const err = await runInWorker({
    workerFile: await workerBundle(),
    input,
    hostGenerator: host.provider,
    signal: new AbortController().signal,
    onProgress: () => {},
  }).then(
    () => assert.fail('the run should have been refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkerRunError);
  assert.match(err.message, /returns no embeddings/);
  assert.equal(err.budget, false);
  // Refused before the reservation: nothing spent.
  assert.equal((await ledger.status(target)).spent, 0);
});
