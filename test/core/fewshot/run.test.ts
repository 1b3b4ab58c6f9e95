import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadDataset, summarize, type Dataset } from '../../../src/core/data';
import { planFewShot } from '../../../src/core/fewshot/plan';
import { runFewShot } from '../../../src/core/fewshot/run';
import { Ledger, type LedgerAccountant } from '../../../src/core/ledger';
import { calibrateSigma, epsilonFor } from '../../../src/core/privacy';
import { seededRandom } from '../../support/rng';
import { createBuiltinProvider } from '../../../src/core/providers/builtin';
import { tempDir, writeFile } from '../../support/tmp';
import { repoRoot } from '../../support/cli';

const accountant: LedgerAccountant = {
  name: 'pld',
  epsilonFor: (specs, delta) => epsilonFor(specs, delta, 'pld'),
  calibrateSigma: (target, shape) => calibrateSigma(target, shape, 'pld'),
};
const seeded = (seed: string) => (stream: string) => seededRandom(`${seed}/${stream}`);

async function setup(): Promise<{ root: string; ds: Dataset; units: number; ledger: Ledger }> {
  const root = tempDir('pfs-run-');
  writeFile(root, 'data.csv', readFileSync(`${repoRoot}/examples/banking77-sample.csv`));
  const ds = await loadDataset('data.csv', { root });
  return { root, ds, units: summarize(ds).units, ledger: new Ledger(root, { accountant }) };
}

test('end to end with the built-in model: demonstrations, checkpoint, report, and the ledger charged exactly the plan', async () => {
  const { ds, units, ledger } = await setup();
  const before = await ledger.status({ identity: ds.identity, units });
  const plan = planFewShot(ds, {
    labels: ['card_arrival', 'exchange_rate'],
    shots: 2,
    epsilon: 3,
    delta: before.total.delta,
    maxTokens: 12,
    prompts: 4,
  });
  assert.equal(before.spent, 0);
  const progress: string[] = [];
  const r = await runFewShot({
    dataset: ds,
    plan,
    provider: createBuiltinProvider(),
    ledger,
    units,
    random: seeded('e2e'),
    onProgress: (p) => progress.push(`${p.label}:${p.shot}:${p.done}`),
  });
  assert.equal(r.status, 'completed');
  assert.equal(r.demonstrations.length, 4);
  assert.deepEqual(
    r.demonstrations.map((d) => d.label),
    ['card_arrival', 'card_arrival', 'exchange_rate', 'exchange_rate'],
  );
  assert.ok(r.demonstrations.every((d) => typeof d.text === 'string'));
  assert.ok(progress.includes('card_arrival:1:true') && progress.includes('exchange_rate:1:true'));
  const after = await ledger.status({ identity: ds.identity, units });
  // Two ledger runs: the noisy pool-count release (reserved with a stand-in for the steps, settled with the counts
  // alone), then the token steps at q̃ and σ from the noisy counts.
  assert.equal(after.runs.length, 2);
  assert.ok(after.runs.every((x) => x.status === 'settled'));
  assert.deepEqual(
    after.runs[0]!.charges.map((c) => c.kind),
    ['gaussian', 'gaussian'],
  );
  assert.deepEqual(
    after.runs[1]!.charges.map((c) => c.kind),
    ['poisson-gaussian', 'poisson-gaussian'],
  );
  assert.equal(r.labels[0]!.samplingRate, Math.min(1, 8 / Math.max(1, r.counts.noisy[0]!)));
  // The steps were chosen from the released counts, so the run's guarantee is the budget split's ε (basic
  // composition), not the PLD composition of the two parts, which is smaller and is reported as "as planned".
  const count = plan.counts.charges[0]!.mechanism;
  const pld = Math.max(
    ...r.labels.map((l) =>
      epsilonFor(
        [count, { kind: 'poisson-gaussian', sigma: l.sigma, samplingRate: l.samplingRate, steps: l.steps }],
        after.total.delta,
      ),
    ),
  );
  assert.equal(after.spentRule, 'lone-run-guarantee');
  assert.equal(after.spent, plan.settings.epsilon, `spent ${after.spent} vs run ε ${plan.settings.epsilon}`);
  assert.equal(r.epsilonCharged, plan.settings.epsilon);
  assert.ok(pld < after.spent, `the PLD composition ${pld} is below the guarantee`);
  assert.ok(Math.abs(after.pldIfPlanned - pld) < 1e-9, `as planned ${after.pldIfPlanned} vs ${pld}`);
  assert.ok(r.epsilonCharged <= plan.settings.epsilon + 1e-9 && r.epsilonCharged >= plan.epsilonRun);
  const lines = readFileSync(r.checkpoint, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.filter((l) => l.type === 'demonstration').length, 4);
  assert.equal(lines.at(-1).type, 'settled');
  assert.equal(r.report.provider.offline, true);
  assert.equal(r.report.parameters.prompts, 4);
  assert.ok(r.report.usage.calls > 0 && r.report.usage.tokensReleased > 0);
});

