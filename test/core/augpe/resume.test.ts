import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadDataset, summarize, type Dataset } from '../../../src/core/data';
import { planAugPe, type AugPeSettings } from '../../../src/core/augpe/plan';
import { loadAugPeResume, runAugPe, type AugPeRunOptions, type AugPeState } from '../../../src/core/augpe/run';
import { Ledger, defaultAccountant } from '../../../src/core/ledger';
import { createBuiltinProvider } from '../../../src/core/providers/builtin';
import { runsDir } from '../../../src/core/runs/checkpoint';
import { stateFile } from '../../../src/core/runs/state';
import { seededRandom } from '../../support/rng';
import { tempDir, writeFile } from '../../support/tmp';
import { repoRoot } from '../../support/cli';

const LABELS = ['card_arrival', 'exchange_rate'];
const seeded = (seed: string) => (stream: string) => seededRandom(`${seed}/${stream}`);
const T = 4;

async function setup(): Promise<{ root: string; ds: Dataset; units: number; ledger: Ledger; delta: number }> {
  const root = tempDir('pfs-resume-');
  writeFile(root, 'data.csv', readFileSync(`${repoRoot}/examples/banking77-sample.csv`));
  const ds = await loadDataset('data.csv', { root });
  const units = summarize(ds).units;
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  const delta = (await ledger.status({ identity: ds.identity, units })).total.delta;
  return { root, ds, units, ledger, delta };
}

function settings(delta: number, o: Partial<AugPeSettings> = {}): AugPeSettings {
  return { labels: LABELS, count: 6, epsilon: 3, delta, iterations: T, ...o };
}

async function options(
  env: Awaited<ReturnType<typeof setup>>,
  seed: string,
  o: Partial<AugPeSettings> = {},
): Promise<AugPeRunOptions> {
  return {
    dataset: env.ds,
    plan: planAugPe(env.ds, settings(env.delta, o)),
    provider: createBuiltinProvider(),
    ledger: env.ledger,
    units: env.units,
    random: seeded(seed),
  };
}

/** Stops the run between iterations: once histogram `after` is selected and its variations begin. */
function stopAfter(after: number): { signal: AbortSignal; onProgress: AugPeRunOptions['onProgress'] } {
  const c = new AbortController();
  return {
    signal: c.signal,
    onProgress: (p) => {
      if (p.phase === 'variations' && p.iteration === after) c.abort();
    },
  };
}

const spent = async (env: Awaited<ReturnType<typeof setup>>) =>
  (await env.ledger.status({ identity: env.ds.identity, units: env.units })).spent;

