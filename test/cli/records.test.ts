// Dataset identity by records, through the real CLI: copies that differ only in row order, line endings, blank lines
// or a row added share the charged budget of the records they hold; a disjoint file does not; a subset does. The
// ledger folder holds no unkeyed hash of any record; the per-user index warns about records charged in another folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, runCli, spawnCli } from '../support/cli';
import { tempDir } from '../support/tmp';
import { canonicalRecords, loadDataset } from '../../src/core/data';
import { unkeyedHashes } from '../../src/core/ledger';

const SAMPLE = path.join(repoRoot, 'examples/banking77-sample.csv');
const small = ['--prompts', '3', '--max-tokens', '6'];
const lines = readFileSync(SAMPLE, 'utf8').trimEnd().split('\n');
const header = lines[0]!;
const rows = lines.slice(1);

function folder(prefix: string, indexDir: string) {
  const ws = tempDir(prefix);
  copyFileSync(SAMPLE, path.join(ws, 'd.csv'));
  return { ws, env: { PRIVATE_FEWSHOT_INDEX_DIR: indexDir } };
}

async function spent(ws: string, file: string, env: NodeJS.ProcessEnv) {
  const r = await runCli(['budget', file, '--json'], { cwd: ws, env });
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { spent: number; total: { epsilon: number }; runs: unknown[] };
  return { ...s, stderr: r.stderr };
}

/** Every file under the ledger folder, as bytes. */
function ledgerFiles(ws: string): Buffer[] {
  const out: Buffer[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(readFileSync(p));
    }
  };
  walk(path.join(ws, '.private-fewshot'));
  return out;
}

