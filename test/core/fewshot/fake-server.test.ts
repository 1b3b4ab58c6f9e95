import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadDataset, summarize } from '../../../src/core/data';
import { planFewShot, runEpsilon, stepCharges } from '../../../src/core/fewshot/plan';
import { runFewShot } from '../../../src/core/fewshot/run';
import { Ledger, defaultAccountant } from '../../../src/core/ledger';
import { seededRandom } from '../../support/rng';
import { createProvider, type Provider } from '../../../src/core/providers';
import { startFakeServer, type FakeServer, type Flavour } from '../../support/fake-openai-server';
import { tempDir, writeFile } from '../../support/tmp';
import { repoRoot } from '../../support/cli';

const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function runAgainst(flavour: Flavour, opts: { batch: boolean; lookahead: number; prefetch: number }) {
  const s = await startFakeServer({ flavour });
  servers.push(s);
  const root = tempDir('pfs-fake-');
  writeFile(root, 'data.csv', readFileSync(`${repoRoot}/examples/banking77-sample.csv`));
  const ds = await loadDataset('data.csv', { root });
  const units = summarize(ds).units;
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  const status = await ledger.status({ identity: ds.identity, units });
  const plan = planFewShot(ds, {
    labels: ['card_arrival', 'exchange_rate'],
    shots: 2,
    epsilon: 3,
    delta: status.total.delta,
    maxTokens: 10,
    prompts: 4,
  });
  const provider: Provider = createProvider({
    kind: 'openai',
    model: 'fake',
    baseURL: s.baseURL,
    probeCache: new Map(),
    concurrency: 8,
  });
  if (!opts.batch) (provider as { nextTokensBatch?: unknown }).nextTokensBatch = undefined;
  const r = await runFewShot({
    dataset: ds,
    plan,
    provider,
    ledger,
    units,
    lookahead: opts.lookahead,
    prefetch: opts.prefetch,
    random: (stream) => seededRandom(`fake/${stream}`),
  });
  const after = await ledger.status({ identity: ds.identity, units });
  return { r, after, plan, server: s };
}

test('end to end through a fake OpenAI-compatible server (vLLM completions with logprobs): the ledger is charged exactly the plan', async () => {
  const { r, after, plan, server } = await runAgainst('vllm', { batch: true, lookahead: 1, prefetch: 0 });
  assert.equal(r.status, 'completed');
  assert.equal(r.demonstrations.length, 4);
  assert.equal(r.report.provider.offline, false);
  // The noisy pool-count release, then the token steps at q̃ and σ from the noisy counts (each pool in parallel).
  const expected = runEpsilon([...plan.counts.charges, ...stepCharges(r.labels, (l) => l.steps)], after.total.delta);
  // σ and q̃ were chosen from the released counts: the run is charged its budget split's ε, and the PLD of its
  // two parts is what it would be "as planned".
  assert.equal(after.spent, plan.settings.epsilon, `spent ${after.spent} vs the run's ε ${plan.settings.epsilon}`);
  assert.ok(Math.abs(after.pldIfPlanned - expected) < 1e-9, `as planned ${after.pldIfPlanned} vs ${expected}`);
  // Private examples went to the server inside prompts (the provider is trusted), and every step's prompts went
  // out as one list per label and step.
  const lists = server.requests.filter((q) => q.path === '/v1/completions' && Array.isArray(q.body.prompt));
  assert.ok(lists.length > 0);
  assert.equal(r.report.usage.calls, server.requests.length);
});

test('batched runs and one-request-per-prompt runs with speculation release the same demonstrations', async () => {
  const batched = await runAgainst('vllm', { batch: true, lookahead: 1, prefetch: 0 });
  const single = await runAgainst('vllm', { batch: false, lookahead: 3, prefetch: 2 });
  assert.deepEqual(single.r.demonstrations, batched.r.demonstrations);
  assert.ok(batched.r.report.usage.calls < single.r.report.usage.calls, 'batching sends fewer HTTP requests');
});
