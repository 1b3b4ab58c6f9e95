// synth's Aug-PE options from the command line: --domain (and the workspace's .private-fewshot/domain.json),
// --lookahead, --selection, --fractions dp[:R]; the plan declares the domain file public; bad files and flags give
// one-line errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, repoRoot } from '../support/cli';
import { tempDir } from '../support/tmp';

function workspace(): string {
  const dir = tempDir('pfs-synth-opt-');
  copyFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), path.join(dir, 'data.csv'));
  return dir;
}
const BANK = {
  domain: 'customer messages to a bank',
  labels: { card_arrival: { keywords: ['a new debit card'] } },
};
const base = ['synth', 'data.csv', '--labels', 'card_arrival,exchange_rate', '--count', '6', '--epsilon', '2'];

test('synth --dry-run: the options in the plan, σ_c composed into μ, and the domain file declared public', async () => {
  const ws = workspace();
  mkdirSync(path.join(ws, '.private-fewshot'));
  writeFileSync(path.join(ws, '.private-fewshot', 'domain.json'), JSON.stringify(BANK));
  const args = [...base, '--iterations', '3', '--variations', '1', '--lookahead', '2', '--selection', 'prob'];
  const r = await runCli([...args, '--fractions', 'dp:0.25', '--dry-run', '--json'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout).plan;
  assert.equal(p.lookahead, 2);
  assert.equal(p.selection, 'prob');
  assert.equal(p.classCounts, 'dp');
  assert.ok(Math.abs(p.mu ** 2 - (3 / p.sigma ** 2 + 1 / p.sigmaClass ** 2)) < 1e-12);
  assert.ok(Math.abs(1 / p.sigmaClass ** 2 / p.mu ** 2 - 0.25) < 1e-9);
  assert.ok(p.epsilonRun <= 2 && p.epsilonRun > 2 - 1e-9);
  // L = 2, T = 3, K = 2: initial 2·6, then 2·1·6 variations, plus 3·2·12 lookahead variations.
  assert.equal(p.estimate.completions, 12 + 12 + 72);
  assert.match(
    p.declarations.join('\n'),
    /domain file \.private-fewshot[/\\]domain\.json is declared public: .*sent in prompts/,
  );
  const text = await runCli([...args, '--fractions', 'dp', '--dry-run'], { cwd: ws });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /the label counts once with σ_c = [\d.]+, then T = 3 Gaussian histograms/);
  assert.match(text.stdout, /lookahead K = 2 .*selection prob, class sizes: from the DP label counts/);
  assert.match(text.stdout, /domain file .*declared public/);
  const none = await runCli([...base, '--dry-run'], { cwd: workspace() });
  assert.match(none.stdout, /no domain file: .*built-in/);
});

test('synth with the options writes records whose release carries the DP class sizes, and charges what was planned', async () => {
  const ws = workspace();
  writeFileSync(path.join(ws, 'bank.pfs-domain.json'), JSON.stringify(BANK));
  const args = [...base, '--iterations', '2', '--variations', '1', '--lookahead', '1', '--selection', 'prob'];
  const r = await runCli([...args, '--fractions', 'dp:0.3', '--domain', 'bank.pfs-domain.json', '--json'], {
    cwd: ws,
  });
  assert.equal(r.code, 0, r.stderr);
  const { release, localOnlyNotPrivate: local } = JSON.parse(r.stdout);
  assert.equal(release.status, 'completed');
  assert.equal(release.parameters.classCounts, 'dp');
  assert.equal(release.parameters.lookahead, 1);
  assert.equal(release.parameters.selection, 'prob');
  assert.ok(release.privacy.sigmaClass > 0);
  const counts: number[] = release.parameters.counts;
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    6,
  );
  assert.equal(release.records.filter((x: { label: string }) => x.label === 'card_arrival').length, counts[0]);
  assert.ok(Math.abs(local.budget.spent - release.privacy.epsilonPlanned) < 1e-9, 'charged what the plan previewed');
  assert.ok(Math.abs(release.privacy.epsilonCharged - release.privacy.epsilonPlanned) < 1e-9);
  // The checkpoint holds the noisy counts (a DP output) next to the sizes.
  const runs = path.join(ws, '.private-fewshot', 'runs');
  const ck = readdirSync(runs).find((f) => f.endsWith('.jsonl'))!;
  const head = JSON.parse(readFileSync(path.join(runs, ck), 'utf8').split('\n')[0]!);
  assert.deepEqual(head.counts, counts);
  assert.equal(head.noisyClassCounts.length, 2);
});

test('bad domain files and option flags: one-line errors naming the file and line or the flag', async () => {
  const ws = workspace();
  writeFileSync(path.join(ws, 'd.json'), '{\n  "domain": "x",\n  "labels": { "a": { "keywords": [1] } }\n}\n');
  const bad = await runCli([...base, '--domain', 'd.json', '--dry-run'], { cwd: ws });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /^error: .*d\.json:3: field labels\.a\.keywords\[0\]: .*expected string/m);
  const missing = await runCli([...base, '--domain', 'nope.json', '--dry-run'], { cwd: ws });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /nope\.json: no such domain file/);
  const sel = await runCli([...base, '--selection', 'best', '--dry-run'], { cwd: ws });
  assert.equal(sel.code, 2);
  assert.match(sel.stderr, /--selection must be one of rank, prob/);
  const k = await runCli([...base, '--lookahead', '99', '--dry-run'], { cwd: ws });
  assert.equal(k.code, 2);
  assert.match(k.stderr, /--lookahead/);
  const dp = await runCli([...base, '--fractions', 'dp:1.5', '--dry-run'], { cwd: ws });
  assert.equal(dp.code, 2);
  assert.match(dp.stderr, /share R strictly between 0 and 1/);
  const help = await runCli(['synth', '--help']);
  assert.match(help.stdout, /--domain FILE/);
  assert.match(help.stdout, /--fractions dp\[:R\]/);
});
