import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadDataset, summarize, type Dataset } from '../../../src/core/data';
import { exactPoolCounts, releasePoolCounts } from '../../../src/core/fewshot/counts';
import { calibrateFromCounts, planFewShot, runEpsilon } from '../../../src/core/fewshot/plan';
import { buildPools } from '../../../src/core/runs/pools';
import { runFewShot } from '../../../src/core/fewshot/run';
import { Ledger, type LedgerAccountant, type RunPlan } from '../../../src/core/ledger';
import { calibrateSigma, epsilonFor, type RandomSource } from '../../../src/core/privacy';
import { seededRandom } from '../../support/rng';
import { createBuiltinProvider } from '../../../src/core/providers/builtin';
import { tempDir, writeFile } from '../../support/tmp';
import { repoRoot } from '../../support/cli';

const accountant: LedgerAccountant = {
  name: 'pld',
  epsilonFor: (specs, delta) => epsilonFor(specs, delta, 'pld'),
  calibrateSigma: (target, shape) => calibrateSigma(target, shape, 'pld'),
};
const LABELS = ['card_arrival', 'exchange_rate'];
const SETTINGS = { labels: LABELS, shots: 1, epsilon: 2, delta: 1e-5, maxTokens: 3, prompts: 4 };

test('pool counts: a unit in k requested pools adds 1/√k to each, so one unit moves the vector by exactly 1 (L2)', () => {
  const pools = new Map([
    [
      'a',
      [
        { id: 'u1', texts: ['x'] },
        { id: 'u2', texts: ['y'] },
        { id: 'u3', texts: ['z'] },
      ],
    ],
    [
      'b',
      [
        { id: 'u1', texts: ['x2'] },
        { id: 'u4', texts: ['w'] },
      ],
    ],
    ['c', [{ id: 'u1', texts: ['x3'] }]],
  ]);
  const labels = ['a', 'b', 'c'];
  const k3 = 1 / Math.sqrt(3);
  assert.deepEqual(exactPoolCounts(pools, labels), [2 + k3, 1 + k3, k3]);
  const without = new Map([...pools].map(([l, us]) => [l, us.filter((u) => u.id !== 'u1')]));
  const diff = exactPoolCounts(pools, labels).map((c, i) => c - exactPoolCounts(without, labels)[i]!);
  assert.ok(Math.abs(Math.hypot(...diff) - 1) < 1e-12, `L2 change ${Math.hypot(...diff)}`);
  // Unrequested labels do not count towards k.
  assert.deepEqual(exactPoolCounts(pools, ['a']), [3]);
  // The release is count + exact discrete Gaussian noise: integers stay exact on the noise grid.
  const noise = releasePoolCounts([0, 0], 7.5, seededRandom('n'));
  assert.deepEqual(releasePoolCounts([120, 40], 7.5, seededRandom('n')), [120 + noise[0]!, 40 + noise[1]!]);
});

async function dataset(extra: string[] = []): Promise<{ ds: Dataset; units: number; ledger: Ledger }> {
  const root = tempDir('pfs-counts-');
  const text = readFileSync(`${repoRoot}/examples/banking77-sample.csv`, 'utf8').trimEnd();
  writeFile(root, 'data.csv', [text, ...extra].join('\n') + '\n');
  const ds = await loadDataset('data.csv', { root });
  return { ds, units: summarize(ds).units, ledger: new Ledger(root, { accountant }) };
}

/** Runs with seeded streams and logs, in order, ledger reservations/settlements, row reads and count-noise draws. */
async function logged(x: { ds: Dataset; units: number; ledger: Ledger }, seed: string) {
  const events: string[] = [];
  const { ledger } = x;
  const reserve = ledger.reserve.bind(ledger);
  ledger.reserve = async (d, plan: RunPlan) => {
    events.push(`reserve:${[...new Set(plan.charges.map((c) => c.mechanism.kind))].join('+')}`);
    const r = await reserve(d, plan);
    const settle = r.settle;
    return {
      ...r,
      settle: (u) => {
        events.push(`settle:${[...new Set((u.used ?? []).map((c) => c.mechanism.kind))].join('+')}`);
        return settle(u);
      },
    };
  };
  const rows = x.ds.examples;
  const ds = {
    ...x.ds,
    get examples() {
      if (events.at(-1) !== 'read rows') events.push('read rows');
      return rows;
    },
  };
  const random = (stream: string): RandomSource => {
    const r = seededRandom(`${seed}/${stream}`);
    if (stream !== 'counts') return r;
    return {
      nextUint32: () => {
        if (events.at(-1) !== 'count noise') events.push('count noise');
        return r.nextUint32();
      },
    };
  };
  const plan = planFewShot(ds, { ...SETTINGS, delta: 1e-5 });
  const r = await runFewShot({ dataset: ds, plan, provider: createBuiltinProvider(), ledger, units: x.units, random });
  const status = await ledger.status({ identity: ds.identity, units: x.units });
  return { r, plan, events, status };
}

