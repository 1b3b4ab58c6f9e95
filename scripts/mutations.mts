// Deliberate one-line bugs in the privacy wiring, and which tests catch them (docs/TESTING.md, "Wiring tests and
// mutations"). For each mutation: check that its target text occurs exactly once, write the mutated file, run the
// listed test files (and ESLint where the rule is the catcher), record which tests failed, and restore the file.
//
//   node --import tsx scripts/mutations.mts            all mutations (≈ 5–10 min on a busy 2-core machine)
//   node --import tsx scripts/mutations.mts m03 m07    only these
//
// Not part of npm test. It refuses to touch a file with uncommitted changes, and restores every file it changed,
// also on Ctrl-C. A mutation whose target text is gone is reported "stale": update its `from` after a refactor.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

interface Mutation {
  id: string;
  what: string;
  file: string;
  /** Exact replacements; each `from` must occur exactly once in the file. */
  edits: [from: string, to: string][];
  tests: string[];
  /** Also run ESLint on the mutated file (for mutations the lint rules are meant to catch). */
  lint?: boolean;
}

const FS = 'src/core/fewshot';
const AP = 'src/core/augpe';
const T = (name: string) => `test/core/${name}.test.ts`;

const MUTATIONS: Mutation[] = [
  {
    id: 'm01',
    what: 'fewshot/run.ts passes σ/2 to the decoder (hence the aggregator)',
    file: `${FS}/run.ts`,
    edits: [['          sigma: lp.sigma,\n', '          sigma: lp.sigma / 2,\n']],
    tests: [T('fewshot/wiring'), T('fewshot/run')],
  },
  {
    id: 'm02',
    what: "fewshot/run.ts halves the noise std in the aggregator's noise callback",
    file: `${FS}/run.ts`,
    edits: [['gaussianNoise(noiseRng, std)', 'gaussianNoise(noiseRng, std / 2)']],
    tests: [T('fewshot/wiring'), T('fewshot/run')],
  },
  {
    id: 'm03',
    what: 'augpe/run.ts passes σ/2 to privatizeHistogram',
    file: `${AP}/run.ts`,
    edits: [
      ['          clean[i]!,\n          this.plan.sigma,\n', '          clean[i]!,\n          this.plan.sigma / 2,\n'],
    ],
    tests: [T('augpe/wiring'), T('augpe/run')],
  },
  {
    id: 'm04',
    what: 'runFewShot defaults to the seeded test generator instead of cryptoRandom()',
    file: `${FS}/run.ts`,
    edits: [
      [
        "import { cryptoRandom, gaussianNoise, type RandomSource } from '../privacy';",
        "import { cryptoRandom, gaussianNoise, type RandomSource } from '../privacy';\n" +
          "import { seededRandom } from '../../../test/support/rng';",
      ],
      ['o.random ?? (() => cryptoRandom())', 'o.random ?? ((s: string) => seededRandom(s))'],
    ],
    tests: [T('fewshot/wiring')],
    lint: true,
  },
  {
    id: 'm05',
    what: 'runAugPe defaults to the seeded test generator instead of cryptoRandom()',
    file: `${AP}/run.ts`,
    edits: [
      [
        "import { cryptoRandom, epsilonFor, type MechanismSpec, type RandomSource } from '../privacy';",
        "import { cryptoRandom, epsilonFor, type MechanismSpec, type RandomSource } from '../privacy';\n" +
          "import { seededRandom } from '../../../test/support/rng';",
      ],
      ['o.random ?? (() => cryptoRandom())', 'o.random ?? ((s: string) => seededRandom(s))'],
    ],
    tests: [T('augpe/wiring')],
    lint: true,
  },
  {
    id: 'm06',
    what: 'runFewShot defaults to a fixed inline generator (no import: only the tests can see it)',
    file: `${FS}/run.ts`,
    edits: [
      [
        'o.random ?? (() => cryptoRandom())',
        'o.random ?? (() => { let x = 7; return { nextUint32: () => (x = Math.imul(x, 1664525) + 1013904223) >>> 0 }; })',
      ],
    ],
    tests: [T('fewshot/wiring')],
  },
  {
    id: 'm07',
    what: 'sample.ts puts an included unit into two prompts (or twice into one)',
    file: `${FS}/sample.ts`,
    edits: [
      [
        'groups[uniformInt(rng, m)]!.push({ unit, key: uniform01(rng) });',
        'groups[uniformInt(rng, m)]!.push({ unit, key: uniform01(rng) }); groups[uniformInt(rng, m)]!.push({ unit, key: uniform01(rng) });',
      ],
    ],
    tests: [T('fewshot/sample'), T('fewshot/wiring')],
  },
  {
    id: 'm08',
    what: 'fewshot/run.ts settles steps = shots × (T_max − 1) instead of shots × T_max',
    file: `${FS}/run.ts`,
    edits: [['shots.started(lp.label) * settings.maxTokens', 'shots.started(lp.label) * (settings.maxTokens - 1)']],
    tests: [T('fewshot/run'), T('fewshot/wiring')],
  },
  {
    id: 'm09',
    what: 'fewshot/plan.ts calibrates and reserves T_max steps per label instead of shots × T_max',
    file: `${FS}/plan.ts`,
    edits: [['const steps = shots * tMax;', 'const steps = tMax;']],
    tests: [T('fewshot/plan-export'), T('fewshot/prepare'), T('fewshot/run'), T('fewshot/wiring')],
  },
  {
    id: 'm10',
    what: 'augpe/run.ts settles histograms − 1 steps',
    file: `${AP}/run.ts`,
    edits: [
      [
        ': firstPartCharges(this.plan, this.histograms, this.classCounts',
        ': firstPartCharges(this.plan, this.histograms - 1, this.classCounts',
      ],
    ],
    tests: [T('augpe/run'), T('augpe/wiring')],
  },
  {
    id: 'm11',
    what: 'augpe/plan.ts calibrates σ for T − 1 histograms (T run and charged)',
    file: `${AP}/plan.ts`,
    edits: [["{ kind: 'gaussian', steps: T }, 'gdp'", "{ kind: 'gaussian', steps: T - 1 }, 'gdp'"]],
    tests: [T('augpe/plan'), T('augpe/run'), T('augpe/wiring')],
  },
  {
    id: 'm12',
    what: 'aggregate.ts noise std σ·√2/(2M) instead of σ·√2/M (halved inside the aggregator)',
    file: `${FS}/aggregate.ts`,
    edits: [['const std = (sigma * Math.SQRT2) / m;', 'const std = (sigma * Math.SQRT2) / (2 * m);']],
    tests: [T('fewshot/aggregate'), T('fewshot/wiring')],
  },
  {
    id: 'm13',
    what: 'aggregate.ts adds noise to the first candidate only',
    file: `${FS}/aggregate.ts`,
    edits: [['const score = mean + noise(std);', 'const score = mean + (v === 0 ? noise(std) : 0);']],
    tests: [T('fewshot/aggregate'), T('fewshot/wiring')],
  },
  {
    id: 'm14',
    what: 'histogram.ts adds noise of std σ/2 inside privatizeHistogram',
    file: `${AP}/histogram.ts`,
    edits: [['addGaussianNoise(rng, clean[i]!, sigma);', 'addGaussianNoise(rng, clean[i]!, sigma / 2);']],
    tests: [T('augpe/histogram'), T('augpe/wiring')],
  },
  {
    id: 'm15',
    what: 'the few-shot ledger charges (plan.ts stepCharges) carry 2σ while the noise uses σ',
    file: `${FS}/plan.ts`,
    edits: [
      [
        'mechanism: { kind: POISSON_GAUSSIAN, sigma: l.sigma, samplingRate',
        'mechanism: { kind: POISSON_GAUSSIAN, sigma: l.sigma * 2, samplingRate',
      ],
    ],
    tests: [T('fewshot/run'), T('fewshot/wiring')],
  },
  {
    id: 'm16',
    what: 'augpe/resume.ts firstPartCharges (what a run settles) charges the ledger 2σ while the noise uses σ',
    file: `${AP}/resume.ts`,
    edits: [
      [
        "        : { kind: 'gaussian', sigma: plan.sigma, steps },",
        "        : { kind: 'gaussian', sigma: plan.sigma * 2, steps },",
      ],
    ],
    tests: [T('augpe/run'), T('augpe/wiring')],
  },
  {
    id: 'm17',
    what: 'fewshot/run.ts samples prompts at 2q while charging q',
    file: `${FS}/run.ts`,
    edits: [
      ['          samplingRate: lp.samplingRate,\n', '          samplingRate: Math.min(1, 2 * lp.samplingRate),\n'],
    ],
    tests: [T('fewshot/wiring')],
  },
  {
    id: 'm18',
    what: "fewshot/run.ts uses the first label's σ for every label",
    file: `${FS}/run.ts`,
    edits: [['          sigma: lp.sigma,\n', '          sigma: o.plan.labels[0]!.sigma,\n']],
    tests: [T('fewshot/wiring')],
  },
  {
    id: 'm19',
    what: 'histogram.ts drops the per-unit L2 normalisation of the votes (sensitivity no longer 1)',
    file: `${AP}/histogram.ts`,
    edits: [['const inv = 1 / Math.sqrt(s);', 'const inv = 1;']],
    tests: [T('augpe/histogram'), T('augpe/wiring')],
  },
  {
    id: 'm20',
    what: 'eslint.config.mjs drops the rule that keeps test code out of src/core and src/cli',
    file: 'eslint.config.mjs',
    edits: [
      [
        "{ paths: [{ name: 'vscode', message: 'Only src/extension may import vscode.' }], patterns: noTestCode },",
        "{ paths: [{ name: 'vscode', message: 'Only src/extension may import vscode.' }] },",
      ],
    ],
    tests: ['test/lint/randomness-rules.test.ts'],
  },
  // Aug-PE options (docs/AUGPE.md "Options"): ids "ao…" so that they never collide with other added mutations.
  {
    id: 'ao1',
    what: 'augpe/plan.ts calibrates σ without the DP class-count release (the σ_c term dropped from μ²)',
    file: `${AP}/plan.ts`,
    edits: [['{\n    existing: classSpec,\n  }', '{\n    existing: [],\n  }']],
    tests: [T('augpe/options')],
  },
  {
    id: 'ao2',
    what: "augpe/run.ts ignores lookahead K (votes on the candidates' own embeddings)",
    file: `${AP}/run.ts`,
    edits: [['s.lookahead > 0\n', 'false\n']],
    tests: [T('augpe/options')],
  },
  {
    id: 'ao3',
    what: 'augpe/select.ts ignores `prob` (always rank)',
    file: `${AP}/select.ts`,
    edits: [["mode === 'prob' ?", 'false ?']],
    tests: [T('augpe/options')],
  },
  {
    id: 'ao4',
    what: 'augpe/resume.ts firstPartCharges settles the class-count release as 0 steps (charged less than previewed)',
    file: `${AP}/resume.ts`,
    edits: [['steps: classReleased ? 1 : 0', 'steps: 0']],
    tests: [T('augpe/options')],
  },
  {
    id: 'ao5',
    what: 'augpe/plan.ts drops the per-unit L2 normalisation of the label counts (sensitivity no longer 1)',
    file: `${AP}/plan.ts`,
    edits: [['const inv = 1 / Math.sqrt(sq);', 'const inv = 1;']],
    tests: [T('augpe/options')],
  },
  {
    id: 'ao6',
    what: 'augpe/lookahead.ts averages only the first of the K variations',
    file: `${AP}/lookahead.ts`,
    edits: [['for (let r = 0; r < k; r++) {', 'for (let r = 0; r < 1; r++) {']],
    tests: [T('augpe/options')],
  },
  {
    id: 'ao7',
    what: 'augpe/select.ts draws prob selections uniformly (ignores the histogram)',
    file: `${AP}/select.ts`,
    edits: [['    if (total === 0) {', '    if (total >= 0) {']],
    tests: [T('augpe/options')],
  },
  // The held-out split (src/core/evaluate, docs/EVALUATE.md): generation must never read held-out rows.
  {
    id: 'm21',
    what: 'demos and synth (cli/run-flags.ts loadRunInputs) read the whole dataset although it has a split (looked up in the wrong folder)',
    file: 'src/cli/run-flags.ts',
    edits: [['    location.dir,\n  );\n  const outFile', "    location.dir + 'x',\n  );\n  const outFile"]],
    tests: ['test/cli/split.test.ts'],
  },
  {
    id: 'm23',
    what: "the split keys on (record, label), so a privacy unit's rows under two labels can fall on both sides",
    file: 'src/core/evaluate/split.ts',
    edits: [['canonicalRecords(ds).map((r) => r.key)', 'canonicalRecords(ds).map((r) => r.key + r.label)']],
    tests: [T('evaluate/split')],
  },
  {
    id: 'm24',
    what: 'the split ignores its random seed (every dataset splits the same, predictable way)',
    file: 'src/core/evaluate/split.ts',
    edits: [["const seed = Buffer.from(seedHex, 'hex');", "const seed = Buffer.from('00', 'hex');"]],
    tests: [T('evaluate/split')],
  },
  {
    id: 'm25',
    what: "evaluate's real demonstrations are drawn from the held-out rows",
    file: 'src/core/evaluate/plan.ts',
    edits: [['const training = parts.training.map', 'const training = parts.heldOut.map']],
    tests: [T('evaluate/plan')],
  },
  // The voting kernel (src/core/vector/knn.ts): a wrong neighbour moves a vote in the released histogram.
  {
    id: 'k01',
    what: 'knn.ts scans one candidate column fewer of every tile (off-by-one at the tile edge)',
    file: 'src/core/vector/knn.ts',
    edits: [['        cols,\n        j0,\n', '        cols - 1,\n        j0,\n']],
    tests: [T('augpe/voting-kernel'), T('vector/knn')],
  },
  {
    id: 'k02',
    what: 'knn.ts scans one query row fewer of every block',
    file: 'src/core/vector/knn.ts',
    edits: [['        rows,\n        cols,\n', '        rows - 1,\n        cols,\n']],
    tests: [T('augpe/voting-kernel'), T('vector/knn')],
  },
  {
    id: 'k03',
    what: 'knn.ts drops the quantisation error margin of the candidates (short list from the integer scores alone)',
    file: 'src/core/vector/knn.ts',
    edits: [['rcF[j] = Math.abs(factor) * rc;', 'rcF[j] = 0;']],
    tests: [T('vector/knn')],
  },
  {
    id: 'k04',
    what: 'knn.ts orders the short list by its lower bound instead of the exact float64 re-check',
    file: 'src/core/vector/knn.ts',
    edits: [['s: exactScore(qd, qo, cd, j * dim, dim, bias[j]!, factor)', 's: sl[si.indexOf(j)]!']],
    tests: [T('vector/knn')],
  },
  {
    id: 'k05',
    what: 'knn.ts overwrites instead of accumulating the depth chunks after the first',
    file: 'src/core/vector/knn.ts',
    edits: [['c0 === 0 ? 0 : 1', '0']],
    tests: [T('vector/knn')],
  },
  {
    id: 'k06',
    what: "knn.ts quantises to the full 16-bit range (the kernel's integer sums can overflow)",
    file: 'src/core/vector/knn.ts',
    edits: [['const limit = quantLimit(dim);', 'const limit = 32767;']],
    tests: [T('vector/knn')],
  },
  {
    id: 'k07',
    what: 'knn.ts drops the quantisation error margin of the queries',
    file: 'src/core/vector/knn.ts',
    edits: [['qG[i] = af * rq * slack + ', 'qG[i] = ']],
    tests: [T('vector/knn')],
  },
  {
    id: 'w01',
    what: 'worker/host.ts never forwards Cancel to the worker (the run goes on and is charged in full)',
    file: 'src/core/worker/host.ts',
    edits: [["const cancel = () => send({ type: 'cancel' });", 'const cancel = () => undefined;']],
    tests: [T('worker/worker')],
  },
  {
    id: 'w02',
    what: "worker/remote.ts settles a reservation by aborting it (the ledger then keeps the whole reservation)",
    file: 'src/core/worker/remote.ts',
    edits: [["settle: (usage) => close('settle', r.id, usage),", "settle: (usage) => close('abort', r.id, usage),"]],
    tests: [T('worker/worker')],
  },
  {
    id: 'w03',
    what: "worker/protocol.ts revives the ledger's refusal as a plain UserError (no Set Privacy Budget… offer)",
    file: 'src/core/worker/protocol.ts',
    edits: [['return new BudgetRefusal(s.message, s.hint);', 'return new UserError(s.message, s.hint);']],
    tests: [T('worker/worker')],
  },
  {
    id: 'w04',
    what: 'worker/protocol.ts names a network model as the built-in one (the run would silently use the offline model)',
    file: 'src/core/worker/protocol.ts',
    edits: [["  return provider.kind === 'builtin'\n", "  return provider.kind !== 'vscode-lm'\n"]],
    tests: [T('worker/worker')],
  },
];

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const only = new Set(process.argv.slice(2));
const chosen = MUTATIONS.filter((m) => only.size === 0 || only.has(m.id));
const originals = new Map<string, string>();
const restore = () => {
  for (const [file, text] of originals) writeFileSync(path.join(root, file), text);
  originals.clear();
};
process.on('SIGINT', () => {
  restore();
  process.exit(130);
});