test('a run stopped between iterations resumes to the same histograms and the same charge as one uninterrupted run', async () => {
  const whole = await setup();
  const uninterrupted = await runAugPe(await options(whole, 'whole'));
  assert.equal(uninterrupted.status, 'completed');
  assert.equal(uninterrupted.histograms, T);

  const env = await setup();
  const first = await runAugPe({ ...(await options(env, 'first')), ...stopAfter(2) });
  assert.equal(first.status, 'cancelled');
  assert.equal(first.histograms, 2);
  const afterStop = await spent(env);
  assert.ok(afterStop < (await spent(whole)), 'the stop charged only the histograms that ran');

  const o = await options(env, 'second');
  const dir = runsDir(env.root);
  const resumed = await runAugPe({ ...o, resume: loadAugPeResume(dir, first.reservation.id, o) });
  assert.equal(resumed.status, 'completed');
  assert.equal(resumed.histograms, T, 'the two parts ran T histograms in all');
  assert.deepEqual(resumed.resumed, { from: first.reservation.id, histogramsBefore: 2 });
  assert.equal(resumed.records.length, uninterrupted.records.length);
  const total = await spent(env);
  const expected = await spent(whole);
  assert.ok(Math.abs(total - expected) <= 1e-9 * expected, `resumed spent ${total}, uninterrupted ${expected}`);
  assert.ok(Math.abs(resumed.epsilonCharged - uninterrupted.epsilonCharged) <= 1e-12);

  // The ledger holds two reservations of the one group: 2 + 2 Gaussian steps at the plan's σ.
  const lines = readFileSync(path.join(env.root, '.private-fewshot', 'ledger.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const settled = lines.filter((l) => l.type === 'run' && l.status === 'settled');
  const steps = settled.flatMap((l) => (l.charges as { steps: number }[]).map((c) => c.steps));
  assert.equal(
    steps.reduce((a, b) => a + b, 0),
    T * (settled[0]!.charges as unknown[]).length,
  );
  const second = lines.find((l) => l.type === 'run' && l.status === 'reserved' && l.id === resumed.reservation.id);
  assert.equal(second?.group, first.reservation.id);
  // Reserved (admitted) for the histograms left only, not for all T again.
  assert.deepEqual(
    (second?.charges as { steps: number }[]).map((c) => c.steps),
    (second?.charges as unknown[]).map(() => T - 2),
  );

  // The state holds DP outputs and public parameters only: no private row.
  const state = readFileSync(stateFile(dir, resumed.reservation.id), 'utf8');
  const rows = env.ds.examples.map((e) => e.text).filter((t) => t.length > 25);
  for (const row of rows) assert.ok(!state.includes(JSON.stringify(row).slice(1, -1)), `private row in state: ${row}`);
  const parsed = JSON.parse(state) as AugPeState;
  assert.equal(parsed.status, 'completed');
  assert.equal(parsed.started, T);
});

test('resuming a finished run, a resumed one, or with changed parameters is refused in one line', async () => {
  const env = await setup();
  const dir = runsDir(env.root);
  const done = await runAugPe(await options(env, 'done', { epsilon: 1 }));
  const o = await options(env, 'again', { epsilon: 1 });
  assert.throws(() => loadAugPeResume(dir, done.reservation.id, o), /^UserError: cannot resume .*finished all 4/);
  assert.throws(() => loadAugPeResume(dir, 'r-none', o), /cannot resume r-none: no saved state/);

  const stopped = await runAugPe({ ...(await options(env, 'stop', { epsilon: 1 })), ...stopAfter(1) });
  assert.equal(stopped.histograms, 1);
  const changed = await options(env, 'changed', { epsilon: 1, iterations: 5 });
  assert.throws(
    () => loadAugPeResume(dir, stopped.reservation.id, changed),
    (e: Error) => /iterations was 4, now 5/.test(e.message) && !e.message.includes('\n'),
  );
  const other = await options(env, 'other', { epsilon: 1, count: 8 });
  assert.throws(() => loadAugPeResume(dir, stopped.reservation.id, other), /count was 6, now 8/);
  const before = await spent(env);
  assert.throws(() => loadAugPeResume(dir, stopped.reservation.id, changed));
  assert.equal(await spent(env), before, 'a refusal charges nothing');

  const resumed = await runAugPe({ ...o, resume: loadAugPeResume(dir, stopped.reservation.id, o) });
  assert.equal(resumed.histograms, T);
  assert.throws(
    () => loadAugPeResume(dir, stopped.reservation.id, o),
    new RegExp(`already resumed as ${resumed.reservation.id}`),
  );
  assert.throws(() => loadAugPeResume(dir, resumed.reservation.id, o), /finished all 4/);
});

test('with DP class fractions, a continuation reuses the first part noisy counts: released and charged once', async () => {
  const o0 = { dpFractions: 0.1 };
  const whole = await setup();
  const uninterrupted = await runAugPe(await options(whole, 'whole', o0));
  assert.equal(uninterrupted.histograms, T);

  const env = await setup();
  const first = await runAugPe({ ...(await options(env, 'first', o0)), ...stopAfter(2) });
  assert.equal(first.histograms, 2);
  const o = await options(env, 'second', o0);
  const resumed = await runAugPe({ ...o, resume: loadAugPeResume(runsDir(env.root), first.reservation.id, o) });
  assert.equal(resumed.histograms, T);
  assert.deepEqual(resumed.report.parameters.counts, first.report.parameters.counts, 'the same class sizes');
  // One release of the noisy counts: the continuation's checkpoint carries the first part's values, not new ones.
  const noisyOf = (file: string) =>
    (JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!) as { noisyClassCounts?: number[] }).noisyClassCounts;
  assert.ok(noisyOf(first.checkpoint)?.length === LABELS.length);
  assert.deepEqual(noisyOf(resumed.checkpoint), noisyOf(first.checkpoint));
  const total = await spent(env);
  const expected = await spent(whole);
  assert.ok(Math.abs(total - expected) <= 1e-9 * expected, `resumed spent ${total}, uninterrupted ${expected}`);
  assert.ok(Math.abs(resumed.epsilonCharged - uninterrupted.epsilonCharged) <= 1e-12);
  // The continuation reserved histograms only (no second count release).
  const lines = readFileSync(path.join(env.root, '.private-fewshot', 'ledger.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const second = lines.find((l) => l.type === 'run' && l.status === 'reserved' && l.id === resumed.reservation.id);
  const sigma = o.plan.sigma;
  for (const c of second?.charges as { sigma: number; steps: number }[]) {
    assert.equal(c.sigma, sigma);
    assert.equal(c.steps, T - 2);
  }
});
