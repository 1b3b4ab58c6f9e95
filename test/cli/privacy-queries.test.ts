import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epsilonFor, deltaFor } from '../../src/core/privacy';
import { runCli, spawnCli } from '../support/cli';
import { tempDir, writeFile } from '../support/tmp';

const dir = tempDir();

test('epsilon --json echoes the inputs and agrees with the core accountant (AGNews, Tang et al.)', async () => {
  const r = await runCli([
    'epsilon',
    '--sigma',
    '0.39',
    '--sampling-rate',
    '0.000667',
    '--steps',
    '100',
    '--delta',
    '3.3e-5',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(o).sort(), ['accountant', 'delta', 'epsilon', 'samplingRate', 'sigma', 'steps']);
  assert.equal(o.sigma, 0.39);
  assert.equal(o.samplingRate, 0.000667);
  assert.equal(o.steps, 100);
  assert.equal(o.delta, 3.3e-5);
  assert.equal(o.accountant, 'pld');
  const core = epsilonFor([{ kind: 'poisson-gaussian', sigma: 0.39, samplingRate: 0.000667, steps: 100 }], 3.3e-5);
  assert.equal(o.epsilon, core);
  assert.ok(o.epsilon > 3.8 && o.epsilon < 3.86, `ε = ${o.epsilon}`);
});

test('without --sampling-rate the default accountant is gdp and gives the analytic Gaussian ε', async () => {
  const r = await runCli(['epsilon', '--sigma', '1', '--steps', '1', '--delta', '1e-5', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.accountant, 'gdp');
  assert.equal(o.samplingRate, 1);
  assert.ok(Math.abs(o.epsilon - 4.3772) < 1e-4, `ε = ${o.epsilon}`);
  const human = await runCli(['epsilon', '--sigma', '1', '--steps', '1', '--delta', '1e-5']);
  assert.match(human.stdout, /^ε = 4\.377\d* at δ = 1\.000e-5 \(σ = 1, sampling rate 1, 1 step, gdp accountant\)/);
});

test('--accountant rdp and pld give upper bounds ordered as expected (pld ≤ rdp)', async () => {
  const args = [
    'epsilon',
    '--sigma',
    '0.77',
    '--sampling-rate',
    String(80 / 1561),
    '--steps',
    '80',
    '--delta',
    String(1 / 1561),
    '--json',
  ];
  const pld = JSON.parse((await runCli([...args, '--accountant', 'pld'])).stdout);
  const rdp = JSON.parse((await runCli([...args, '--accountant', 'rdp'])).stdout);
  assert.equal(rdp.accountant, 'rdp');
  assert.ok(pld.epsilon < rdp.epsilon, `pld ${pld.epsilon} rdp ${rdp.epsilon}`);
  assert.ok(Math.abs(pld.epsilon / 3.881 - 1) < 0.01);
});

test('sigma reproduces the Private Evolution calibration and meets its target', async () => {
  const n = 8396;
  const delta = 1 / (n * Math.log(n));
  const r = await runCli(['sigma', '--epsilon', '1', '--delta', String(delta), '--steps', '10', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.ok(Math.abs(o.sigma / 11.6 - 1) < 1e-3, `σ = ${o.sigma}`);
  assert.equal(o.epsilon, 1);
  assert.ok(epsilonFor([{ kind: 'gaussian', sigma: o.sigma, steps: 10 }], delta, 'gdp') <= 1);
});

test('delta inverts epsilon', async () => {
  const args = ['--sigma', '0.64', '--sampling-rate', String(80 / 2953), '--steps', '80'];
  const e = JSON.parse((await runCli(['epsilon', ...args, '--delta', '1e-4', '--json'])).stdout).epsilon;
  const d = JSON.parse((await runCli(['delta', ...args, '--epsilon', String(e), '--json'])).stdout).delta;
  assert.ok(d <= 1e-4 * (1 + 1e-9) && d > 0.99e-4, `δ = ${d}`);
  assert.equal(d, deltaFor([{ kind: 'poisson-gaussian', sigma: 0.64, samplingRate: 80 / 2953, steps: 80 }], e));
});

test('usage mistakes exit 2 with a message that names the flag', async () => {
  const cases: [string[], RegExp][] = [
    [['epsilon', '--sigma', '1', '--steps', '10'], /epsilon needs --delta/],
    [['sigma', '--delta', '1e-5', '--steps', '10'], /sigma needs --epsilon/],
    [
      ['epsilon', '--sigma', '1', '--steps', '10', '--delta', '1e-5', '--sampling-rate', '0.1', '--accountant', 'gdp'],
      /gdp accountant needs an un-subsampled/,
    ],
    [
      ['epsilon', '--sigma', '1', '--steps', '10', '--delta', '1e-5', '--accountant', 'prv'],
      /--accountant must be one of pld, rdp, gdp/,
    ],
    [['epsilon', '--sigma', 'abc', '--steps', '10', '--delta', '1e-5'], /--sigma must be a number/],
    [['epsilon', '--sigma', '1', '--steps', '2.5', '--delta', '1e-5'], /--steps must be a whole number/],
    [['epsilon', '--sigma', '1', '--steps', '10', '--delta', '1'], /--delta must be strictly between 0 and 1/],
    [
      ['epsilon', '--sigma', '1', '--steps', '10', '--delta', '1e-5', '--sampling-rate', '1.5'],
      /--sampling-rate must be a number in \[0, 1\]/,
    ],
    [['sigma', '--epsilon', '0', '--steps', '10', '--delta', '1e-5'], /--epsilon must be above 0/],
    [['delta', 'extra', '--sigma', '1', '--steps', '1', '--epsilon', '1'], /takes no positional arguments/],
    [['epsilon', '--bogus'], /Unknown option/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stdout, '');
  }
});

test('--batch answers one JSON line per query, in order, and reports bad lines by number', async () => {
  const file = writeFile(
    dir,
    'queries.jsonl',
    [
      JSON.stringify({ query: 'epsilon', sigma: 0.77, samplingRate: 80 / 1561, steps: 80, delta: 1 / 1561 }),
      '',
      JSON.stringify({ query: 'sigma', epsilon: 1, delta: 1e-5, steps: 10 }),
      '{not json',
      JSON.stringify({ query: 'delta', sigma: 1, steps: 1, epsilon: 4.3772 }),
      JSON.stringify({ query: 'epsilon', sigma: -1, steps: 1, delta: 1e-5 }),
      JSON.stringify({ query: 'epsilon', sigma: 1, steps: 1 }),
      JSON.stringify({ query: 'epsilon', sigma: 1, steps: 1, delta: 1e-5, colour: 'red' }),
      JSON.stringify({ sigma: 2, steps: 3, delta: 1e-6 }),
    ].join('\n'),
  );
  const r = await runCli(['epsilon', '--batch', file, '--accountant', 'rdp']);
  assert.equal(r.code, 1);
  const out = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(out.length, 8, 'one output per non-empty line');
  assert.equal(out[0].query, 'epsilon');
  assert.equal(out[0].accountant, 'rdp', 'flags given with --batch are defaults for every line');
  assert.equal(
    out[0].epsilon,
    epsilonFor([{ kind: 'poisson-gaussian', sigma: 0.77, samplingRate: 80 / 1561, steps: 80 }], 1 / 1561, 'rdp'),
  );
  assert.equal(out[1].query, 'sigma');
  assert.ok(out[1].sigma > 10 && out[1].sigma < 14);
  assert.deepEqual(Object.keys(out[2]).sort(), ['error', 'line']);
  assert.equal(out[2].line, 4);
  assert.equal(out[3].query, 'delta');
  assert.equal(out[4].line, 6);
  assert.match(out[4].error, /"sigma" must be a positive number/);
  assert.equal(out[5].line, 7);
  assert.match(out[5].error, /epsilon needs --delta/);
  assert.equal(out[6].line, 8);
  assert.match(out[6].error, /unknown field "colour"/);
  assert.equal(out[7].query, 'epsilon', 'the query defaults to the command name');
  assert.equal(out[7].steps, 3);
  assert.match(r.stderr, /queries\.jsonl:4: not valid JSON/);
  assert.match(r.stderr, /queries\.jsonl:6: /);
});

test('--batch with a missing file is a runtime error (exit 1) naming the file', async () => {
  const r = await runCli(['sigma', '--batch', 'no-such-file.jsonl'], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot read the batch file no-such-file\.jsonl: ENOENT/);
});

test('the installed entry point exits 2 on a usage error and prints JSON on success', () => {
  const bad = spawnCli(['sigma', '--epsilon', '1', '--steps', '10']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /sigma needs --delta/);
  const ok = spawnCli(['delta', '--sigma', '1', '--steps', '1', '--epsilon', '4.3772', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const o = JSON.parse(ok.stdout);
  assert.ok(Math.abs(o.delta - 1e-5) < 1e-8, `δ = ${o.delta}`);
});
