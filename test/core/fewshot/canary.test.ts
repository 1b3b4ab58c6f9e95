import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadDataset, type Dataset } from '../../../src/core/data';
import { decodeDemonstration, type DecodeStats } from '../../../src/core/fewshot/decode';
import { exactPoolCounts, releasePoolCounts } from '../../../src/core/fewshot/counts';
import { calibrateFromCounts, planFewShot } from '../../../src/core/fewshot/plan';
import { buildPools } from '../../../src/core/runs/pools';
import { DEFAULT_FORMAT } from '../../../src/core/fewshot/prompt';
import { gaussianNoise } from '../../../src/core/privacy';
import { seededRandom } from '../../support/rng';
import { createBuiltinProvider } from '../../../src/core/providers/builtin';
import { tempDir, writeFile } from '../../support/tmp';
import { repoRoot } from '../../support/cli';

/**
 * Canaries (after Carlini et al., "The Secret Sharer"): five unique secret strings, each planted in the text of one
 * record of the Banking77 sample (in five different labels). 200 demonstrations at ε = 4 must contain none of them;
 * the same generation with no noise and M = 1 (all of a pool in the one prompt) must reproduce some, which shows the
 * test can fail.
 *
 * Why these secrets: the mechanism can only release tokens from the public zero-shot prompt's top-K, so a secret
 * made of tokens the public model never proposes (a random code) could not leak even without noise, and the test
 * would have no teeth. These are unusual phrases made of common words that do enter the candidate sets of the
 * built-in model (found by search). None of the phrases occurs in its background corpus or in Banking77, but two of
 * their word pairs do ("the evening" in the corpus; "the problem" in both), so "the evening this" and "the problem
 * this" can also come out by chance: the background model wrote "the problem this" with no secret planted, at
 * K = 20, on another seed. A hit at ε = 4 is therefore a signal to investigate (rerun without the planted records),
 * not proof of a leak; a miss is what the guarantee predicts. Stronger canaries need a stronger offline model. The
 * candidate sets are the public top-50 (K = 50, the
 * built-in model's largest top-k and what runFewShot uses with it): since builtin-ngram-v2 the public prompt's label
 * words (card, arrival, arrived, …) hold several of the top slots, and at K = 20 they pushed the secrets' last word
 * (" this") out of the candidates, so the teeth check could no longer reproduce them.
 */
const SECRETS = ['the style this', 'the evening this', 'the problem this', 'the quiet lantern', 'the amber valley'];
const LABELS = ['card_arrival', 'lost_or_stolen_card', 'top_up_failed', 'exchange_rate', 'pin_blocked'];
const SHOTS = 40; // 5 labels × 40 = 200 demonstrations
const T_MAX = 8;

async function canaryDataset(): Promise<Dataset> {
  const lines = readFileSync(`${repoRoot}/examples/banking77-sample.csv`, 'utf8').trimEnd().split('\n');
  const out = [lines[0]!];
  const planted = new Set<string>();
  for (const line of lines.slice(1)) {
    const label = line.slice(line.lastIndexOf(',') + 1);
    const i = LABELS.indexOf(label);
    if (i !== -1 && !planted.has(label)) {
      planted.add(label);
      const s = SECRETS[i]!;
      out.push(`I need ${s}. I need ${s}. I need ${s}.,${label}`); // replaces this record's text
    } else out.push(line);
  }
  assert.equal(planted.size, 5);
  const dir = tempDir('pfs-canary-');
  return loadDataset(writeFile(dir, 'canary.csv', out.join('\n') + '\n'), { root: dir });
}

async function generate(
  ds: Dataset,
  o: { prompts: number; examplesPerPrompt: number; sigma?: number; seed: string; shots?: number },
): Promise<string[]> {
  const plan = planFewShot(ds, {
    labels: LABELS,
    shots: SHOTS,
    epsilon: 4,
    delta: 1e-5,
    maxTokens: T_MAX,
    prompts: o.prompts,
    examplesPerPrompt: o.examplesPerPrompt,
  });
  const { pools } = buildPools(ds, LABELS);
  // The mechanism as runFewShot sets it: q and σ from the noisy pool counts (seeded here, as everything in this test).
  const mechanism = calibrateFromCounts(
    plan,
    releasePoolCounts(exactPoolCounts(pools, LABELS), plan.counts.sigma, seededRandom(`${o.seed}/counts`)),
  );
  const provider = createBuiltinProvider();
  const stats: DecodeStats = { queries: 0, roundTrips: 0, tokens: 0, reused: 0 };
  const texts: string[] = [];
  for (const lp of mechanism.labels) {
    for (let shot = 0; shot < (o.shots ?? SHOTS); shot++) {
      const noise = seededRandom(`${o.seed}/noise/${lp.label}/${shot}`);
      const r = await decodeDemonstration({
        provider,
        format: DEFAULT_FORMAT,
        label: lp.label,
        pool: pools.get(lp.label)!,
        prompts: o.prompts,
        samplingRate: lp.samplingRate,
        sigma: o.sigma ?? lp.sigma,
        maxTokens: T_MAX,
        topK: 50,
        lookahead: 1,
        sampling: seededRandom(`${o.seed}/sample/${lp.label}/${shot}`),
        noise: (std) => (std === 0 ? 0 : gaussianNoise(noise, std)),
        stats,
      });
      texts.push(r.text);
    }
  }
  return texts;
}

const leaked = (texts: string[]) => SECRETS.filter((s) => texts.some((t) => t.includes(s)));

test('no canary appears in 200 demonstrations at ε = 4', async () => {
  const ds = await canaryDataset();
  const texts = await generate(ds, { prompts: 4, examplesPerPrompt: 1, seed: 'dp' });
  assert.equal(texts.length, 200);
  assert.deepEqual(leaked(texts), []);
});

test('teeth: without noise and with M = 1 the same generation reproduces canaries', async (t) => {
  const ds = await canaryDataset();
  // q = 1 (every record in the single prompt at every token) makes the generation deterministic: one shot per label.
  const texts = await generate(ds, { prompts: 1, examplesPerPrompt: 1000, sigma: 0, seed: 'dp', shots: 1 });
  t.diagnostic(`reproduced without noise: ${leaked(texts).join(', ')}`);
  assert.ok(leaked(texts).length >= 3, `without noise the canaries must leak; leaked ${leaked(texts).length}`);
});