test('speculative and one-token-at-a-time decoding give identical demonstrations with the built-in model', async () => {
  const outputs: string[][] = [];
  for (const [lookahead, prefetch] of [
    [1, 0],
    [4, 3],
    [6, 0],
  ] as const) {
    const { ds, units, ledger } = await setup();
    const plan = planFewShot(ds, {
      labels: ['card_arrival', 'top_up_failed'],
      shots: 2,
      epsilon: 3,
      delta: 1e-5,
      maxTokens: 16,
      prompts: 6,
    });
    const r = await runFewShot({
      dataset: ds,
      plan,
      provider: createBuiltinProvider(),
      ledger,
      units,
      lookahead,
      prefetch,
      random: seeded('equivalence'),
    });
    outputs.push(r.demonstrations.map((d) => `${d.label}|${d.text}`));
    if (lookahead > 1 && prefetch > 0) assert.ok(r.report.usage.roundTrips < 2 * 2 * 16, 'prefetch saves round trips');
  }
  assert.deepEqual(outputs[1], outputs[0]);
  assert.deepEqual(outputs[2], outputs[0]);
});

test('cancel stops the run, keeps finished demonstrations and charges only the started ones', async () => {
  const { ds, units, ledger } = await setup();
  const plan = planFewShot(ds, {
    labels: ['card_arrival'],
    shots: 5,
    epsilon: 2,
    delta: 1e-5,
    maxTokens: 10,
    prompts: 4,
  });
  const controller = new AbortController();
  const r = await runFewShot({
    dataset: ds,
    plan,
    provider: createBuiltinProvider(),
    ledger,
    units,
    random: seeded('cancel'),
    shotConcurrency: 1,
    signal: controller.signal,
    onProgress: (p) => {
      if (p.shot === 1 && p.done) controller.abort();
    },
  });
  assert.equal(r.status, 'cancelled');
  assert.equal(r.demonstrations.length, 2);
  const status = await ledger.status({ identity: ds.identity, units });
  const run = status.runs[1]!;
  assert.equal(run.charges[0]!.steps, 2 * 10, 'two started demonstrations × T_max');
  assert.equal(run.planned[0]!.steps, 5 * 10);
  const lp = r.labels[0]!;
  const count = plan.counts.charges[0]!.mechanism;
  const expected = epsilonFor(
    [count, { kind: 'poisson-gaussian', sigma: lp.sigma, samplingRate: lp.samplingRate, steps: 20 }],
    status.total.delta,
  );
  // A cancelled run is charged the smaller of its guarantee and the Rényi filter of what ran; the PLD of what ran is
  // only "as planned".
  assert.ok(status.spent <= plan.settings.epsilon + 1e-9 && status.spent >= expected);
  // (The result states its ε at the run's δ, the ledger at its own δ, so the two figures are not compared here.)
  assert.ok(Math.abs(status.pldIfPlanned - expected) < 1e-9);
  assert.ok(status.spent < plan.epsilonRun);
  // The result states the charge at the run's own δ (the plan's), like the planned ε it is compared with.
  const atRunDelta = epsilonFor(
    [count, { kind: 'poisson-gaussian', sigma: lp.sigma, samplingRate: lp.samplingRate, steps: 20 }],
    plan.settings.delta,
  );
  // What was charged, not the plan: the Rényi filter of what ran (never below its PLD), below the planned ε.
  assert.ok(r.epsilonCharged < plan.settings.epsilon, 'the result reports what was charged, not the plan');
  assert.ok(r.epsilonCharged >= atRunDelta - 1e-9, `charged ${r.epsilonCharged} vs PLD of what ran ${atRunDelta}`);
  assert.ok(r.epsilonCharged < plan.epsilonRun);
  assert.equal(r.report.privacy.epsilonCharged, r.epsilonCharged);
});

