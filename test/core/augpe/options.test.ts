// The paper's options through runAugPe: lookahead K (Lin et al. 2024, PE, Alg. 1; Xie et al. 2024 lookahead_degree),
// `prob` selection (PE Alg. 1: draws ∝ the noisy histogram), and DP class fractions (a Gaussian release of the label
// counts composed with the T histograms: μ² = T/σ² + 1/σ_c², Dong, Roth & Su 2022, Cor. 3.3). docs/AUGPE.md lists the
// options; docs/TESTING.md the mutations these tests catch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadDataset, summarize, type Dataset } from '../../../src/core/data';
import { lookaheadMean } from '../../../src/core/augpe/lookahead';
import { planAugPe, releaseClassCounts, type AugPeSettings } from '../../../src/core/augpe/plan';
import { runAugPe, type AugPeResult } from '../../../src/core/augpe/run';
import { probSelect } from '../../../src/core/augpe/select';
import { Ledger, defaultAccountant } from '../../../src/core/ledger';
import { epsilonFor, gaussianEpsilon, gaussianMuFor, normalCdf } from '../../../src/core/privacy';
import type { Provider } from '../../../src/core/providers/types';
import { seededRandom } from '../../support/rng';
import { binomialTest } from '../../support/stats';
import { tempDir, writeFile } from '../../support/tmp';

const seeded = (seed: string) => (stream: string) => seededRandom(`${seed}/${stream}`);

async function dataset(rowsPerLabel: Record<string, number>, unitColumn = false) {
  const root = tempDir('pfs-augpe-options-');
  const lines = [unitColumn ? 'text,label,unit' : 'text,label'];
  let u = 0;
  for (const [l, n] of Object.entries(rowsPerLabel))
    for (let i = 0; i < n; i++) lines.push(`${l} row ${i},${l}${unitColumn ? `,u${u++ % 7}` : ''}`);
  writeFile(root, 'data.csv', lines.join('\n') + '\n');
  const ds: Dataset = await loadDataset('data.csv', {
    root,
    textColumn: 'text',
    labelColumn: 'label',
    ...(unitColumn ? { unitColumn: 'unit' } : {}),
  });
  const units = summarize(ds).units;
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  // A total large enough for the designs below (the default is 4).
  const delta = (await ledger.setTotal({ identity: ds.identity, units }, { epsilon: 100 })).total.delta;
  return { ds, units, ledger, delta };
}

