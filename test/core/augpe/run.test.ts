import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadDataset, summarize, type Dataset } from '../../../src/core/data';
import { planAugPe, type AugPeSettings } from '../../../src/core/augpe/plan';
import { runAugPe } from '../../../src/core/augpe/run';
import { Ledger, defaultAccountant } from '../../../src/core/ledger';
import { epsilonFor, gaussianEpsilon } from '../../../src/core/privacy';
import { seededRandom } from '../../support/rng';
import { createBuiltinProvider, embedText } from '../../../src/core/providers/builtin';
import type { GenerateRequest, Provider } from '../../../src/core/providers/types';
import { tempDir, writeFile } from '../../support/tmp';
import { repoRoot } from '../../support/cli';

const LABELS = ['card_arrival', 'exchange_rate'];
const seeded = (seed: string) => (stream: string) => seededRandom(`${seed}/${stream}`);

async function setup(
  csv = readFileSync(`${repoRoot}/examples/banking77-sample.csv`),
): Promise<{ root: string; ds: Dataset; units: number; ledger: Ledger; delta: number }> {
  const root = tempDir('pfs-augpe-');
  writeFile(root, 'data.csv', csv);
  const ds = await loadDataset('data.csv', { root });
  const units = summarize(ds).units;
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  const delta = (await ledger.status({ identity: ds.identity, units })).total.delta;
  return { root, ds, units, ledger, delta };
}

function small(delta: number, o: Partial<AugPeSettings> = {}): AugPeSettings {
  return { labels: LABELS, count: 8, epsilon: 3, delta, iterations: 3, ...o };
}

/** Every text a generate request carries (messages and prompt). */
function requestText(r: GenerateRequest): string {
  return [...(r.messages ?? []).map((m) => m.content), r.prompt ?? ''].join('\n');
}

/** A provider that records what reaches generate and embed; `tamper` (tests only) may rewrite a generate request. */
function spy(inner: Provider, tamper?: (r: GenerateRequest, i: number) => GenerateRequest) {
  const generated: string[] = [];
  const embedded: string[] = [];
  let n = 0;
  const provider: Provider = {
    kind: inner.kind,
    model: inner.model,
    offline: inner.offline,
    capabilities: (s) => inner.capabilities(s),
    nextTokens: (r) => inner.nextTokens(r),
    generate: async (r) => {
      const sent = tamper ? tamper(r, n++) : r;
      generated.push(requestText(sent));
      return inner.generate(sent);
    },
    embed: async (texts, s) => {
      embedded.push(...texts);
      return inner.embed(texts, s);
    },
    usage: () => inner.usage(),
  };
  return { provider, generated, embedded };
}

