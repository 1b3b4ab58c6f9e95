/**
 * No command destroys data, the ledger is found from the dataset, and bad input gets a one-line error: issue 10's
 * cases, each on the real CLI (a child process where exit codes, signals or the current folder matter).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { cliArgs, repoRoot, runCli, spawnCli } from '../support/cli';
import { tempDir } from '../support/tmp';
import { writeOutput } from '../../src/cli/output';
import { writeFileAtomic } from '../../src/core/io/atomic';
import { epsilonFor } from '../../src/core/privacy';

const small = ['--prompts', '3', '--max-tokens', '6'];

/** A repository (it has .git) with the sample dataset in data/. */
function repo(): { ws: string; data: string } {
  const ws = tempDir('pfs-safety-');
  mkdirSync(path.join(ws, '.git'));
  mkdirSync(path.join(ws, 'data'));
  copyFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), path.join(ws, 'data/d.csv'));
  return { ws, data: path.join(ws, 'data/d.csv') };
}

function ledgerLines(ws: string): { type: string; status?: string; epsilon?: number }[] {
  const file = path.join(ws, '.private-fewshot/ledger.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

const oneLine = (stderr: string) => {
  assert.doesNotMatch(stderr, /internal error| {4}at /, stderr);
  assert.ok(stderr.trim().split('\n').length <= 2, stderr);
};

test('the ledger is found from the dataset, not the current folder (cd sub; demos ../d.csv)', () => {
  const { ws } = repo();
  const set = spawnCli(['budget', 'data/d.csv', '--set-total', '3'], { cwd: ws });
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stderr, /created the privacy ledger at .*\.private-fewshot/);
  assert.ok(existsSync(path.join(ws, '.private-fewshot/ledger.jsonl')), 'at the repository root');
  const sub = path.join(ws, 'data');
  const sub2 = path.join(ws, 'elsewhere');
  mkdirSync(sub2);
  // From the dataset's folder and from a sibling folder: the same ledger, the same total ε 3.
  for (const [cwd, file] of [
    [sub, 'd.csv'],
    [sub2, '../data/d.csv'],
  ] as const) {
    const r = spawnCli(['budget', file, '--json'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).total.epsilon, 3, `from ${cwd}`);
  }
  const run = spawnCli(['demos', 'd.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '1', ...small], {
    cwd: sub,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /created the privacy ledger/);
  assert.equal(existsSync(path.join(sub, '.private-fewshot')), false, 'no fresh ledger in the current folder');
  // One demos run settles two ledger runs: its noisy pool-count release and its token steps.
  assert.equal(ledgerLines(ws).filter((l) => l.type === 'run' && l.status === 'settled').length, 2);
});

test('without a repository the ledger goes next to the dataset; an existing one above is found', async () => {
  const top = tempDir('pfs-safety-norepo-');
  mkdirSync(path.join(top, 'a/b'), { recursive: true });
  copyFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), path.join(top, 'a/b/d.csv'));
  const r = await runCli(['budget', 'a/b/d.csv', '--set-total', '2'], { cwd: top });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(path.join(top, 'a/b/.private-fewshot')), "the dataset's folder");
  mkdirSync(path.join(top, 'a/b/c'));
  copyFileSync(path.join(top, 'a/b/d.csv'), path.join(top, 'a/b/c/e.csv'));
  const below = await runCli(['budget', 'a/b/c/e.csv', '--json'], { cwd: top });
  assert.equal(JSON.parse(below.stdout).total.epsilon, 2, 'the copy below finds the ledger above (same content)');
  assert.equal(existsSync(path.join(top, 'a/b/c/.private-fewshot')), false);
});

test('a --workspace that does not exist or is a file is a one-line error, and nothing is created', () => {
  const { ws } = repo();
  const missing = spawnCli(['budget', 'data/d.csv', '--workspace', 'no-such-dir', '--set-total', '2'], { cwd: ws });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--workspace .*no-such-dir does not exist/);
  oneLine(missing.stderr);
  assert.equal(existsSync(path.join(ws, 'no-such-dir')), false);
  writeFileSync(path.join(ws, 'afile'), 'x');
  const file = spawnCli(
    ['demos', 'data/d.csv', '--workspace', 'afile', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '1'],
    {
      cwd: ws,
    },
  );
  assert.equal(file.code, 2);
  assert.match(file.stderr, /is a file, not a folder/);
  oneLine(file.stderr);
});

