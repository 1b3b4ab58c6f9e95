// Wiring tests for DP few-shot generation: they go through runFewShot itself (plan → ledger reservation → sampler →
// provider → aggregator → release → settlement) with a stub model whose next-token distributions are known, and check
// from what is released that the noise, the sampling rate and the steps are the ones the ledger was charged for. The
// unit tests of aggregate.ts, sample.ts and plan.ts check the functions; these check that run.ts and decode.ts pass
// the right values between them. docs/TESTING.md lists the one-line mutations each test catches
// (scripts/mutations.sh re-applies them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset, summarize, type Dataset } from '../../../src/core/data';
import { calibrateFromCounts, planFewShot, type FewShotSettings } from '../../../src/core/fewshot/plan';
import { runFewShot, type FewShotResult } from '../../../src/core/fewshot/run';
import { Ledger, defaultAccountant, type ChargeView } from '../../../src/core/ledger';
import { normalCdf } from '../../../src/core/privacy';
import type { NextTokensRequest, Provider } from '../../../src/core/providers/types';
import { seededRandom } from '../../support/rng';
import { binomialTest } from '../../support/stats';
import { tempDir, writeFile } from '../../support/tmp';

const seeded = (seed: string) => (stream: string) => seededRandom(`${seed}/${stream}`);

/** `rows[label]` rows per label; row i of label l reads "unit l-i …", so a prompt shows which units it holds. */
async function dataset(
  rows: Record<string, number>,
): Promise<{ ds: Dataset; units: number; ledger: Ledger; delta: number }> {
  const root = tempDir('pfs-wiring-');
  const lines = ['text,label'];
  for (const [label, n] of Object.entries(rows))
    for (let i = 0; i < n; i++) lines.push(`unit ${label}-${i} wrote a private message,${label}`);
  writeFile(root, 'data.csv', lines.join('\n') + '\n');
  const ds = await loadDataset('data.csv', { root, textColumn: 'text', labelColumn: 'label' });
  const units = summarize(ds).units;
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  return { ds, units, ledger, delta: (await ledger.status({ identity: ds.identity, units })).total.delta };
}

interface Seen {
  label: string;
  continuation: string;
  prompt: string;
}

/**
 * A stub model with two tokens, "a" and "b". For label l every prompt — private or public — gives P(a) = pA(l),
 * P(b) = 1 − pA(l), so the mean of the M restricted distributions is exactly (pA, 1 − pA) whatever the Poisson sample
 * holds: the released token is "b" exactly when the noise difference beats the margin 2pA − 1. Not offline, so the
 * run queries one position at a time (lookahead 1, no prefetch); every request is recorded.
 */
function stubModel(pA: (label: string) => number): { provider: Provider; seen: Seen[] } {
  const seen: Seen[] = [];
  const answer = (r: NextTokensRequest) => {
    const label = /Label: (\S+)\nText:$/.exec(r.prompt)?.[1];
    if (label === undefined) throw new Error(`stub: no label header in ${JSON.stringify(r.prompt.slice(-40))}`);
    seen.push({ label, continuation: r.continuation, prompt: r.prompt });
    const p = pA(label);
    const top = [
      { token: 'a', logprob: Math.log(p) },
      { token: 'b', logprob: Math.log1p(-p) },
    ].sort((x, y) => y.logprob - x.logprob);
    return { steps: Array.from({ length: r.positions }, () => ({ token: top[0]!.token, top })) };
  };
  const provider: Provider = {
    kind: 'stub',
    model: 'two-tokens',
    offline: false,
    capabilities: async () => ({
      nextTokenLogprobs: { maxTopK: 2, mode: 'native', logitBias: false },
      generate: false,
      embed: false,
      notes: [],
    }),
    nextTokens: async (r) => answer(r),
    generate: async () => {
      throw new Error('stub: no generate');
    },
    embed: async () => {
      throw new Error('stub: no embed');
    },
    usage: () => ({ calls: seen.length, inputTokens: 0, outputTokens: 0, cost: 0 }),
  };
  return { provider, seen };
}

