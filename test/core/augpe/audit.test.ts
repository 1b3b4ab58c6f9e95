import { test } from 'node:test';
import assert from 'node:assert/strict';
import { privatizeHistogram, toMatrix, voteHistograms, type VoteGroup } from '../../../src/core/augpe/histogram';
import { epsilonFor } from '../../../src/core/privacy';
import { seededRandom } from '../../support/rng';
import { clopperPearson } from '../../support/stats';

/**
 * Empirical audit of one Aug-PE histogram release (user-level, with a unit column), in the style of
 * test/core/fewshot/audit.test.ts. D: eight ordinary units, some voting for candidate A of label "a", the others in
 * label "b". D' = D + one crafted unit with five rows, all nearest to A — without the per-unit normalisation it
 * would add 5 votes to A; with it, exactly 1. The clean histograms come from the real voting code and every trial
 * adds noise with the real release code; the event is "A's released count exceeds its clean count in D by τ".
 * Clopper–Pearson bounds turn the hit counts into a lower bound on ε that must not exceed the accountant's ε for one
 * Gaussian step (σ, T = 1) at the same δ.
 */
const TRIALS = 100_000;
const ALPHA = 0.0025; // each one-sided bound; the joint confidence is ≥ 99.5%
const DELTA = 1e-5;
/**
 * Event thresholds, fixed in advance: τ = 3 gives the strongest audit of the σ = 1 release with 100k trials (the
 * expected lower bound is largest there); τ = 2 is where a release with σ/2 is most visible.
 */
const TAU_AUDIT = 3;
const TAU_TEETH = 2;

function groups(withCrafted: boolean): VoteGroup[] {
  const a = {
    rows: [
      [0.1, 0],
      [0, 0.1],
      [0.2, 0.1],
    ],
    units: ['u1', 'u2', 'u2'],
  };
  if (withCrafted) {
    for (let i = 0; i < 5; i++) {
      a.rows.push([0.05 * i, 0]);
      a.units.push('crafted');
    }
  }
  const candidatesA = toMatrix([[0, 0]]);
  return [
    { private: toMatrix(a.rows), units: a.units, candidates: candidatesA },
    {
      private: toMatrix([
        [5, 5],
        [5, 4],
        [4, 5],
        [6, 5],
        [5, 6],
      ]),
      units: ['u3', 'u4', 'u5', 'u6', 'u7'],
      candidates: toMatrix([[5, 5]]),
    },
  ];
}

function runSide(withCrafted: boolean, sigma: number, tau: number, seed: string): number {
  const clean = voteHistograms(groups(withCrafted), 1, 'l2')[0]!;
  const base = voteHistograms(groups(false), 1, 'l2')[0]![0]!;
  const rng = seededRandom(seed);
  let hits = 0;
  for (let t = 0; t < TRIALS; t++) if (privatizeHistogram(clean, sigma, rng, 0)[0]! > base + tau) hits++;
  return hits;
}

function lowerBound(kD: number, kD2: number): number {
  // ε ≥ ln((P_D'(E) − δ) / P_D(E)), with the pessimistic end of each interval.
  return Math.log(
    Math.max(clopperPearson(kD2, TRIALS, ALPHA).lower - DELTA, 1e-300) / clopperPearson(kD, TRIALS, ALPHA).upper,
  );
}

/** Both sides with the release's σ scaled by `noiseScale`; the accountant is asked about σ. */
function audit(sigma: number, noiseScale: number, tau: number, seed: string, t: { diagnostic(m: string): void }) {
  const kD = runSide(false, sigma * noiseScale, tau, `${seed}:D`);
  const kD2 = runSide(true, sigma * noiseScale, tau, `${seed}:D'`);
  const lower = lowerBound(kD, kD2);
  const accountant = epsilonFor([{ kind: 'gaussian', sigma, steps: 1 }], DELTA, 'gdp');
  t.diagnostic(`hits D=${kD} D'=${kD2}; empirical ε ≥ ${lower.toFixed(4)}; accountant ε = ${accountant.toFixed(4)}`);
  return { kD, kD2, lower, accountant };
}

test('the crafted five-row unit adds exactly 1 to its candidate (normalised), not 5', () => {
  const d = voteHistograms(groups(false), 1, 'l2')[0]![0]!;
  const d2 = voteHistograms(groups(true), 1, 'l2')[0]![0]!;
  assert.ok(Math.abs(d2 - d - 1) < 1e-12, `${d} → ${d2}`);
});

test('empirical audit: one histogram release leaks no more than the accountant says', (t) => {
  const { kD, kD2, lower, accountant } = audit(1, 1, TAU_AUDIT, 'augpe-audit', t);
  assert.ok(kD2 > kD, `the crafted unit must push A (${kD2} vs ${kD})`);
  assert.ok(lower > 0, `the audit detects the leak at all (lower bound ${lower})`);
  assert.ok(
    lower <= accountant,
    `empirical ε lower bound ${lower.toFixed(4)} exceeds the accountant's ε ${accountant.toFixed(4)}`,
  );
});

test('the audit has teeth: a release with half the noise is caught', (t) => {
  const { lower, accountant } = audit(1, 0.5, TAU_TEETH, 'augpe-teeth', t);
  assert.ok(
    lower > accountant,
    `under-noised release: lower bound ${lower.toFixed(4)} should exceed ${accountant.toFixed(4)}`,
  );
});