test('--out onto the dataset or into .private-fewshot/ is refused before anything is spent', async () => {
  const { ws, data } = repo();
  const before = readFileSync(data, 'utf8');
  const base = ['demos', 'data/d.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '1', ...small];
  const onInput = spawnCli([...base, '--out', 'data/d.csv'], { cwd: ws });
  assert.equal(onInput.code, 2, onInput.stderr);
  assert.match(onInput.stderr, /is the input dataset/);
  assert.equal(readFileSync(data, 'utf8'), before);
  assert.deepEqual(ledgerLines(ws), [], 'nothing reserved');
  // The same file through a symbolic link.
  symlinkSync(data, path.join(ws, 'link.csv'));
  assert.equal((await runCli([...base, '--out', 'link.csv'], { cwd: ws })).code, 2);

  // Create the ledger, then try to write over it.
  assert.equal((await runCli(['budget', 'data/d.csv', '--set-total', '3'], { cwd: ws })).code, 0);
  const ledger = readFileSync(path.join(ws, '.private-fewshot/ledger.jsonl'), 'utf8');
  const onLedger = spawnCli([...base, '--out', '.private-fewshot/ledger.jsonl'], { cwd: ws });
  assert.equal(onLedger.code, 2, onLedger.stderr);
  assert.match(onLedger.stderr, /inside \.private-fewshot/);
  assert.equal(readFileSync(path.join(ws, '.private-fewshot/ledger.jsonl'), 'utf8'), ledger);
  const after = await runCli(['budget', 'data/d.csv', '--json'], { cwd: ws });
  assert.equal(after.code, 0, 'later commands still work');
  assert.equal(JSON.parse(after.stdout).runs.length, 0);
});

test('--out in a missing folder is refused before the budget is spent', () => {
  const { ws } = repo();
  const r = spawnCli(
    [
      'demos',
      'data/d.csv',
      '--labels',
      'card_arrival',
      '--shots',
      '1',
      '--epsilon',
      '1',
      ...small,
      '--out',
      'nodir/x.txt',
    ],
    { cwd: ws },
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /the folder .*nodir does not exist/);
  oneLine(r.stderr);
  assert.deepEqual(ledgerLines(ws), []);
});

test('a completed run replaces --out atomically (no temporary file left)', async () => {
  const { ws } = repo();
  writeFileSync(path.join(ws, 'out.txt'), 'old content\n');
  const r = await runCli(
    ['demos', 'data/d.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '1', ...small, '--out', 'out.txt'],
    { cwd: ws },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.notEqual(readFileSync(path.join(ws, 'out.txt'), 'utf8'), 'old content\n');
  assert.deepEqual(
    readdirSync(ws).filter((f) => f.endsWith('.tmp')),
    [],
  );
});

test('a write that fails after the release names the run file that keeps the output; the old file survives', () => {
  const dir = tempDir('pfs-safety-write-');
  const target = path.join(dir, 'out.txt');
  writeFileSync(target, 'precious\n');
  // A folder where the rename must land: the write fails after the temporary file was written.
  const blocked = path.join(dir, 'blocked');
  mkdirSync(blocked);
  assert.throws(
    () => writeOutput(blocked, 'released', '.private-fewshot/runs/r-1.jsonl'),
    (e: Error) =>
      /could not write the output: .*blocked: .*\(EISDIR\)/.test(e.message) &&
      /runs\/r-1\.jsonl/.test((e as { hint?: string }).hint ?? ''),
  );
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
    'the temporary file is removed',
  );
  writeFileAtomic(target, 'new\n');
  assert.equal(readFileSync(target, 'utf8'), 'new\n');
});

test('SIGTERM ends a run like Ctrl-C: charged, released output kept, an existing --out left as it was', async () => {
  const { ws } = repo();
  writeFileSync(path.join(ws, 'out.txt'), 'earlier output\n');
  const child = spawn(
    process.execPath,
    [
      ...cliArgs,
      'demos',
      'data/d.csv',
      '--labels',
      'card_arrival,exchange_rate',
      '--shots',
      '20',
      '--epsilon',
      '3',
      '--max-tokens',
      '64',
      '--out',
      'out.txt',
    ],
    { cwd: ws },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.includes('… ') && !child.killed) child.kill('SIGTERM');
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 1, stderr);
  assert.match(stderr, /cancelled: \d+ demonstration\(s\)/);
  assert.match(
    stderr,
    /out\.txt was not written .*existing file is left as it was.*kept in .*\.private-fewshot\/runs\/r-.*\.jsonl/,
  );
  assert.equal(readFileSync(path.join(ws, 'out.txt'), 'utf8'), 'earlier output\n');
  assert.equal(ledgerLines(ws).at(-1)!.status, 'settled', 'the reservation is closed');
});

test('δ below 1e-12 is refused at once (flags and stored totals), and the accountant never spins', () => {
  const { ws } = repo();
  const run = spawnCli(
    [
      'demos',
      'data/d.csv',
      '--labels',
      'card_arrival',
      '--shots',
      '1',
      '--epsilon',
      '3',
      '--delta',
      '1e-30',
      '--dry-run',
    ],
    { cwd: ws, timeoutMs: 60_000 },
  );
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /--delta must be a number in \[1e-12, 1\]/);
  const set = spawnCli(['budget', 'data/d.csv', '--delta', '1e-30'], { cwd: ws, timeoutMs: 60_000 });
  assert.equal(set.code, 2);
  assert.deepEqual(ledgerLines(ws), [], 'not stored');
  const big = spawnCli(
    [
      'demos',
      'data/d.csv',
      '--labels',
      'card_arrival',
      '--shots',
      '1',
      '--epsilon',
      '3',
      '--delta',
      '0.5',
      '--dry-run',
    ],
    {
      cwd: ws,
    },
  );
  assert.equal(big.code, 2);
  assert.match(big.stderr, /not below 1\/n/);
  assert.throws(
    () => epsilonFor([{ kind: 'poisson-gaussian', sigma: 1, samplingRate: 0.1, steps: 12 }], 1e-30),
    /below 1e-12/,
  );
});