/** The settled few-shot charge of each label, read back from the ledger (what was paid for). */
async function settledCharges(ledger: Ledger, ds: Dataset, units: number, labels: string[]) {
  const status = await ledger.status({ identity: ds.identity, units }, { labels });
  // Two ledger runs: the noisy pool-count release, then the token steps (the run that carries the σ and q used).
  assert.equal(status.runs.length, 2);
  assert.ok(status.runs.every((x) => x.status === 'settled'));
  const steps = status.runs.find((x) => x.algorithm === 'dp-few-shot')!;
  const byLabel = new Map<string, Extract<ChargeView, { kind: 'poisson-gaussian' }>>();
  for (const c of steps.charges) if (c.kind === 'poisson-gaussian' && c.label !== undefined) byLabel.set(c.label, c);
  for (const l of labels) assert.ok(byLabel.has(l), `the ledger holds a poisson-gaussian charge for ${l}`);
  return byLabel;
}

/** Released tokens of one label: every demonstration is T_max tokens of "a"/"b" (the stub never ends a text). */
function releasedTokens(r: FewShotResult, label: string): string {
  return r.demonstrations
    .filter((d) => d.label === label)
    .map((d) => d.text)
    .join('');
}

// Design of the noise-scale test (Tang et al. 2024, Alg. 1; aggregate.ts noisyArgmax: each of the K = 2 candidates gets
// N(0, s²) with s = σ·√2/M on the mean distribution). The score difference b − a is (1 − 2pA) + (Z_b − Z_a) with
// Z_b − Z_a ~ N(0, 2s²), so P[release "b"] = Φ(−(2pA − 1)/(√2·s)) = Φ(−(2pA − 1)·M/(2σ)). For each label we set the
// margin 2pA − 1 = z0·2σ/M from the σ the run is charged, so that P[b] = Φ(−z0) = p0 for both labels, although their
// σ differ (their pools, hence q and σ, differ). With z0 = 1.4: p0 = Φ(−1.4) = 0.0808; noise halved anywhere gives
// Φ(−2.8) = 0.0026, noise doubled Φ(−0.7) = 0.242.
// Over N = 500 released tokens (2 labels × 5 shots × T_max 50; tokens are independent given σ: fresh noise per
// token), the count of "b" is Binomial(500, p0). Acceptance region [14, 73] (binomialTest at alpha = 1e-6):
// P[fail | correct] = 6.1e-7 ≤ 1e-6; P[pass | σ/2] = 9.3e-11 and P[pass | 2σ] = 8.7e-8, both ≤ 1e-6.
// The test recomputes these numbers and asserts them, so a change of design cannot silently weaken it.
// The pools (200 and 2000 units, M = 20, N = 2: q = 0.2 and 0.02) give σ ≈ 3.26 and 0.72, so noise at the other
// label's σ is also caught: with σ_a for both labels, label b's z is 1.4·0.72/3.26 ≈ 0.31 (P[b] ≈ 0.38), the expected
// count ≈ 115 and P[count ≤ 73] ≈ 1e-6 (normal approximation, 4.7 standard deviations).
const Z0 = 1.4;