function checkpointLines(r: AugPeResult): { type: string; [k: string]: unknown }[] {
  return readFileSync(r.checkpoint, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

/** The sample a variation request varies (paraphrase prompts end with "Text: <sample>"). */
const sampleOf = (user: string) => /\nText: (.*)$/.exec(user)?.[1];

// ---------------------------------------------------------------------------------------------------------------
// Lookahead.

test('lookaheadMean: row i is the mean of rows i·K … i·K + K − 1', () => {
  const m = { rows: 4, dim: 2, data: Float32Array.of(1, 2, 3, 4, -1, 0, 1, 8) };
  assert.deepEqual([...lookaheadMean(m, 2).data], [2, 3, 0, 4]);
  assert.deepEqual([...lookaheadMean(m, 1).data], [...m.data]);
  assert.throws(() => lookaheadMean(m, 3), /not a multiple/);
});

/**
 * Two seeds per label, "A" and "B", and their variations: a variation of X is "X.<i>". Embeddings: A → (1, 0),
 * B → (0, 1), a variation of anything that starts with A → (−1, 0), of B → (1, 0). Private rows sit at (1, 0). With
 * K = 0 the vote goes to A (its own embedding is the private point); with K ≥ 1 A's variations average to (−1, 0) and
 * B's to (1, 0), so the vote goes to B. The stub counts the variation requests per sample.
 */
function lookaheadStub() {
  let seeds = 0;
  let vars = 0;
  const variationsOf = new Map<string, number>();
  const p: Provider = {
    kind: 'stub',
    model: 'lookahead',
    offline: false,
    capabilities: async () => ({ nextTokenLogprobs: null, generate: true, embed: true, notes: [] }),
    nextTokens: async () => {
      throw new Error('stub: no nextTokens');
    },
    generate: async (r) => {
      const user = r.messages!.at(-1)!.content;
      const sample = sampleOf(user);
      const n = r.n ?? 1;
      if (sample === undefined) return { texts: Array.from({ length: n }, () => (seeds++ % 2 === 0 ? 'A' : 'B')) };
      variationsOf.set(sample, (variationsOf.get(sample) ?? 0) + n);
      return { texts: Array.from({ length: n }, () => `${sample}.${vars++}`) };
    },
    embed: async (texts) =>
      texts.map((t) => {
        if (t === 'A') return Float32Array.of(1, 0);
        if (t === 'B') return Float32Array.of(0, 1);
        if (t.startsWith('A.')) return Float32Array.of(-1, 0);
        if (t.startsWith('B.')) return Float32Array.of(1, 0);
        return Float32Array.of(1, 0); // private rows
      }),
    usage: () => ({ calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 }),
  };
  return { p, variationsOf };
}

const lookSettings = (delta: number, o: Partial<AugPeSettings>): AugPeSettings => ({
  labels: ['only'],
  count: 2, // seeds A and B
  epsilon: 8,
  delta,
  iterations: 1,
  variations: 1,
  variation: 'paraphrase',
  ...o,
});

test('lookahead K: the vote uses the mean embedding of K variations of each candidate, and K variations are requested', async () => {
  for (const K of [0, 3]) {
    const { ds, units, ledger, delta } = await dataset({ only: 200 });
    const plan = planAugPe(ds, lookSettings(delta, { lookahead: K }));
    assert.ok(plan.sigma < 200 / 8, `design: 200 votes ≫ σ = ${plan.sigma}`);
    const { p, variationsOf } = lookaheadStub();
    const r = await runAugPe({ dataset: ds, plan, provider: p, ledger, units, random: seeded(`lookahead-${K}`) });
    assert.equal(r.status, 'completed');
    const sel = checkpointLines(r).find((l) => l.type === 'selected')!.records as { text: string; votes: number }[];
    // Population [A, B, A.v, B.v]; rank selection keeps the most-voted first.
    assert.equal(sel[0]!.text, K === 0 ? 'A' : 'B', `K = ${K}: the most-voted candidate`);
    assert.ok(sel[0]!.votes > 150);
    // Variation requests per sample: 1 initial variation of each seed (L − 1 = 1), plus K lookahead variations of each
    // of the 4 candidates in the one iteration.
    assert.equal(variationsOf.get('A'), 1 + K);
    assert.equal(variationsOf.get('B'), 1 + K);
    for (const [sample, n] of variationsOf) if (sample !== 'A' && sample !== 'B') assert.equal(n, K, sample);
    assert.equal(r.report.usage.completions, plan.estimate.completions, 'the plan estimated the completions');
    assert.equal(r.report.parameters.lookahead, K);
  }
});

// ---------------------------------------------------------------------------------------------------------------
// prob selection.

test('probSelect draws each candidate with probability ∝ its noisy count (binomial test per candidate, seeded RNG)', () => {
  const w = [1, 2, 3, 0, 4, 0.5];
  const total = w.reduce((a, b) => a + b, 0);
  const n = 20_000;
  const picks = probSelect(w, n, seededRandom('prob-select'));
  assert.equal(picks.length, n);
  w.forEach((x, j) => {
    const k = picks.filter((i) => i === j).length;
    if (x === 0) return assert.equal(k, 0, 'a zero count is never drawn');
    const design = binomialTest(n, x / total, 1e-6);
    assert.ok(k >= design.lo && k <= design.hi, `candidate ${j}: ${k} of ${n}, accept [${design.lo}, ${design.hi}]`);
    // The design tells the proportional rule from the uniform one wherever they differ by more than 0.05.
    if (Math.abs(x / total - 1 / w.length) > 0.05)
      assert.ok(design.accept(1 / w.length) <= 1e-6, `design: uniform must fail for candidate ${j}`);
  });
  // All zero (everything below the threshold): uniform.
  const u = probSelect([0, 0, 0, 0], 8000, seededRandom('prob-zero'));
  for (let j = 0; j < 4; j++) {
    const k = u.filter((i) => i === j).length;
    const d = binomialTest(8000, 0.25, 1e-6);
    assert.ok(k >= d.lo && k <= d.hi, `${k}`);
  }
  assert.throws(() => probSelect([1, -1], 1, seededRandom('x')), /finite count/);
});

/** The wiring test's alpha/beta stub: every population is {alpha, beta}; `vA` private rows vote alpha, others beta. */
function alphaBeta(vA: number): Provider {
  return {
    kind: 'stub',
    model: 'alpha-beta',
    offline: false,
    capabilities: async () => ({ nextTokenLogprobs: null, generate: true, embed: true, notes: [] }),
    nextTokens: async () => {
      throw new Error('stub: no nextTokens');
    },
    generate: async (r) => {
      const user = r.messages!.at(-1)!.content;
      const text = !user.includes('Rephrase') ? 'alpha' : user.endsWith('Text: alpha') ? 'beta' : 'alpha';
      return { texts: Array.from({ length: r.n ?? 1 }, () => text) };
    },
    embed: async (texts) =>
      texts.map((t) => {
        if (t === 'alpha') return Float32Array.of(1, 0);
        if (t === 'beta') return Float32Array.of(0, 1);
        return Number(/row (\d+)$/.exec(t)![1]) < vA ? Float32Array.of(1, 0) : Float32Array.of(0, 1);
      }),
    usage: () => ({ calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 }),
  };
}

function fakeGetRandomValues(seed: string) {
  const rng = seededRandom(`crypto/${seed}`);
  return <T extends ArrayBufferView>(a: T): T => {
    const words = new Uint32Array(a.buffer, a.byteOffset, a.byteLength / 4);
    for (let i = 0; i < words.length; i++) words[i] = rng.nextUint32();
    return a;
  };
}

// Votes (30, 10) with σ ≈ 1.42 (ε 40, T 60): rank keeps alpha every time (the noise difference, std 2, would have to
// exceed 20: P < 1e-22); prob keeps beta with probability ≈ 10/40 (the noise moves it by a few hundredths), so 60 draws
// give 0 betas with probability ≈ 0.75^60 ≈ 3e-8.
test('prob selection in runAugPe: draws from the select stream ∝ the noisy counts; the production default is crypto', async (t) => {
  const run = async (selection: 'rank' | 'prob', random?: (s: string) => { nextUint32(): number }) => {
    const { ds, units, ledger, delta } = await dataset({ only: 40 });
    const plan = planAugPe(ds, {
      labels: ['only'],
      count: 1,
      epsilon: 40,
      delta,
      iterations: 60,
      variations: 1,
      variation: 'paraphrase',
      selection,
    });
    assert.ok(plan.sigma < 1.5, `design: σ = ${plan.sigma}`);
    const r = await runAugPe({
      dataset: ds,
      plan,
      provider: alphaBeta(30),
      ledger,
      units,
      ...(random ? { random } : {}),
    });
    assert.equal(r.status, 'completed');
    return checkpointLines(r)
      .filter((l) => l.type === 'selected')
      .map((l) => (l.records as { text: string }[])[0]!.text);
  };
  const streams: string[] = [];
  const recording = (s: string) => (streams.push(s), seededRandom(`prob/${s}`));
  const prob = await run('prob', recording);
  assert.equal(streams.filter((s) => s.startsWith('select:')).length, 60, 'one selection stream per histogram');
  const beta = prob.filter((x) => x === 'beta').length;
  const d = binomialTest(60, 0.25, 1e-6);
  assert.ok(beta >= d.lo && beta <= d.hi, `prob kept beta ${beta} of 60, accept [${d.lo}, ${d.hi}]`);
  streams.length = 0;
  const rank = await run('rank', recording);
  assert.equal(rank.filter((x) => x === 'beta').length, 0, 'rank keeps the most-voted');
  assert.equal(streams.filter((s) => s.startsWith('select:')).length, 0, 'rank draws nothing');
  // Production: no random option. With crypto.getRandomValues replaced by a seeded filler, the same bytes give the
  // same prob selections and other bytes other ones: the draws come from the cryptographic source.
  const withCrypto = async (seed: string) => {
    t.mock.method(globalThis.crypto, 'getRandomValues', fakeGetRandomValues(seed));
    try {
      return await run('prob');
    } finally {
      t.mock.restoreAll();
    }
  };
  const a1 = await withCrypto('one');
  const a2 = await withCrypto('one');
  const b = await withCrypto('two');
  assert.deepEqual(a2, a1);
  assert.notDeepEqual(b, a1);
  assert.ok(a1.includes('beta') && b.includes('beta'), 'prob selection, not rank, on the production path');
});

// ---------------------------------------------------------------------------------------------------------------
// DP class fractions.

/** δ(ε) of μ-GDP, written out (Dong, Roth & Su 2022, Cor. 2.13), independently of src/core/privacy/gaussian.ts. */
const gdpDelta = (eps: number, mu: number) =>
  normalCdf(-eps / mu + mu / 2) - Math.exp(eps) * normalCdf(-eps / mu - mu / 2);

test('DP class fractions: μ² = T/σ² + 1/σ_c² meets ε exactly (analytic GDP), with 1/σ_c² = ρ·μ²', async () => {
  const { ds, delta } = await dataset({ a: 30, b: 10 });
  for (const [epsilon, T, rho] of [
    [1, 10, 0.1],
    [4, 5, 0.3],
    [0.5, 20, 0.05],
  ] as const) {
    const plan = planAugPe(ds, { labels: ['a', 'b'], count: 10, epsilon, delta, iterations: T, dpFractions: rho });
    const sc = plan.sigmaClass!;
    const mu2 = T / plan.sigma ** 2 + 1 / sc ** 2;
    const muMax = gaussianMuFor(epsilon, delta);
    assert.ok(Math.abs(Math.sqrt(mu2) / muMax - 1) < 1e-9, `μ ${Math.sqrt(mu2)} vs μ_max ${muMax}`);
    assert.ok(Math.abs(1 / sc ** 2 / (rho * muMax ** 2) - 1) < 1e-9, 'the class release gets the share ρ of μ²');
    assert.ok(Math.abs(plan.mu - Math.sqrt(mu2)) < 1e-12);
    assert.ok(plan.epsilonRun <= epsilon && plan.epsilonRun > epsilon * (1 - 1e-9), `${plan.epsilonRun}`);
    assert.ok(Math.abs(gaussianEpsilon(delta, Math.sqrt(mu2)) - plan.epsilonRun) < 1e-9);
    assert.ok(
      Math.abs(gdpDelta(plan.epsilonRun, Math.sqrt(mu2)) / delta - 1) < 1e-6,
      'δ(ε) by the written-out formula',
    );
    // Without the class release the same ε would allow a smaller σ: the σ_c term is really in the calibration.
    const plain = planAugPe(ds, { labels: ['a', 'b'], count: 10, epsilon, delta, iterations: T });
    assert.ok(plan.sigma > plain.sigma * Math.sqrt(1 / (1 - rho)) * (1 - 1e-9));
    assert.equal(plan.classCounts, 'dp');
    assert.equal(plan.ledgerPlan.charges[0]!.partition, '*', 'the count release reads every label: whole dataset');
    assert.deepEqual(plan.ledgerPlan.charges[0]!.mechanism, { kind: 'gaussian', sigma: sc, steps: 1 });
  }
  assert.throws(
    () => planAugPe(ds, { labels: ['a', 'b'], count: 4, epsilon: 1, delta, fractions: [1, 2], dpFractions: 0.1 }),
    /not both/,
  );
  assert.throws(() => planAugPe(ds, { labels: ['a', 'b'], count: 4, epsilon: 1, delta, dpFractions: 1 }), /\(0, 1\)/);
});

test('DP class fractions in runAugPe: the ledger is charged exactly what the plan previewed; sizes follow the noisy counts', async () => {
  const { ds, units, ledger, delta } = await dataset({ a: 90, b: 10 });
  const plan = planAugPe(ds, {
    labels: ['a', 'b'],
    count: 20,
    epsilon: 6,
    delta,
    iterations: 2,
    variations: 1,
    variation: 'paraphrase',
    dpFractions: 0.5,
  });
  assert.ok(plan.sigmaClass! < 8, `design: σ_c = ${plan.sigmaClass} ≪ the count gap 80`);
  const r = await runAugPe({
    dataset: ds,
    plan,
    provider: alphaBeta(5),
    ledger,
    units,
    random: seeded('dp-fractions'),
  });
  assert.equal(r.status, 'completed');
  const head = checkpointLines(r).find((l) => l.type === 'run')!;
  const counts = head.counts as number[];
  const noisy = head.noisyClassCounts as number[];
  assert.equal(counts[0]! + counts[1]!, 20);
  assert.ok(counts[0]! >= 14 && counts[1]! >= 1, `sizes ${counts} from noisy counts ${noisy}`);
  assert.deepEqual(r.report.parameters.counts, counts);
  assert.equal(r.records.filter((x) => x.label === 'a').length, counts[0]);
  const status = await ledger.status({ identity: ds.identity, units }, { labels: ['a', 'b'] });
  const charges = status.runs[0]!.charges;
  assert.deepEqual(
    charges.map((c) => [c.partition === '*' ? '*' : 'label', c.sigma, c.steps]),
    [
      ['*', plan.sigmaClass, 1],
      ['label', plan.sigma, 2],
      ['label', plan.sigma, 2],
    ],
  );
  assert.ok(Math.abs(r.epsilonCharged - plan.epsilonRun) < 1e-9, `${r.epsilonCharged} vs ${plan.epsilonRun}`);
  assert.ok(Math.abs(status.spent - plan.epsilonRun) < 1e-9, `spent ${status.spent} vs planned ${plan.epsilonRun}`);
  const both = epsilonFor(
    [
      { kind: 'gaussian', sigma: plan.sigmaClass!, steps: 1 },
      { kind: 'gaussian', sigma: plan.sigma, steps: 2 },
    ],
    delta,
    'pld',
  );
  assert.ok(Math.abs(status.spent - both) < 1e-6, 'the PLD of both mechanisms agrees');
});

test('releaseClassCounts: each privacy unit adds a label vector of L2 norm 1 (sensitivity 1), then noise σ_c', async () => {
  const { ds, delta } = await dataset({ a: 10, b: 4 }, true); // 14 rows over 7 units u0…u6
  const plan = planAugPe(ds, { labels: ['a', 'b'], count: 5, epsilon: 1, delta, dpFractions: 0.2 });
  // Clean values: unit u_j has r_a rows of a and r_b of b; it adds (r_a, r_b)/‖(r_a, r_b)‖₂.
  const rows = new Map<string, [number, number]>();
  let u = 0;
  for (const [li, n] of [
    [0, 10],
    [1, 4],
  ] as const)
    for (let i = 0; i < n; i++) {
      const id = `u${u++ % 7}`;
      const v: [number, number] = rows.get(id) ?? [0, 0];
      v[li]++;
      rows.set(id, v);
    }
  const clean: [number, number] = [0, 0];
  for (const [ra, rb] of rows.values()) {
    const norm = Math.hypot(ra, rb);
    clean[0] += ra / norm;
    clean[1] += rb / norm;
  }
  const tiny = { ...plan, sigmaClass: 1e-4 };
  const { noisy, counts } = releaseClassCounts(ds, tiny, seededRandom('class-clean'));
  assert.ok(Math.abs(noisy[0]! - clean[0]!) < 1e-3 && Math.abs(noisy[1]! - clean[1]!) < 1e-3, `${noisy} vs ${clean}`);
  assert.equal(counts[0]! + counts[1]!, 5);
  assert.ok(
    counts.every((c) => c >= 1),
    'every label gets a record whatever the noise',
  );
  // Noise std σ_c: 2000 releases of the 'a' count, its sample variance within a χ² band.
  const draws = Array.from(
    { length: 2000 },
    (_, i) => releaseClassCounts(ds, plan, seededRandom(`class-${i}`)).noisy[0]! - clean[0]!,
  );
  const v = draws.reduce((a, x) => a + x * x, 0) / draws.length;
  const ratio = v / plan.sigmaClass! ** 2;
  assert.ok(
    ratio > 0.85 && ratio < 1.15,
    `variance ratio ${ratio} (χ²₂₀₀₀/2000 is within [0.87, 1.14] w.p. > 1 − 1e-6)`,
  );
});
