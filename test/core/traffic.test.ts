import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadDataset } from '../../src/core/data';
import { planAugPe } from '../../src/core/augpe/plan';
import { planFewShot } from '../../src/core/fewshot/plan';
import { augPeTraffic, fewShotTraffic } from '../../src/core/traffic';
import { tempDir, writeFile } from '../support/tmp';
import { repoRoot } from '../support/cli';

async function dataset() {
  const root = tempDir('pfs-traffic-');
  writeFile(root, 'data.csv', readFileSync(`${repoRoot}/examples/banking77-sample.csv`));
  return loadDataset('data.csv', { root });
}

test('DP few-shot traffic: calls = Σ shots·T_max·M from public parameters; prompt tokens and cost follow the texts', async () => {
  const ds = await dataset();
  const plan = planFewShot(ds, {
    labels: ['card_arrival', 'exchange_rate'],
    shots: 2,
    epsilon: 1,
    delta: 1e-6,
    prompts: 3,
    maxTokens: 8,
  });
  const short = fewShotTraffic(plan, 40, 'gpt-4.1-mini');
  const long = fewShotTraffic(plan, 400, 'gpt-4.1-mini');
  assert.equal(short.calls, 2 * 2 * 8 * 3);
  assert.equal(short.completionTokens, short.calls);
  // The public figures do not depend on the private texts; the local estimate does.
  assert.equal(long.calls, short.calls);
  assert.equal(long.completionTokens, short.completionTokens);
  assert.ok(long.promptTokens > short.promptTokens);
  // gpt-4.1-mini: $0.4 / $1.6 per million tokens (prices.json).
  assert.ok(Math.abs(short.cost! - (short.promptTokens * 0.4 + short.completionTokens * 1.6) / 1e6) < 1e-12);
  assert.equal(fewShotTraffic(plan, 40, 'llama3.2').cost, undefined);
});

test('Aug-PE traffic: no embedding calls with the built-in embedder; the remote embedder adds them', async () => {
  const ds = await dataset();
  const plan = planAugPe(ds, { labels: ['card_arrival', 'exchange_rate'], count: 10, epsilon: 1, delta: 1e-6 });
  const local = augPeTraffic(plan, 50, 'gpt-4.1-mini', undefined);
  const remote = augPeTraffic(plan, 50, 'gpt-4.1-mini', 'text-embedding-3-small');
  assert.equal(local.calls, plan.estimate.completions);
  assert.equal(local.completionTokens, plan.estimate.completions * plan.settings.maxTokens);
  assert.ok(remote.calls > local.calls);
  assert.ok(remote.promptTokens > local.promptTokens);
});