test("a label's shots written concurrently: same demonstrations and ε, the critical path is the longest demonstration", async () => {
  const runs: {
    shotConcurrency: number;
    r: Awaited<ReturnType<typeof runFewShot>>;
    steps: { label: string; steps: number }[];
    spent: number;
  }[] = [];
  for (const shotConcurrency of [1, 2, 3]) {
    const { ds, units, ledger } = await setup();
    const plan = planFewShot(ds, {
      labels: ['card_arrival', 'top_up_failed'],
      shots: 3,
      epsilon: 3,
      delta: 1e-5,
      maxTokens: 12,
      prompts: 4,
    });
    const r = await runFewShot({
      dataset: ds,
      plan,
      provider: createBuiltinProvider(),
      ledger,
      units,
      lookahead: 1,
      prefetch: 0,
      shotConcurrency,
      random: seeded('concurrent'),
    });
    const steps = readFileSync(r.checkpoint, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === 'demonstration') as { label: string; steps: number }[];
    runs.push({ shotConcurrency, r, steps, spent: (await ledger.status({ identity: ds.identity, units })).spent });
  }
  const [seq, two, all] = runs;
  assert.deepEqual(two!.r.demonstrations, seq!.r.demonstrations, 'the output does not depend on the order');
  assert.deepEqual(all!.r.demonstrations, seq!.r.demonstrations);
  assert.equal(all!.spent, seq!.spent, 'the charge does not depend on the order');
  // One wave per token (lookahead 1, no prefetch), so a chain's round trips are the steps of its demonstrations.
  const stepsOf = (x: (typeof runs)[number], label: string) =>
    x.steps.filter((l) => l.label === label).map((l) => l.steps);
  const labels = ['card_arrival', 'top_up_failed'];
  assert.equal(
    seq!.r.report.usage.roundTrips,
    Math.max(...labels.map((l) => stepsOf(seq!, l).reduce((a, b) => a + b, 0))),
  );
  assert.equal(all!.r.report.usage.roundTrips, Math.max(...labels.flatMap((l) => stepsOf(all!, l))));
  assert.equal(all!.r.report.usage.waves, seq!.r.report.usage.waves, 'the same waves, spread over more chains');
  assert.equal(all!.r.report.usage.chains, 6);
  assert.equal(seq!.r.report.usage.chains, 2);
  assert.ok(all!.r.report.usage.roundTrips < seq!.r.report.usage.roundTrips);
});

test('a cancel with every shot in flight charges every started demonstration', async () => {
  const { ds, units, ledger } = await setup();
  const plan = planFewShot(ds, {
    labels: ['card_arrival'],
    shots: 3,
    epsilon: 2,
    delta: 1e-5,
    maxTokens: 10,
    prompts: 4,
  });
  const controller = new AbortController();
  const r = await runFewShot({
    dataset: ds,
    plan,
    provider: createBuiltinProvider(),
    ledger,
    units,
    random: seeded('cancel-all'),
    signal: controller.signal,
    onProgress: (p) => {
      if (p.tokens >= 2) controller.abort();
    },
  });
  assert.equal(r.status, 'cancelled');
  const run = (await ledger.status({ identity: ds.identity, units })).runs[1]!;
  assert.equal(run.charges[0]!.steps, 3 * 10, 'three started demonstrations × T_max');
});

test('a refused run sends nothing to the model', async () => {
  const { ds, units, ledger } = await setup();
  const plan = planFewShot(ds, {
    labels: ['card_arrival'],
    shots: 1,
    epsilon: 5,
    delta: 1e-5,
    maxTokens: 8,
    prompts: 4,
  });
  const provider = createBuiltinProvider();
  await assert.rejects(runFewShot({ dataset: ds, plan, provider, ledger, units, random: seeded('refuse') }), {
    name: 'BudgetExceededError',
  });
  assert.equal(provider.usage().calls, 0);
  // Refused at the first reservation, on public values: nothing was reserved, not even the count release.
  assert.equal((await ledger.status({ identity: ds.identity, units })).runs.length, 0);
});