function failedTests(output: string): string[] {
  return [...output.matchAll(/^not ok \d+ - (.*)$/gm)].map((x) => x[1]!.trim());
}

const rows: string[] = [];
let missed = 0;
for (const m of chosen) {
  const dirty = spawnSync('git', ['diff', '--quiet', '--', m.file], { cwd: root }).status !== 0;
  if (dirty) {
    console.error(`${m.id}: ${m.file} has uncommitted changes; commit or stash them first`);
    process.exit(2);
  }
  const text = readFileSync(path.join(root, m.file), 'utf8');
  let mutated = text;
  const stale = m.edits.find(([from]) => mutated.split(from).length !== 2);
  if (stale) {
    rows.push(`| ${m.id} | ${m.what} | STALE: target text not found once in ${m.file} | |`);
    missed++;
    continue;
  }
  for (const [from, to] of m.edits) mutated = mutated.replace(from, () => to);
  originals.set(m.file, text);
  writeFileSync(path.join(root, m.file), mutated);
  const caught: string[] = [];
  try {
    for (const file of m.tests) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', file], {
        cwd: root,
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
      if (r.status !== 0) {
        const names = failedTests(r.stdout);
        caught.push(`${file}: ${names.length ? names.join('; ') : `exit ${r.status} (load or type error)`}`);
      }
    }
    if (m.lint) {
      const r = spawnSync(process.execPath, ['node_modules/eslint/bin/eslint.js', m.file], {
        cwd: root,
        encoding: 'utf8',
      });
      if (r.status !== 0) {
        const rules = [...new Set([...r.stdout.matchAll(/error .*?\s(\S+)$/gm)].map((x) => x[1]))];
        caught.push(`eslint ${m.file}: ${rules.join(', ')}`);
      }
    }
  } finally {
    restore();
  }
  if (caught.length === 0) missed++;
  const verdict = caught.length ? 'caught' : 'MISSED';
  console.error(`${m.id} ${verdict}: ${m.what}`);
  rows.push(`| ${m.id} | ${m.what} | ${verdict} | ${caught.join('<br>')} |`);
}
console.log('| id | mutation | result | failing tests |');
console.log('| --- | --- | --- | --- |');
for (const r of rows) console.log(r);
process.exit(missed === 0 ? 0 : 1);
