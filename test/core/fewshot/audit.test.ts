import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noisyArgmax, restrictToCandidates } from '../../../src/core/fewshot/aggregate';
import { samplePrompts } from '../../../src/core/fewshot/sample';
import type { PoolUnit } from '../../../src/core/runs/pools';
import { epsilonFor, gaussianNoise } from '../../../src/core/privacy';
import { seededRandom } from '../../support/rng';
import { binomialCdf, clopperPearson } from '../../support/stats';

/**
 * Empirical audit of one token step of the DP few-shot mechanism (Poisson sampling, M prompts, restriction, mean,
 * Gaussian noise σ·√2/M, argmax), with fixed fake distributions chosen for the largest possible effect: a prompt
 * holding the crafted record puts all its mass on token A, every other prompt (also an empty one) on token B. The
 * neighbouring datasets D and D' = D + crafted record differ in that one record. For the event "A is released",
 * the Clopper–Pearson bounds give a lower bound on ε that holds with high confidence; it must not exceed the
 * accountant's ε for one step at the same δ.
 */
const CANDIDATES = [' A', ' B'];
const TRIALS = 100_000;
const ALPHA = 0.0025; // each one-sided bound; the joint confidence is ≥ 99.5%

function runSide(
  withCrafted: boolean,
  o: { m: number; q: number; sigma: number; noiseScale: number; seed: string },
): number {
  const pool: PoolUnit[] = Array.from({ length: 9 }, (_, i) => ({ id: `r${i}`, texts: [`ordinary ${i}`] }));
  if (withCrafted) pool.push({ id: 'crafted', texts: ['CRAFTED'] });
  const sampling = seededRandom(`${o.seed}:sampling`);
  const noiseRng = seededRandom(`${o.seed}:noise`);
  const pushA = restrictToCandidates([{ token: ' A', logprob: 0 }], CANDIDATES);
  const pushB = restrictToCandidates([{ token: ' B', logprob: 0 }], CANDIDATES);
  let hitsA = 0;
  for (let t = 0; t < TRIALS; t++) {
    const prompts = samplePrompts(sampling, pool, o.q, o.m);
    const dists = prompts.map((p) => (p.includes('CRAFTED') ? pushA : pushB));
    const pick = noisyArgmax(dists, o.m, o.sigma, (std) => gaussianNoise(noiseRng, std * o.noiseScale));
    if (pick === 0) hitsA++;
  }
  return hitsA;
}

function empiricalEpsilonLowerBound(kD: number, kD2: number, delta: number): number {
  // ε ≥ ln((P_D'(E) − δ) / P_D(E)) for every event E; use the pessimistic ends of both intervals.
  const pD2 = clopperPearson(kD2, TRIALS, ALPHA).lower;
  const pD = clopperPearson(kD, TRIALS, ALPHA).upper;
  const forward = Math.log(Math.max(pD2 - delta, 1e-300) / pD);
  // The complementary event bounds the other direction: P_D(not E) ≤ e^ε P_D'(not E) + δ.
  const notD = 1 - clopperPearson(kD, TRIALS, ALPHA).upper;
  const notD2 = 1 - clopperPearson(kD2, TRIALS, ALPHA).lower;
  const backward = Math.log(Math.max(notD - delta, 1e-300) / notD2);
  return Math.max(forward, backward);
}

test('Clopper–Pearson helper matches known values', () => {
  // Binomial(10, 0.5): P[X ≤ 5] = 638/1024.
  assert.ok(Math.abs(binomialCdf(5, 10, 0.5) - 638 / 1024) < 1e-12);
  const ci = clopperPearson(50, 100, 0.025); // two-sided 95%: (0.3983, 0.6017)
  assert.ok(Math.abs(ci.lower - 0.3983) < 5e-4 && Math.abs(ci.upper - 0.6017) < 5e-4, JSON.stringify(ci));
});

/** Runs both sides and returns the hit counts, the empirical lower bound on ε and the accountant's ε (δ = 1e-5). */
function audit(
  o: { m: number; q: number; sigma: number; noiseScale: number; seed: string },
  t: { diagnostic(m: string): void },
) {
  const delta = 1e-5;
  const kD = runSide(false, o);
  const kD2 = runSide(true, { ...o, seed: `${o.seed}-2` });
  const lower = empiricalEpsilonLowerBound(kD, kD2, delta);
  const accountant = epsilonFor([{ kind: 'poisson-gaussian', sigma: o.sigma, samplingRate: o.q, steps: 1 }], delta);
  t.diagnostic(`hits D=${kD} D'=${kD2}; empirical ε ≥ ${lower.toFixed(4)}; accountant ε = ${accountant.toFixed(4)}`);
  return { kD, kD2, lower, accountant };
}

test('empirical audit: the per-token aggregator leaks no more than the accountant says', (t) => {
  const { kD, kD2, lower, accountant } = audit({ m: 10, q: 0.5, sigma: 4, noiseScale: 1, seed: 'audit' }, t);
  assert.ok(kD2 > kD, `the crafted record must push A (${kD2} vs ${kD})`);
  assert.ok(lower > 0, `the audit detects the leak at all (lower bound ${lower})`);
  assert.ok(
    lower <= accountant,
    `empirical ε lower bound ${lower.toFixed(4)} exceeds the accountant's ε ${accountant.toFixed(4)}`,
  );
});

test('the audit has teeth: an aggregator with half the noise is caught', (t) => {
  const { lower, accountant } = audit({ m: 10, q: 0.5, sigma: 4, noiseScale: 0.5, seed: 'teeth' }, t);
  assert.ok(
    lower > accountant,
    `under-noised aggregator: lower bound ${lower.toFixed(4)} should exceed ${accountant.toFixed(4)}`,
  );
});