test('a refused --dry-run exits 1', async () => {
  const { ws } = repo();
  const r = await runCli(
    ['demos', 'data/d.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '9', '--dry-run', ...small],
    {
      cwd: ws,
    },
  );
  assert.equal(r.code, 1);
  assert.match(r.stdout, /REFUSED/);
});

test('a minified JSON array has one unit per element, and its errors name the element and column', async () => {
  const dir = tempDir('pfs-safety-json-');
  const rows = Array.from({ length: 2000 }, (_, i) => ({
    text: `message ${i} about things`,
    label: i % 2 ? 'a' : 'b',
  }));
  writeFileSync(path.join(dir, 'min.json'), JSON.stringify(rows));
  const r = await runCli(['inspect', 'min.json', '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).units, 2000);
  const bad = JSON.stringify(rows.slice(0, 3)).replace(/\]$/, ',7]');
  writeFileSync(path.join(dir, 'bad.json'), bad);
  const e = await runCli(['inspect', 'bad.json'], { cwd: dir });
  assert.equal(e.code, 1);
  assert.match(
    e.stderr,
    new RegExp(`bad\\.json:1: array element 4 \\(line 1, column ${bad.length - 1}\\) is not a JSON object`),
  );
});

test('CSV errors name the true line in plain words (ragged row at line 20,002, stray quote)', () => {
  const dir = tempDir('pfs-safety-csv-');
  let csv = 'text,label\n';
  for (let i = 0; i < 20000; i++) csv += `row number ${i},${i % 2 ? 'a' : 'b'}\n`;
  writeFileSync(path.join(dir, 'ragged.csv'), `${csv}one,two,three\nlast,a\n`);
  const r = spawnCli(['inspect', 'ragged.csv'], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ragged\.csv:20002: this row has 3 field\(s\) but the header has 2/);
  assert.doesNotMatch(r.stderr, /CSV_/);
  oneLine(r.stderr.split('\n')[0]!);
  const head = csv.split('\n').slice(0, 101).join('\n'); // the header and 100 rows
  writeFileSync(path.join(dir, 'quote.csv'), `${head}\nab"c,a\nlast,b\n`);
  const line = 102;
  const q = spawnCli(['inspect', 'quote.csv'], { cwd: dir });
  assert.equal(q.code, 1);
  assert.match(q.stderr, new RegExp(`quote\\.csv:${line}: a quote appears inside a field that is not fully quoted`));
  assert.doesNotMatch(q.stderr, /CSV_/);
});

test('NUL bytes are refused with their line', async () => {
  const dir = tempDir('pfs-safety-nul-');
  writeFileSync(path.join(dir, 'nul.csv'), 'text,label\nfine text,a\nbad\0text,b\n');
  const r = await runCli(['inspect', 'nul.csv'], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nul\.csv:3: the file contains a NUL byte/);
});

test('labels with ANSI escapes are printed escaped', async () => {
  const dir = tempDir('pfs-safety-ansi-');
  writeFileSync(path.join(dir, 'ansi.csv'), 'text,label\nsome text here,\x1b[31mred\x1b[0m\nmore text here,plain\n');
  const r = await runCli(['inspect', 'ansi.csv'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes('\x1b'), 'no raw escape on stdout');
  assert.match(r.stdout, /\\x1b\[31mred\\x1b\[0m/);
  const e = await runCli(['inspect', 'ansi.csv', '--label-column', '\x1b[2Jx'], { cwd: dir });
  assert.ok(!e.stderr.includes('\x1b'), 'no raw escape on stderr');
});

test('a 200k-column header gives a short message', async () => {
  const dir = tempDir('pfs-safety-wide-');
  const header = Array.from({ length: 200_000 }, (_, i) => `column_${i}`).join(',');
  writeFileSync(path.join(dir, 'wide.csv'), `${header}\n${Array(200_000).fill('x').join(',')}\n`);
  const r = await runCli(['inspect', 'wide.csv', '--text-column', 'nope'], { cwd: dir });
  assert.equal(r.code, 1);
  assert.ok(r.stderr.length < 1000, `${r.stderr.length} characters`);
  assert.match(r.stderr, /200000 columns in all/);
});

test('file-system errors are one line naming the path: a ledger that is a folder, a .private-fewshot that is a file', async () => {
  const { ws } = repo();
  mkdirSync(path.join(ws, '.private-fewshot/ledger.jsonl'), { recursive: true });
  const r = spawnCli(['budget', 'data/d.csv'], { cwd: ws });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ledger\.jsonl: is a folder where a file was expected \(EISDIR\)/);
  oneLine(r.stderr);

  const other = repo();
  writeFileSync(path.join(other.ws, '.private-fewshot'), 'not a folder');
  const f = spawnCli(['budget', 'data/d.csv', '--set-total', '2'], { cwd: other.ws });
  assert.equal(f.code, 1);
  assert.match(f.stderr, /\.private-fewshot.*\(ENOTDIR\)|\.private-fewshot.*\(EEXIST\)/);
  oneLine(f.stderr);
});

// As root (CI containers) permissions are not enforced, so this runs only as an ordinary user.
test(
  'EACCES on the ledger is one line naming the path',
  { skip: process.getuid?.() === 0 ? 'running as root: permissions are not enforced' : false },
  () => {
    const { ws } = repo();
    assert.equal(spawnCli(['budget', 'data/d.csv', '--set-total', '2'], { cwd: ws }).code, 0);
    chmodSync(path.join(ws, '.private-fewshot/ledger.jsonl'), 0o000);
    try {
      const r = spawnCli(['budget', 'data/d.csv'], { cwd: ws });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /ledger\.jsonl: permission denied \(EACCES\)/);
      oneLine(r.stderr);
    } finally {
      chmodSync(path.join(ws, '.private-fewshot/ledger.jsonl'), 0o600);
    }
  },
);
