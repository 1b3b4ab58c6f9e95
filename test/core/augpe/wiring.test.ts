// Wiring tests for Aug-PE: they go through runAugPe itself (plan → ledger reservation → private embeddings → votes →
// noisy histogram → selection → settlement) with a stub generator and embedder whose votes are known, and check from
// the released selections that the histogram noise has the σ the ledger was charged, for the T histograms charged.
// docs/TESTING.md lists the one-line mutations each test catches (scripts/mutations.sh re-applies them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadDataset, summarize, type Dataset } from '../../../src/core/data';
import { planAugPe, type AugPeSettings } from '../../../src/core/augpe/plan';
import { runAugPe, type AugPeResult } from '../../../src/core/augpe/run';
import { Ledger, defaultAccountant } from '../../../src/core/ledger';
import { normalCdf } from '../../../src/core/privacy';
import type { Provider } from '../../../src/core/providers/types';
import { seededRandom } from '../../support/rng';
import { binomialTest } from '../../support/stats';
import { tempDir, writeFile } from '../../support/tmp';

const seeded = (seed: string) => (stream: string) => seededRandom(`${seed}/${stream}`);
const ALPHA = 'alpha';
const BETA = 'beta';

/**
 * `labels` labels of `rows` rows each; row i of label l reads "l row i", one row per privacy unit. `filler` rows of
 * another label (never requested) only add units, to keep the ledger's δ — which depends on the number of units —
 * fixed while `rows` changes.
 */
async function dataset(labels: string[], rows: number, filler = 0) {
  const root = tempDir('pfs-augpe-wiring-');
  const lines = ['text,label'];
  for (const l of labels) for (let i = 0; i < rows; i++) lines.push(`${l} row ${i},${l}`);
  for (let i = 0; i < filler; i++) lines.push(`filler row ${i},zz_filler`);
  writeFile(root, 'data.csv', lines.join('\n') + '\n');
  const ds: Dataset = await loadDataset('data.csv', { root, textColumn: 'text', labelColumn: 'label' });
  const units = summarize(ds).units;
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  const delta = (await ledger.status({ identity: ds.identity, units })).total.delta;
  return { ds, units, ledger, delta };
}

/**
 * A stub generator and embedder. RANDOM_API writes "alpha"; a paraphrase of "alpha" is "beta" and of "beta" is
 * "alpha", so every population (one kept candidate plus its one variation) is {alpha, beta} in some order. Embeddings:
 * alpha → (1, 0), beta → (0, 1); private row i votes for alpha (embedding (1, 0)) when i < votesForAlpha(), else for
 * beta. So each iteration's clean histogram is (V_A, V_B) and the release keeps beta exactly when the noise difference
 * beats V_A − V_B.
 */
function stubs(votesForAlpha: () => number): Provider {
  let calls = 0;
  return {
    kind: 'stub',
    model: 'alpha-beta',
    offline: false,
    capabilities: async () => ({ nextTokenLogprobs: null, generate: true, embed: true, notes: [] }),
    nextTokens: async () => {
      throw new Error('stub: no nextTokens');
    },
    generate: async (r) => {
      calls++;
      const user = (r.messages ?? []).map((m) => m.content).join('\n');
      const text = !user.includes('Rephrase') ? ALPHA : user.endsWith(`Text: ${ALPHA}`) ? BETA : ALPHA;
      return { texts: Array.from({ length: r.n ?? 1 }, () => text) };
    },
    embed: async (texts) => {
      calls++;
      return texts.map((t) => {
        if (t === ALPHA) return Float32Array.of(1, 0);
        if (t === BETA) return Float32Array.of(0, 1);
        const row = /^\S+ row (\d+)$/.exec(t);
        if (!row) throw new Error(`stub: unexpected text ${JSON.stringify(t)}`);
        return Number(row[1]) < votesForAlpha() ? Float32Array.of(1, 0) : Float32Array.of(0, 1);
      });
    },
    usage: () => ({ calls, inputTokens: 0, outputTokens: 0, cost: 0 }),
  };
}

