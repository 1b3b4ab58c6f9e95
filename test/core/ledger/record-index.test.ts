// The per-user record index (record-index.ts): concurrent writers both land, one key per folder, exact lookups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RecordIndex } from '../../../src/core/ledger/record-index';
import { tempDir } from '../../support/tmp';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const rows = (from: number, to: number, tag = 'row') =>
  Array.from({ length: to - from }, (_, i) => ({ key: `${tag} ${from + i}`, label: `l${(from + i) % 3}` }));

test('lookup finds every shared record of small sets exactly, once per record, and nothing for disjoint data', async () => {
  const dir = tempDir('pfs-index-');
  const index = new RecordIndex(dir);
  await index.add(path.join(dir, 'a', '.private-fewshot'), 'a.csv', rows(0, 500));
  await index.add(path.join(dir, 'b', '.private-fewshot'), 'b.csv', rows(400, 900));
  const found = index.lookup([...rows(450, 1000), ...rows(450, 460)], path.join(dir, 'c', '.private-fewshot'));
  assert.deepEqual(
    found.map((m) => [m.dataset, m.records, m.exact]),
    [
      ['b.csv', 450, true],
      ['a.csv', 50, true],
    ],
  );
  assert.deepEqual(index.lookup(rows(0, 100, 'other'), path.join(dir, 'c', '.private-fewshot')), []);
  assert.deepEqual(
    index.lookup(rows(0, 100), path.join(dir, 'a', '.private-fewshot')).map((m) => m.dataset),
    [],
    'its own ledger is not "elsewhere"',
  );
});

test('two processes adding at once both land, under one key', async () => {
  const dir = tempDir('pfs-index-');
  // Each child adds 8 entries as fast as it can; without the lock the last rename wins and entries are lost.
  const script = path.join(dir, 'add.mts');
  writeFileSync(
    script,
    `import { RecordIndex } from ${JSON.stringify(path.join(ROOT, 'src/core/ledger/record-index.ts'))};
const [dir, who] = process.argv.slice(2);
const index = new RecordIndex(dir);
for (let i = 0; i < 8; i++) {
  const ok = await index.add(dir + '/' + who + i, who + i + '.csv', [{ key: who + ' row ' + i, label: 'a' }]);
  if (!ok) throw new Error('lock not obtained');
}
`,
  );
  const run = (who: string) =>
    new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, dir, who], { cwd: ROOT, stdio: 'inherit' });
      child.on('exit', (code) => resolve(code ?? 1));
    });
  assert.deepEqual(await Promise.all([run('p'), run('q'), run('r')]), [0, 0, 0]);
  const idx = JSON.parse(readFileSync(path.join(dir, 'record-index.json'), 'utf8')) as { entries: unknown[] };
  assert.equal(idx.entries.length, 24, 'every add of every process is kept');
  // One key: each process's records are found by a fresh reader.
  const found = new RecordIndex(dir).lookup(
    ['p', 'q', 'r'].flatMap((w) => Array.from({ length: 8 }, (_, i) => ({ key: `${w} row ${i}`, label: 'a' }))),
    path.join(dir, 'nowhere'),
  );
  assert.equal(
    found.reduce((s, m) => s + m.records, 0),
    24,
  );
});