test('sorted, CRLF, blank-line and one-row-added copies and a subset share the charged budget; a disjoint file does not', async () => {
  const index = tempDir('pfs-index-');
  const { ws, env } = folder('pfs-records-', index);
  const run = await runCli(['demos', 'd.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '3', ...small], {
    cwd: ws,
    env,
  });
  assert.equal(run.code, 0, run.stderr);
  const base = await spent(ws, 'd.csv', env);
  assert.ok(base.spent > 2 && base.spent <= 3, `spent ${base.spent}`);

  const sorted = [...rows].sort();
  assert.notDeepEqual(sorted, rows);
  writeFileSync(path.join(ws, 'sorted.csv'), `${header}\n${sorted.join('\n')}\n`);
  writeFileSync(path.join(ws, 'crlf.csv'), `${header}\r\n${rows.join('\r\n')}\r\n`);
  writeFileSync(
    path.join(ws, 'blank.csv'),
    `${header}\n${rows.slice(0, 1000).join('\n')}\n\n${rows.slice(1000).join('\n')}\n`,
  );
  writeFileSync(
    path.join(ws, 'added.csv'),
    `${header}\n${rows.join('\n')}\nA brand new question about my card,card_arrival\n`,
  );
  writeFileSync(path.join(ws, 'subset.csv'), `${header}\n${rows.slice(0, 300).join('\n')}\n`);
  writeFileSync(
    path.join(ws, 'disjoint.csv'),
    `${header}\n${Array.from({ length: 300 }, (_, i) => `unrelated question ${i},${i % 2 ? 'card_arrival' : 'other'}`).join('\n')}\n`,
  );
  for (const f of ['sorted.csv', 'crlf.csv', 'blank.csv', 'added.csv', 'subset.csv']) {
    const s = await spent(ws, f, env);
    assert.ok(Math.abs(s.spent - base.spent) <= 1e-12 * base.spent, `${f}: spent ${s.spent}, charged ${base.spent}`);
    // One DP few-shot run is two reservations (the noisy pool-count release, then the token steps) in one group.
    assert.equal(s.runs.length, base.runs.length, f);
    assert.equal(s.runs.length, 2, f);
  }
  const other = await spent(ws, 'disjoint.csv', env);
  assert.equal(other.spent, 0);
  assert.equal(other.runs.length, 0);

  // The case: ε 3 on a sorted copy of a file that already spent ε 3 of 4 is refused (the copy shares every
  // record, so it has no fresh budget; under the budget filter the two runs on one record class are valued by the
  // Rényi filter, over 4). A smaller run on the copy moves both, and a third run on either is refused.
  const copy3 = await runCli(
    ['demos', 'sorted.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '3', ...small],
    { cwd: ws, env },
  );
  assert.equal(copy3.code, 1, copy3.stdout);
  assert.match(copy3.stderr, /spent privacy budget of sorted\.csv .* over its total ε = 4/);
  // The first run's cost follows its noisy pool counts (up to ε 3), and a small run on top of it costs about 1 under
  // the filter: raise the total (on the copy, so it must reach d.csv's records too) so that the run fits whatever
  // the noise drew, while a third run of ε 5 (alone it would fit a fresh dataset) cannot.
  const raised = await runCli(['budget', 'sorted.csv', '--set-total', '5'], { cwd: ws, env });
  assert.equal(raised.code, 0, raised.stderr);
  const again = await runCli(
    ['demos', 'sorted.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '0.5', ...small],
    { cwd: ws, env },
  );
  assert.equal(again.code, 0, again.stderr);
  const both = [await spent(ws, 'd.csv', env), await spent(ws, 'sorted.csv', env)];
  // The rise depends on both runs' noisy pool counts: at least 0.23 over all of them (computed with calibrateFromCounts
  // and the Rényi filter for counts from −10⁴ to 10⁶; smallest when the first count is below M·N, q = 1, and the second
  // is ≈ 300), and below 0.25 with probability 0.4%. A copy's run that did not reach d.csv's records rises by 0.
  assert.ok(both[0]!.spent > base.spent + 0.1, `d.csv spent ${both[0]!.spent} after the copy's run`);
  assert.equal(both[0]!.spent, both[1]!.spent);
  const third = await runCli(
    ['demos', 'd.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '5', ...small],
    { cwd: ws, env },
  );
  assert.equal(third.code, 1, third.stdout);
  assert.match(third.stderr, /over its total ε = 5/);

  // The overlap is said, as a local diagnostic with exact counts.
  const ins = await runCli(['inspect', 'added.csv'], { cwd: ws, env });
  assert.equal(ins.code, 0, ins.stderr);
  assert.match(ins.stderr, /local diagnostic.*shares 2,000 of 2,001 records with d\.csv/);
  const plan = await runCli(
    ['demos', 'subset.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '0.5', '--dry-run', ...small],
    { cwd: ws, env },
  );
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stderr, /shares 300 of 300 records with d\.csv/);
  assert.doesNotMatch((await runCli(['inspect', 'disjoint.csv'], { cwd: ws, env })).stderr, /shares/);
});

test('the ledger folder holds no unkeyed hash of any record or raw line, and two ledgers share no fingerprint', async () => {
  const index = tempDir('pfs-index-');
  const a = folder('pfs-records-a-', index);
  const b = folder('pfs-records-b-', index);
  for (const { ws, env } of [a, b]) {
    const r = await runCli(['demos', 'd.csv', '--labels', 'card_arrival', '--shots', '1', '--epsilon', '1', ...small], {
      cwd: ws,
      env,
    });
    assert.equal(r.code, 0, r.stderr);
  }
  const ds = await loadDataset('d.csv', { root: a.ws });
  const records = canonicalRecords(ds);
  const needles: string[] = [];
  const binary: Buffer[] = [];
  const add = (s: string) => {
    const d = createHash('sha256').update(s, 'utf8').digest();
    needles.push(d.toString('hex'), d.toString('base64'));
    binary.push(d.subarray(0, 8));
  };
  for (const r of records) {
    add(r.key);
    add(`${r.key},${r.label}`);
  }
  for (const line of rows) {
    add(line);
    add(`${line}\n`);
  }
  // The unkeyed mixing hash under the keyed step must not be stored either (first 8 bytes, as fingerprints are).
  const unkeyed = unkeyedHashes(records);
  for (let i = 0; i < records.length; i++) binary.push(unkeyed.subarray(16 * i, 16 * i + 8));
  const files = ledgerFiles(a.ws);
  assert.ok(files.length >= 3);
  for (const f of files) {
    const text = f.toString('latin1');
    for (const n of needles) assert.ok(!text.includes(n), 'a SHA-256 of a record or line is in the ledger folder');
    for (const n of binary) assert.ok(f.indexOf(n) < 0, 'an unkeyed record hash is in the ledger folder');
  }
  // Per-ledger keys: the same records have unrelated fingerprints in the two ledgers.
  const fingerprints = (ws: string) => {
    const dir = path.join(ws, '.private-fewshot', 'records');
    const set = new Set<string>();
    for (const name of readdirSync(dir)) {
      const buf = readFileSync(path.join(dir, name));
      const n = buf.readUInt32LE(8);
      for (let i = 0; i < n; i++) set.add(`${buf.readUInt32LE(16 + 4 * i)}:${buf.readUInt32LE(16 + 4 * n + 4 * i)}`);
    }
    return set;
  };
  const fa = fingerprints(a.ws);
  const fb = fingerprints(b.ws);
  assert.equal(fa.size, 2000);
  assert.equal([...fa].filter((x) => fb.has(x)).length, 0);
});

test('a copy in another folder (its own new ledger) warns, via the per-user index, that its records were charged elsewhere', async () => {
  const index = tempDir('pfs-index-');
  const first = folder('pfs-records-first-', index);
  const r = spawnCli(
    [
      'demos',
      path.join(first.ws, 'd.csv'),
      '--workspace',
      first.ws,
      '--labels',
      'card_arrival',
      '--shots',
      '1',
      '--epsilon',
      '1',
      ...small,
    ],
    { env: first.env },
  );
  assert.equal(r.code, 0, r.stderr);
  const second = tempDir('pfs-records-second-');
  mkdirSync(path.join(second, 'copy'));
  writeFileSync(path.join(second, 'copy', 'mine.csv'), `${header}\n${[...rows].reverse().join('\n')}\n`);
  const ins = await runCli(['inspect', 'copy/mine.csv'], { cwd: second, env: first.env });
  assert.equal(ins.code, 0, ins.stderr);
  assert.ok(
    ins.stderr.includes(`charged in another ledger, ${path.join(first.ws, '.private-fewshot')} (as d.csv)`),
    ins.stderr,
  );
  const budget = await runCli(['budget', 'copy/mine.csv'], { cwd: second, env: first.env });
  assert.match(budget.stderr, /warning: about [\d,]+ of these records were charged in another ledger/);
  // Without the index (another user's folder), nothing is said.
  const elsewhere = tempDir('pfs-index-other-');
  const none = await runCli(['inspect', 'copy/mine.csv'], {
    cwd: second,
    env: { PRIVATE_FEWSHOT_INDEX_DIR: elsewhere },
  });
  assert.doesNotMatch(none.stderr, /another ledger/);
  // The index holds no raw hash either, and is small: at most 1,024 sampled fingerprints per set.
  const idx = JSON.parse(readFileSync(path.join(index, 'record-index.json'), 'utf8')) as {
    entries: { fps: string; level: number; records: number }[];
  };
  assert.equal(idx.entries.length, 1);
  assert.ok(Buffer.from(idx.entries[0]!.fps, 'base64').length <= 8 * 1024);
  assert.equal(idx.entries[0]!.records, 2000);
});