/** Every iteration's selection per label, from the run's checkpoint (the selections are DP: post-processing). */
function selections(r: AugPeResult): { label: string; iteration: number; texts: string[] }[] {
  return readFileSync(r.checkpoint, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((l) => l.type === 'selected')
    .map((l) => ({ label: l.label, iteration: l.iteration, texts: l.records.map((x: { text: string }) => x.text) }));
}

function settings(labels: string[], delta: number, o: Partial<AugPeSettings>): AugPeSettings {
  return {
    labels,
    count: labels.length, // n_c = 1 per label
    epsilon: 2,
    delta,
    iterations: 20,
    variations: 1, // L = 2: the kept candidate and one variation
    neighbours: 1,
    variation: 'paraphrase',
    ...o,
  };
}

// Design of the noise-scale test (Xie et al. 2024 Alg. 1; histogram.ts privatizeHistogram: N(0, σ²) on every count,
// then max(·, 0), which keeps the order unless both counts are ≤ 0). Per label and iteration the clean histogram is
// (V_A, V_B) with margin V_A − V_B = m, so P[beta kept] = Φ(−m/(√2σ)) =: p0, independently across labels and
// iterations (fresh noise stream per histogram). 25 labels × T = 20 iterations give N = 500 Bernoulli(p0) trials.
// m = ⌈1.4·√2σ⌉ (ε = 2, T = 20: σ ≈ 8.22, m = 17, z = m/(√2σ) ≈ 1.46), with R = 120 or 121 rows per label so that R − m
// is even (V_A = (R + m)/2), and 25 or 0 filler rows so that the unit count, hence δ and σ, stay the same. At
// z = 1.463 (binomialTest at alpha = 1e-6): acceptance [11, 67], P[fail | correct] = 5.4e-7, P[pass | σ/2] = 1.9e-9,
// P[pass | 2σ] = 2.4e-8 (at z = 1.4 it would be [14, 73], 6.1e-7, 9.3e-11, 8.7e-8). The test recomputes the design
// for the σ at hand and asserts all three bounds ≤ 1e-6, and V_B ≥ 6σ so that both counts clip to 0 (a tie) with
// probability < 1e-9.
test('the histogram noise released by runAugPe has the σ charged in the ledger (binomial test over 25 labels × 20 iterations)', async (t) => {
  const labels = Array.from({ length: 25 }, (_, i) => `l${String(i).padStart(2, '0')}`);
  const first = await dataset(labels, 160, labels.length);
  const m = Math.ceil(1.4 * Math.SQRT2 * planAugPe(first.ds, settings(labels, first.delta, {})).sigma);
  const rows = m % 2 === 0 ? 160 : 161;
  const { ds, units, ledger, delta } = rows === 160 ? first : await dataset(labels, rows, 0);
  const plan = planAugPe(ds, settings(labels, delta, {}));
  const sigma = plan.sigma;
  assert.equal(Math.ceil(1.4 * Math.SQRT2 * sigma), m, 'design: the same σ with the other row count');
  const vA = (rows + m) / 2;
  assert.ok(rows - vA >= 6 * sigma, `design: V_B = ${rows - vA} must be ≥ 6σ = ${6 * sigma}`);
  const provider = stubs(() => vA);

  const r = await runAugPe({ dataset: ds, plan, provider, ledger, units, random: seeded('noise-scale') });
  assert.equal(r.status, 'completed');
  const status = await ledger.status({ identity: ds.identity, units }, { labels });
  const charges = status.runs[0]!.charges;
  assert.equal(charges.length, labels.length);
  const charged = charges.map((c) => c.sigma);
  assert.ok(
    charged.every((s) => s === charged[0]),
    'every label is charged the same σ',
  );

  const sel = selections(r);
  assert.equal(sel.length, labels.length * plan.settings.iterations);
  assert.ok(sel.every((s) => s.texts.length === 1 && (s.texts[0] === ALPHA || s.texts[0] === BETA)));
  const n = sel.length;
  const beta = sel.filter((s) => s.texts[0] === BETA).length;
  const z = m / (Math.SQRT2 * charged[0]!); // under the σ the ledger was charged
  const design = binomialTest(n, normalCdf(-z), 1e-6);
  assert.ok(design.falseFailure <= 1e-6);
  assert.ok(design.accept(normalCdf(-2 * z)) <= 1e-6, 'design: σ/2 must fail with probability ≥ 1 − 1e-6');
  assert.ok(design.accept(normalCdf(-z / 2)) <= 1e-6, 'design: 2σ must fail with probability ≥ 1 − 1e-6');
  t.diagnostic(
    `σ ${sigma.toFixed(4)}, margin ${m}, z ${z.toFixed(4)}; beta kept ${beta} of ${n}, ` +
      `expected ${(n * normalCdf(-z)).toFixed(1)}, accept [${design.lo}, ${design.hi}]`,
  );
  assert.ok(
    beta >= design.lo && beta <= design.hi,
    `${beta} of ${n} selections kept beta; with the charged σ expected ${(n * normalCdf(-z)).toFixed(1)} ` +
      `(accept [${design.lo}, ${design.hi}]); fewer means less noise than charged, more means more`,
  );
  // The released records are the last selection.
  assert.deepEqual(
    r.records.map((x) => x.text),
    sel.filter((s) => s.iteration === plan.settings.iterations).map((s) => s.texts[0]),
  );
});

test('runAugPe charges the ledger the planned σ for exactly the T histograms it released, and the settled ε is theirs', async () => {
  const labels = ['la', 'lb'];
  const { ds, units, ledger, delta } = await dataset(labels, 40);
  const plan = planAugPe(ds, settings(labels, delta, { iterations: 7 }));
  const r = await runAugPe({ dataset: ds, plan, provider: stubs(() => 25), ledger, units, random: seeded('steps') });
  assert.equal(r.status, 'completed');
  const sel = selections(r);
  for (const l of labels)
    assert.equal(sel.filter((s) => s.label === l).length, plan.settings.iterations, 'one release per iteration');
  const status = await ledger.status({ identity: ds.identity, units }, { labels });
  const run = status.runs[0]!;
  assert.equal(run.status, 'settled');
  for (const c of run.charges) {
    assert.equal(c.kind, 'gaussian');
    assert.equal(c.sigma, plan.sigma, 'the ledger is charged the σ the plan calibrated');
    assert.equal(c.steps, plan.settings.iterations, 'steps charged = histograms released = T');
  }
  assert.equal(r.histograms, plan.settings.iterations);
  assert.ok(Math.abs(r.epsilonCharged - plan.epsilonRun) < 1e-9, `${r.epsilonCharged} vs ${plan.epsilonRun}`);
  assert.ok(Math.abs(status.spent - plan.epsilonRun) < 1e-9, `spent ${status.spent} vs planned ${plan.epsilonRun}`);
});

/** A deterministic stand-in for crypto.getRandomValues (xoshiro from a seed), to see what the default source feeds. */
function fakeGetRandomValues(seed: string) {
  const rng = seededRandom(`crypto/${seed}`);
  let calls = 0;
  return {
    fill: <T extends ArrayBufferView>(a: T): T => {
      calls++;
      const words = new Uint32Array(a.buffer, a.byteOffset, a.byteLength / 4);
      for (let i = 0; i < words.length; i++) words[i] = rng.nextUint32();
      return a;
    },
    calls: () => calls,
  };
}

test('without a random option runAugPe draws all its randomness from crypto.getRandomValues (the production default)', async (t) => {
  // One label, so the order of draws is fixed. With V_A = V_B every selection is a fair coin of the noise; the 30
  // selections of two runs from different sources coincide with probability 2^−30.
  const run = async (seed: string | undefined) => {
    const { ds, units, ledger, delta } = await dataset(['only'], 40);
    const plan = planAugPe(ds, settings(['only'], delta, { iterations: 30 }));
    let fake: ReturnType<typeof fakeGetRandomValues> | undefined;
    if (seed !== undefined) {
      fake = fakeGetRandomValues(seed);
      t.mock.method(globalThis.crypto, 'getRandomValues', fake.fill);
    }
    try {
      const r = await runAugPe({ dataset: ds, plan, provider: stubs(() => 20), ledger, units });
      return { picks: selections(r).map((s) => s.texts.join('+')), calls: fake?.calls() ?? 0 };
    } finally {
      t.mock.restoreAll();
    }
  };
  const a1 = await run('one');
  const a2 = await run('one');
  const b = await run('two');
  const real1 = await run(undefined);
  const real2 = await run(undefined);
  assert.ok(a1.calls > 0, 'the default source calls crypto.getRandomValues');
  assert.equal(a1.picks.length, 30);
  assert.deepEqual(a2.picks, a1.picks, 'the same crypto bytes give the same release: nothing else feeds it');
  assert.notDeepEqual(b.picks, a1.picks, 'other crypto bytes give another release: no fixed seeded generator');
  assert.notDeepEqual(real2.picks, real1.picks, 'two real runs differ');
});