test('the whole run is reserved before any row is read or any count noise drawn; the steps before any prompt', async () => {
  const { r, events, status } = await logged(await dataset(), 'order');
  assert.equal(r.status, 'completed');
  assert.deepEqual(events.slice(0, 6), [
    // The ledger's dataset identity: the records' keyed fingerprints (records.ts), which decide which earlier runs
    // apply; a local, unreleased read. No mechanism reads a row before the reservation.
    'read rows',
    'reserve:gaussian',
    'read rows',
    'count noise',
    'settle:gaussian',
    'reserve:poisson-gaussian',
  ]);
  // The first reservation held the count release plus the q = 1 stand-in for the steps.
  assert.equal(status.runs[0]!.planned.length, 4);
  assert.equal(status.runs[0]!.charges.length, 2);
});

test('neighbouring datasets (one record more): q and σ differ only through the noisy count, never the exact one', async () => {
  const a = await logged(await dataset(), 'neighbour');
  const b = await logged(await dataset(['"When will my new card finally get here?",card_arrival']), 'neighbour');
  // The plan (count noise σ_c, the stand-in, what is reserved first) is identical: it reads no row.
  assert.deepEqual(a.plan, b.plan);
  const shape = (x: typeof a) => x.status.runs[0]!.planned.map(({ partition: _, ...c }) => c); // salted label hashes
  assert.deepEqual(shape(a), shape(b));
  // The same seeded noise, so ñ moves by exactly the one record, in its own label only.
  const { pools } = buildPools((await dataset()).ds, LABELS);
  const exact = exactPoolCounts(pools, LABELS);
  const noise = releasePoolCounts([0, 0], a.plan.counts.sigma, seededRandom('neighbour/counts'));
  assert.deepEqual(
    a.r.counts.noisy,
    exact.map((c, i) => c + noise[i]!),
  );
  assert.deepEqual(b.r.counts.noisy, [a.r.counts.noisy[0]! + 1, a.r.counts.noisy[1]!]);
  for (const x of [a, b]) {
    // What was run and charged is exactly the function of the noisy counts, and of nothing else.
    const expected = calibrateFromCounts(x.plan, x.r.counts.noisy);
    assert.deepEqual(x.r.labels, expected.labels);
    assert.deepEqual(
      x.status.runs[1]!.planned.map((c) => [c.sigma, c.kind === 'poisson-gaussian' ? c.samplingRate : 1]),
      expected.labels.map((l) => [l.sigma, l.samplingRate]),
    );
  }
  // The exact count would give another q (the noise is not zero), so a run reading it is caught above.
  assert.notEqual(a.r.labels[0]!.samplingRate, Math.min(1, 8 / exact[0]!));
  // The other label's mechanism is the same in both runs.
  assert.deepEqual(b.r.labels[1], a.r.labels[1]);
});

/*
 * Reference values: Google's dp_accounting (github.com/google/differential-privacy, python/dp_accounting, commit
 * b5b0286), PLD accountant with its defaults (value_discretization_interval 1e-4, pessimistic), for the composition
 * of one Gaussian mechanism (the pool counts, σ_c, sensitivity 1) and T = shots × T_max Poisson-subsampled Gaussian
 * steps (σ, q):
 *
 *   PYTHONPATH=python/dp_accounting python3 -c 'import dp_accounting as dp; from dp_accounting.pld import \
 *     pld_privacy_accountant as P; a = P.PLDAccountant(); a.compose(dp.ComposedDpEvent([dp.GaussianDpEvent(SC), \
 *     dp.SelfComposedDpEvent(dp.PoissonSampledDpEvent(Q, dp.GaussianDpEvent(S)), T)])); print(a.get_epsilon(D))'
 *
 * The (σ_c, σ, q, T, δ) are what planFewShot + calibrateFromCounts give for the settings and noisy count ñ listed
 * (run with /usr/bin/python3's numpy, scipy, mpmath, attr and absl from Debian packages).
 */