test('the noise released by runFewShot has exactly the scale σ·√2/M of the σ charged in the ledger (binomial test, both labels)', async (t) => {
  const rows = { lab_a: 200, lab_b: 2000 };
  const labels = Object.keys(rows);
  const { ds, units, ledger, delta } = await dataset(rows);
  const settings: FewShotSettings = { labels, shots: 5, epsilon: 4, delta, prompts: 20, maxTokens: 50 };
  const plan = planFewShot(ds, settings);
  const m = plan.settings.prompts;
  // The margins are set from the plan's σ before the run; the expected rate below uses the σ the ledger was charged,
  // so noise that differs from the charged σ (at any call site) moves the released rate away from p0.
  // σ is calibrated from the noisy pool counts drawn in the run; the counts' noise is small next to these pools, so
  // the σ at the exact counts sets the margins close enough (the test's expectation uses the σ actually charged).
  const atExact = calibrateFromCounts(
    plan,
    labels.map((l) => rows[l as keyof typeof rows]),
  );
  const planSigma = new Map(atExact.labels.map((lp) => [lp.label, lp.sigma]));
  assert.notEqual(planSigma.get('lab_a'), planSigma.get('lab_b'), 'design: the two labels have different σ');
  const margin = (label: string) => (Z0 * 2 * planSigma.get(label)!) / m;
  for (const l of labels) assert.ok(margin(l) < 0.95, `design: margin ${margin(l)} for ${l} must be < 1`);
  const { provider } = stubModel((label) => (1 + margin(label)) / 2);

  const r = await runFewShot({ dataset: ds, plan, provider, ledger, units, random: seeded('noise-scale') });
  assert.equal(r.status, 'completed');
  const charges = await settledCharges(ledger, ds, units, labels);

  let n = 0;
  let b = 0;
  let expected = 0; // Σ P[b] under the charged σ: equals n·p0 exactly when the charged σ is the plan's σ
  for (const l of labels) {
    const tokens = releasedTokens(r, l);
    assert.match(tokens, /^[ab]*$/);
    assert.equal(tokens.length, plan.settings.shots * plan.settings.maxTokens);
    const sChargedDiff = (2 * charges.get(l)!.sigma) / m; // std of Z_b − Z_a under the charged σ
    const pB = normalCdf(-margin(l) / sChargedDiff);
    n += tokens.length;
    b += [...tokens].filter((c) => c === 'b').length;
    expected += tokens.length * pB;
  }
  assert.equal(n, 500);
  const p0 = expected / n;
  const design = binomialTest(n, p0, 1e-6);
  assert.ok(design.falseFailure <= 1e-6);
  assert.ok(design.accept(normalCdf(-2 * Z0)) <= 1e-6, 'design: σ/2 must fail with probability ≥ 1 − 1e-6');
  assert.ok(design.accept(normalCdf(-Z0 / 2)) <= 1e-6, 'design: 2σ must fail with probability ≥ 1 − 1e-6');
  t.diagnostic(
    `σ ${labels.map((l) => charges.get(l)!.sigma.toFixed(4)).join(', ')}; "b" ${b} of ${n}, ` +
      `expected ${(n * p0).toFixed(1)}, accept [${design.lo}, ${design.hi}]`,
  );
  assert.ok(
    b >= design.lo && b <= design.hi,
    `${b} of ${n} released tokens are "b"; with the charged σ expected ${(n * p0).toFixed(1)} ` +
      `(accept [${design.lo}, ${design.hi}]); fewer means less noise than charged, more means more`,
  );
});