const wordSeq = (t: string) => t.toLowerCase().match(/[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu) ?? [];

/**
 * Private rows (whole, normalised to their words) and 5-word windows of them that appear in any of `requests`.
 * Rows shorter than 5 words count only when the whole row appears.
 */
function findLeaks(requests: readonly string[], rows: readonly string[]): string[] {
  const windows = new Map<string, string>();
  for (const row of rows) {
    const w = wordSeq(row);
    if (w.length < 5) windows.set(w.join(' '), row);
    for (let i = 0; i + 5 <= w.length; i++) windows.set(w.slice(i, i + 5).join(' '), row);
  }
  const found = new Set<string>();
  for (const r of requests) {
    const w = wordSeq(r);
    for (let len = 1; len <= 5; len++) {
      for (let i = 0; i + len <= w.length; i++) {
        const key = w.slice(i, i + len).join(' ');
        const row = windows.get(key);
        // A short row must match whole; a window of a long row has exactly 5 words.
        if (row !== undefined && (len === 5 || wordSeq(row).length === len)) found.add(key);
      }
    }
  }
  return [...found];
}

function centroidSimilarity(ds: Dataset, label: string): (texts: string[]) => number {
  const priv = ds.examples.filter((e) => e.label === label).map((e) => embedText(e.text));
  const c = new Float64Array(priv[0]!.length);
  for (const p of priv) for (let i = 0; i < c.length; i++) c[i]! += p[i]!;
  const norm = Math.hypot(...c);
  return (texts) =>
    texts.reduce((a, t) => a + embedText(t).reduce((s, x, i) => s + x * c[i]!, 0) / norm, 0) / texts.length;
}

test('end to end with the built-in model: records, checkpoint, report, the ledger charged exactly the plan, and the population moves toward the private texts', async (t) => {
  const { ds, units, ledger, delta } = await setup();
  const plan = planAugPe(ds, small(delta));
  const progress: string[] = [];
  const r = await runAugPe({
    dataset: ds,
    plan,
    provider: createBuiltinProvider(),
    ledger,
    units,
    random: seeded('e2e'),
    onProgress: (p) => progress.push(`${p.phase}:${p.iteration}`),
  });
  assert.equal(r.status, 'completed');
  assert.equal(r.histograms, 3);
  assert.deepEqual(
    r.records.map((x) => x.label),
    [
      'card_arrival',
      'card_arrival',
      'card_arrival',
      'card_arrival',
      'exchange_rate',
      'exchange_rate',
      'exchange_rate',
      'exchange_rate',
    ],
  );
  assert.ok(r.records.every((x) => x.text.trim() !== ''));
  assert.ok(
    progress.includes('histogram:3') && progress.includes('variations:2') && !progress.includes('variations:3'),
  );

  // Ledger: exactly the planned ε, which is the analytic-Gaussian ε of μ = √T/σ.
  const after = await ledger.status({ identity: ds.identity, units });
  assert.equal(after.runs.length, 1);
  assert.equal(after.runs[0]!.status, 'settled');
  assert.equal(after.runs[0]!.algorithm, 'aug-pe');
  assert.deepEqual(
    after.runs[0]!.charges.map((c) => [c.kind, c.sigma, c.steps]),
    [
      ['gaussian', plan.sigma, 3],
      ['gaussian', plan.sigma, 3],
    ],
  );
  assert.ok(Math.abs(after.spent - plan.epsilonRun) < 1e-9, `spent ${after.spent} vs planned ${plan.epsilonRun}`);
  assert.ok(Math.abs(plan.epsilonRun - gaussianEpsilon(delta, Math.sqrt(3) / plan.sigma)) < 1e-12);
  assert.ok(plan.epsilonRun <= 3 && plan.epsilonRun > 3 - 1e-9);
  assert.equal(r.epsilonCharged, plan.epsilonRun);

  // Checkpoint: the run, the initial populations, each iteration's selection per label, the settlement.
  const lines = readFileSync(r.checkpoint, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines[0].type, 'run');
  assert.equal(lines.filter((l) => l.type === 'initial').length, 2);
  const selected = lines.filter((l) => l.type === 'selected');
  assert.deepEqual(selected.map((l) => `${l.iteration}:${l.label}`).sort(), [
    '1:card_arrival',
    '1:exchange_rate',
    '2:card_arrival',
    '2:exchange_rate',
    '3:card_arrival',
    '3:exchange_rate',
  ]);
  assert.ok(selected.every((l) => l.records.length === 4));
  assert.deepEqual(lines.at(-1), {
    type: 'settled',
    status: 'completed',
    histograms: 3,
    released: lines.at(-1).released,
  });

  // Report.
  assert.equal(r.report.algorithm, 'aug-pe');
  assert.equal(r.report.provider.offline, true);
  assert.equal(r.report.privacy.sigma, plan.sigma);
  assert.equal(r.report.privacy.iterations, 3);
  assert.deepEqual(r.report.parameters.counts, [4, 4]);
  assert.equal(r.report.usage.completions, plan.estimate.completions);
  assert.ok(
    r.report.usage.syntheticEmbedded <= plan.estimate.syntheticEmbeddings && r.report.usage.syntheticEmbedded > 0,
  );
  assert.equal(r.privateEmbeddingUsage.calls, 2, 'one embedding request per label for the private rows');

  // Quality: mean similarity to the label's private centroid, initial population vs. the released selection. The
  // assertion is on the mean over both labels (measured over 30 seeds in bench/augpe: see docs/AUGPE.md).
  const gains: number[] = [];
  for (const label of LABELS) {
    const sim = centroidSimilarity(ds, label);
    const init = sim(lines.find((l) => l.type === 'initial' && l.label === label).candidates);
    const per = selected
      .filter((l) => l.label === label)
      .sort((a, b) => a.iteration - b.iteration)
      .map((l) => sim(l.records.map((x: { text: string }) => x.text)));
    t.diagnostic(`${label}: initial ${init.toFixed(3)} → selected ${per.map((x) => x.toFixed(3)).join(' → ')}`);
    gains.push(per.at(-1)! - init);
  }
  assert.ok(
    gains[0]! + gains[1]! > 0,
    `the released records are closer to the private centroids than the initial population (gains ${gains.join(', ')})`,
  );
});

test('private text never reaches the generator over a full run (and the check catches a leak when one is planted)', async () => {
  const { ds, units, ledger, delta } = await setup();
  const plan = planAugPe(ds, small(delta, { iterations: 2 }));
  const rows = ds.examples.map((e) => e.text);
  const s = spy(createBuiltinProvider());
  const r = await runAugPe({ dataset: ds, plan, provider: s.provider, ledger, units, random: seeded('spy') });
  assert.equal(r.status, 'completed');
  assert.ok(s.generated.length >= plan.estimate.completions / 2, `${s.generated.length} generate requests recorded`);
  assert.deepEqual(findLeaks(s.generated, rows), []);
  // The private rows of the run's labels did go somewhere: to embed, and only there.
  const runRows = ds.examples.filter((e) => LABELS.includes(e.label)).map((e) => e.text);
  const embedded = new Set(s.embedded);
  assert.ok(runRows.every((t) => embedded.has(t)));

  // Teeth: a deliberately broken prompt builder (test-only) that adds one private row as an "example" to one
  // request and a 5-word window of another row to a second request is caught by the same check.
  const long = ds.examples.filter((e) => wordSeq(e.text).length >= 9).map((e) => e.text);
  const whole = long[0]!;
  const window = wordSeq(long[1]!).slice(2, 7).join(' ');
  const leaky = (r: GenerateRequest, i: number): GenerateRequest => {
    if (i !== 5 && i !== 17) return r;
    const extra = i === 5 ? `For example: ${whole}` : `Something like ... ${window.toUpperCase()} ...`;
    return {
      ...r,
      messages: [
        ...r.messages!.slice(0, -1),
        { ...r.messages!.at(-1)!, content: `${r.messages!.at(-1)!.content}\n${extra}` },
      ],
    };
  };
  const env2 = await setup();
  const broken = spy(createBuiltinProvider(), leaky);
  await runAugPe({
    dataset: env2.ds,
    plan: planAugPe(env2.ds, small(env2.delta, { iterations: 2 })),
    provider: broken.provider,
    ledger: env2.ledger,
    units: env2.units,
    random: seeded('spy'),
  });
  const leaks = findLeaks(broken.generated, rows);
  assert.ok(leaks.includes(window), `the planted window is found: ${JSON.stringify(leaks)}`);
  const wholeWords = wordSeq(whole);
  assert.ok(leaks.includes(wholeWords.slice(0, 5).join(' ')), 'the planted row is found');
});

test('with a separate embedder, the generator gets no embedding request at all', async () => {
  const { ds, units, ledger, delta } = await setup();
  const plan = planAugPe(ds, small(delta, { iterations: 1, count: 2 }));
  const gen = spy(createBuiltinProvider());
  const emb = spy(createBuiltinProvider());
  const r = await runAugPe({
    dataset: ds,
    plan,
    provider: gen.provider,
    embedder: emb.provider,
    ledger,
    units,
    random: seeded('sep'),
  });
  assert.equal(r.status, 'completed');
  assert.equal(gen.embedded.length, 0);
  assert.equal(emb.generated.length, 0);
  assert.ok(emb.embedded.length > 0);
  assert.equal(r.report.embedder.kind, 'builtin');
});

test('a cancel after i histograms settles i steps and keeps the last selection', async () => {
  const { ds, units, ledger, delta } = await setup();
  const plan = planAugPe(ds, small(delta, { iterations: 5 }));
  const controller = new AbortController();
  const r = await runAugPe({
    dataset: ds,
    plan,
    provider: createBuiltinProvider(),
    ledger,
    units,
    random: seeded('cancel'),
    signal: controller.signal,
    onProgress: (p) => {
      if (p.phase === 'variations' && p.iteration === 2) controller.abort();
    },
  });
  assert.equal(r.status, 'cancelled');
  assert.equal(r.histograms, 2);
  assert.equal(r.records.length, 8, 'the selection of iteration 2 is kept');
  const status = await ledger.status({ identity: ds.identity, units });
  const run = status.runs[0]!;
  assert.deepEqual(
    run.charges.map((c) => c.steps),
    [2, 2],
  );
  assert.deepEqual(
    run.planned.map((c) => c.steps),
    [5, 5],
  );
  const expected = epsilonFor([{ kind: 'gaussian', sigma: plan.sigma, steps: 2 }], status.total.delta);
  assert.ok(Math.abs(status.spent - expected) < 1e-9);
  assert.ok(Math.abs(r.epsilonCharged - expected) < 1e-9);
  assert.ok(status.spent < plan.epsilonRun);
});

test('a generator failure mid-run: status failed, the histograms that ran are charged, partial records kept', async () => {
  const { ds, units, ledger, delta } = await setup();
  const plan = planAugPe(ds, small(delta, { iterations: 4, count: 4 }));
  const inner = createBuiltinProvider();
  let broken = false;
  const failing: Provider = {
    ...inner,
    generate: (r) => (broken ? Promise.reject(new Error('server went away')) : inner.generate(r)),
  };
  const r = await runAugPe({
    dataset: ds,
    plan,
    provider: failing,
    ledger,
    units,
    random: seeded('fail'),
    onProgress: (p) => {
      if (p.phase === 'variations' && p.iteration === 2) broken = true;
    },
  });
  assert.equal(r.status, 'failed');
  assert.match(r.error!.message, /server went away/);
  assert.equal(r.histograms, 2);
  assert.equal(r.records.length, 4);
  const run = (await ledger.status({ identity: ds.identity, units })).runs[0]!;
  assert.deepEqual(
    run.charges.map((c) => c.steps),
    [2, 2],
  );
});

test('a run the budget refuses sends nothing to either model', async () => {
  const { ds, units, ledger, delta } = await setup();
  const plan = planAugPe(ds, small(delta, { epsilon: 5 }));
  const s = spy(createBuiltinProvider());
  await assert.rejects(runAugPe({ dataset: ds, plan, provider: s.provider, ledger, units, random: seeded('refuse') }), {
    name: 'BudgetExceededError',
  });
  assert.equal(s.generated.length + s.embedded.length, 0);
});

test('privacy units spanning labels: one joint charge on the whole dataset', async () => {
  const lines = readFileSync(`${repoRoot}/examples/banking77-sample.csv`, 'utf8').trimEnd().split('\n');
  const csv = [`${lines[0]},user`, ...lines.slice(1).map((l, i) => `${l},user${i % 300}`)].join('\n') + '\n';
  const { root, ledger } = await setup(Buffer.from(csv));
  const ds = await loadDataset('data.csv', { root, unitColumn: 'user' });
  const status = await ledger.status({ identity: ds.identity, units: summarize(ds).units });
  const plan = planAugPe(ds, small(status.total.delta, { iterations: 2, count: 4 }));
  assert.equal(plan.sequential, true);
  const r = await runAugPe({
    dataset: ds,
    plan,
    provider: createBuiltinProvider(),
    ledger,
    units: summarize(ds).units,
    random: seeded('span'),
  });
  assert.equal(r.status, 'completed');
  const run = (await ledger.status({ identity: ds.identity, units: summarize(ds).units })).runs[0]!;
  assert.deepEqual(
    run.charges.map((c) => [c.partition, c.steps]),
    [['*', 2]],
  );
});