const REFERENCE = [
  // ε 4, δ 1e-5, 2 shots × 16 tokens, M 10, N 2, ñ 250.5
  {
    settings: { epsilon: 4, delta: 1e-5, shots: 2, maxTokens: 16, prompts: 10, examplesPerPrompt: 2 },
    noisy: 250.5,
    sc: 9.926503628338113,
    s: 0.9892771986886354,
    q: 0.07984031936127745,
    t: 32,
    dpAccounting: 3.5884224213004954,
  },
  // ε 1, δ 1e-5, 4 shots × 64 tokens, M 10, N 2, ñ 1000
  {
    settings: { epsilon: 1, delta: 1e-5, shots: 4, maxTokens: 64, prompts: 10, examplesPerPrompt: 2 },
    noisy: 1000,
    sc: 36.304690426232305,
    s: 1.5931749989070814,
    q: 0.02,
    t: 256,
    dpAccounting: 0.8977643929175263,
  },
  // ε 2, δ 1e-6, 1 shot × 32 tokens, M 20, N 1, ñ 15 (q = 1: no subsampling)
  {
    settings: { epsilon: 2, delta: 1e-6, shots: 1, maxTokens: 32, prompts: 20, examplesPerPrompt: 1 },
    noisy: 15,
    sc: 21.428672552501247,
    s: 13.96012092435366,
    q: 1,
    t: 32,
    dpAccounting: 1.8036938712548507,
  },
  // ε 8, δ 1e-5, 8 shots × 64 tokens, M 10, N 4, ñ 5000, count share 5%
  {
    settings: { epsilon: 8, delta: 1e-5, shots: 8, maxTokens: 64, prompts: 10, examplesPerPrompt: 4, countShare: 0.05 },
    noisy: 5000,
    sc: 10.293659465655344,
    s: 0.5255586658962009,
    q: 0.008,
    t: 512,
    dpAccounting: 7.5650572606868005,
  },
];

test("the ε charged for a run with DP pool counts agrees with Google's dp_accounting (PLD) for all its mechanisms", () => {
  for (const c of REFERENCE) {
    const noUnitColumn = { columns: { text: 't', label: 'l', available: [] } } as unknown as Dataset;
    const plan = planFewShot(noUnitColumn, { labels: ['a'], ...c.settings });
    const mech = calibrateFromCounts(plan, [c.noisy]);
    const l = mech.labels[0]!;
    // These are the parameters the run uses (within the calibration tolerance of 1e-3)...
    assert.ok(Math.abs(plan.counts.sigma / c.sc - 1) < 1e-3, `σ_c ${plan.counts.sigma} vs ${c.sc}`);
    assert.ok(Math.abs(l.sigma / c.s - 1) < 1e-3, `σ ${l.sigma} vs ${c.s}`);
    assert.equal(l.samplingRate, c.q);
    assert.equal(l.steps, c.t);
    // ...and what the run is charged (count release ∘ steps, as runFewShot settles) agrees with dp_accounting.
    // Tolerance: ours may be below theirs by at most 1e-4 (their discretisation interval, by which their own answer
    // is rounded up) and above it by at most 0.1% (we are a valid upper bound, not a loose one).
    const ours = runEpsilon(
      [
        { partition: 'label:a', mechanism: { kind: 'gaussian', sigma: c.sc, steps: 1 } },
        { partition: 'label:a', mechanism: { kind: 'poisson-gaussian', sigma: c.s, samplingRate: c.q, steps: c.t } },
      ],
      c.settings.delta,
    );
    assert.ok(ours >= c.dpAccounting - 1e-4, `ours ${ours} below dp_accounting ${c.dpAccounting}`);
    assert.ok(ours <= c.dpAccounting * 1.001, `ours ${ours} far above dp_accounting ${c.dpAccounting}`);
    assert.ok(Math.abs(mech.epsilonRun - ours) < 1e-9);
    // The guarantee for the adaptively chosen steps: each part meets its share fixed in advance, and the shares add up
    // to (ε, δ) (basic composition); the PLD composition above is below it.
    const share = c.settings.countShare ?? 0.1;
    const { epsilon, delta } = c.settings;
    const countEps = epsilonFor([{ kind: 'gaussian', sigma: c.sc, steps: 1 }], share * delta);
    const stepEps = epsilonFor(
      [{ kind: 'poisson-gaussian', sigma: c.s, samplingRate: c.q, steps: c.t }],
      (1 - share) * delta,
    );
    assert.ok(countEps <= share * epsilon + 1e-9 && countEps > 0.999 * share * epsilon, `count ε ${countEps}`);
    assert.ok(stepEps <= (1 - share) * epsilon + 1e-9 && stepEps > 0.99 * (1 - share) * epsilon, `step ε ${stepEps}`);
    assert.ok(ours <= epsilon);
  }
});