// Design of the sampling test (Tang et al. 2024 §3 with Poisson sampling; sample.ts): at every token step each unit of
// the label's pool joins the M prompts independently with probability q, and at most once. With one label, one shot and
// T_max = 300 steps, the stub sees each step's prompts (grouped by the released prefix, which is different at every
// step), so the number of unit inclusions over the run is Binomial(T_max·|pool|, q) = Binomial(15 000, q) with q the
// sampling rate charged in the ledger. At q = M·N/|pool| = 10·1/50 = 0.2: mean 3000, acceptance [2763, 3242] at
// alpha = 1e-6 (false failure 9.6e-7); 0.8q and 1.2q are accepted with probability < 1e-11. Any unit seen twice in
// one step fails at once. (q = 0.2 rather than 0.4: the PLD calibration of σ takes 5× less time.)
test('runFewShot samples each unit into at most one prompt per token at the charged rate q, and charges the steps it ran', async (t) => {
  const rows = { lab_q: 50 };
  const labels = Object.keys(rows);
  const { ds, units, ledger, delta } = await dataset(rows);
  const plan = planFewShot(ds, {
    labels,
    shots: 1,
    epsilon: 4,
    delta,
    prompts: 10,
    examplesPerPrompt: 1,
    maxTokens: 300,
  });
  const { provider, seen } = stubModel(() => 0.5);
  const r = await runFewShot({ dataset: ds, plan, provider, ledger, units, random: seeded('sampling') });
  assert.equal(r.status, 'completed');
  const charge = (await settledCharges(ledger, ds, units, labels)).get('lab_q')!;
  const lp = r.labels.find((x) => x.label === 'lab_q')!;
  assert.equal(charge.sigma, lp.sigma, 'the ledger is charged the σ the run used');
  assert.equal(charge.samplingRate, lp.samplingRate, 'the ledger is charged the q the run used');

  // Group the private prompts by step (the released prefix); identical prompt texts within a step are one query.
  const steps = new Map<string, Set<string>>();
  for (const s of seen) {
    const set = steps.get(s.continuation) ?? new Set<string>();
    set.add(s.prompt);
    steps.set(s.continuation, set);
  }
  assert.equal(steps.size, plan.settings.maxTokens, 'one wave of prompts per token step');
  assert.equal(charge.steps, steps.size * plan.settings.shots, 'steps charged = token steps run = shots × T_max');
  assert.equal(charge.steps, plan.settings.shots * plan.settings.maxTokens);

  let included = 0;
  for (const [prefix, prompts] of steps) {
    const units = [...prompts].flatMap((p) => [...p.matchAll(/unit (lab_q-\d+) /g)].map((x) => x[1]!));
    assert.equal(new Set(units).size, units.length, `a unit appears twice in the prompts of step "${prefix}"`);
    assert.ok(prompts.size <= plan.settings.prompts + 1, 'at most M private prompts and the public one per step');
    included += units.length;
  }
  const trials = steps.size * rows.lab_q;
  const design = binomialTest(trials, charge.samplingRate, 1e-6);
  assert.ok(design.accept(charge.samplingRate * 0.8) <= 1e-6 && design.accept(charge.samplingRate * 1.2) <= 1e-6);
  t.diagnostic(`q ${charge.samplingRate}; ${included} inclusions of ${trials}, accept [${design.lo}, ${design.hi}]`);
  assert.ok(
    included >= design.lo && included <= design.hi,
    `${included} unit inclusions in ${trials} chances; q = ${charge.samplingRate} gives [${design.lo}, ${design.hi}]`,
  );
});

/** A deterministic stand-in for crypto.getRandomValues (xoshiro from a seed), to see what the default source feeds. */
function fakeGetRandomValues(seed: string): { fill: <T extends ArrayBufferView>(a: T) => T; calls: () => number } {
  const rng = seededRandom(`crypto/${seed}`);
  let calls = 0;
  return {
    fill: (a) => {
      calls++;
      const words = new Uint32Array(a.buffer, a.byteOffset, a.byteLength / 4);
      for (let i = 0; i < words.length; i++) words[i] = rng.nextUint32();
      return a;
    },
    calls: () => calls,
  };
}

test('without a random option runFewShot draws all its randomness from crypto.getRandomValues (the production default)', async (t) => {
  // One label, one shot: a single chain, so the order of draws is fixed. With a margin of 0 every token is a fair coin
  // of the noise; 64 tokens of two runs from different sources coincide with probability 2^−64.
  const run = async (seed: string | undefined) => {
    const { ds, units, ledger, delta } = await dataset({ lab_p: 30 });
    const plan = planFewShot(ds, { labels: ['lab_p'], shots: 1, epsilon: 4, delta, prompts: 4, maxTokens: 64 });
    const { provider } = stubModel(() => 0.5);
    let fake: ReturnType<typeof fakeGetRandomValues> | undefined;
    if (seed !== undefined) {
      fake = fakeGetRandomValues(seed);
      t.mock.method(globalThis.crypto, 'getRandomValues', fake.fill);
    }
    try {
      const r = await runFewShot({ dataset: ds, plan, provider, ledger, units });
      return { text: r.demonstrations.map((d) => d.text).join('|'), calls: fake?.calls() ?? 0 };
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
  assert.equal(a1.text.length, 64);
  assert.equal(
    a2.text,
    a1.text,
    'the same crypto bytes give the same release: nothing else (Math.random, time) feeds it',
  );
  assert.notEqual(b.text, a1.text, 'other crypto bytes give another release: no fixed seeded generator is the default');
  assert.notEqual(real2.text, real1.text, 'two real runs differ');
});
