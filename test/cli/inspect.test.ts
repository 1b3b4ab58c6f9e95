import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parse as parseSync } from 'csv-parse/sync';
import { runCli, spawnCli, repoRoot } from '../support/cli';
import { tempDir, writeFile } from '../support/tmp';

const dir = tempDir();

test('inspect --json prints one JSON object whose counts match the file', async () => {
  const { code, stdout, stderr } = await runCli(['inspect', 'examples/banking77-sample.csv', '--json']);
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const s = JSON.parse(lines[0]!);
  const rows = parseSync(readFileSync(`${repoRoot}/examples/banking77-sample.csv`), { columns: true }) as {
    category: string;
  }[];
  assert.equal(s.rows, rows.length);
  assert.equal(s.labels.length, new Set(rows.map((r) => r.category)).size);
  assert.equal(
    s.labels.reduce((a: number, l: { count: number }) => a + l.count, 0),
    rows.length,
  );
});

test('inspect prints a readable summary that flags label counts as local-only', async () => {
  const { code, stdout } = await runCli(['inspect', 'examples/banking77-sample.csv']);
  assert.equal(code, 0);
  assert.match(stdout, /rows: +2000/);
  assert.match(stdout, /labels \(77, local only/);
});

test('exit codes: 0 success, 1 data error on stderr, 2 usage error', () => {
  const ok = spawnCli(['--version']);
  assert.equal(ok.code, 0);
  assert.match(ok.stdout.trim(), /^\d+\.\d+\.\d+$/);
  const help = spawnCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /inspect/);

  const bad = writeFile(dir, 'bad.csv', 'text,label\nfine,a\n"open,b\n');
  const data = spawnCli(['inspect', bad]);
  assert.equal(data.code, 1);
  assert.equal(data.stdout, '');
  assert.match(data.stderr, /bad\.csv:3: .*never closed/);

  const usage = spawnCli(['inspect']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /exactly one dataset file/);
  const flag = spawnCli(['inspect', bad, '--no-such-flag']);
  assert.equal(flag.code, 2);
  const unknown = spawnCli(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const num = spawnCli(['inspect', bad, '--max-bytes', 'lots']);
  assert.equal(num.code, 2);
  assert.match(num.stderr, /--max-bytes must be a whole number/);
});

test('inspect with --skip-invalid, --unit-column and --dedupe', async () => {
  const file = writeFile(
    dir,
    'units.csv',
    // --dedupe keys on (text, label, unit): line 3 repeats line 2 and goes; line 4 (another label) stays.
    'uid,text,label\nu1,hello there,a\nu1,hello there,a\nu1,hello there,b\nu2,,a\nu3,bye for now,b\n',
  );
  const { code, stdout } = await runCli([
    'inspect',
    file,
    '--unit-column',
    'uid',
    '--label-column',
    'label',
    '--skip-invalid',
    '--dedupe',
    '--json',
  ]);
  assert.equal(code, 0);
  const s = JSON.parse(stdout);
  assert.equal(s.rows, 3);
  assert.equal(s.units, 2);
  assert.equal(s.skipped.count, 1);
  assert.equal(s.skipped.first[0].line, 5);
  assert.equal(s.duplicatesRemoved, 1);
});

test(
  'the bundled CLI (dist/cli.js, built by npm run build) prints the same summary',
  { skip: !existsSync(`${repoRoot}/dist/cli.js`) && 'run npm run build first' },
  async () => {
    const r = spawnSync(
      process.execPath,
      [`${repoRoot}/dist/cli.js`, 'inspect', 'examples/banking77-sample.csv', '--json'],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const bundled = JSON.parse(r.stdout);
    const inProcess = JSON.parse((await runCli(['inspect', 'examples/banking77-sample.csv', '--json'])).stdout);
    assert.deepEqual(bundled, inProcess);
    assert.equal(bundled.rows, 2000);
  },
);
