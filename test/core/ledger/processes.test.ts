import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ledger, releaseHash, parseLedger, DEFAULT_DELTA, type LedgerDataset } from '../../../src/core/ledger';
import { tempDir } from '../../support/tmp';
import { gdpAccountant, gdpEpsilon, gdpFilter } from './gdp-accountant';

const root = tempDir('pfs-ledger-proc-');
const child = path.join(__dirname, 'child.ts');
const ds: LedgerDataset = {
  identity: { path: 'data/train.csv', contentSha256: releaseHash('data/train.csv'), bytes: 14 },
  units: 1000,
};
let n = 0;
const workspace = () => {
  const d = path.join(root, `ws${++n}`);
  mkdirSync(d);
  return d;
};

function start(args: string[]) {
  const p = spawn(process.execPath, ['--import', 'tsx', child, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const line = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = re.exec(stdout);
        if (m) resolve(m[0]);
      };
      p.stdout.on('data', check);
      p.on('close', () => reject(new Error(`child exited before printing ${re}: ${stderr}`)));
    });
  return { p, done, line };
}

/**
 * Starts the children with the `barrier` argument and releases them together once every one has started up. (A
 * start time on the wall clock, 2.5 s ahead, let a child that took longer to start miss the others' whole run.)
 */
async function startTogether(args: string[], n: number) {
  const kids = Array.from({ length: n }, () => start([...args, 'barrier']));
  await Promise.all(kids.map((k) => k.line(/ready/)));
  for (const k of kids) k.p.stdin.end('go\n');
  return kids;
}

test('three processes appending at once: every run lands once, the chain stays valid', async () => {
  const ws = workspace();
  const kids = await startTogether(['append', ws, '15'], 3);
  const results = await Promise.all(kids.map((k) => k.done));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const ledger = new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() });
  const text = readFileSync(ledger.file, 'utf8');
  const parsed = parseLedger(text, ledger.file); // throws on any broken link
  assert.equal(parsed.lines.length, 1 + 1 + 3 * 15 * 2); // header, pinned budget, reserve + settle per run
  assert.equal(parsed.lines.filter((l) => l.type === 'ledger').length, 1);
  assert.equal(parsed.lines.filter((l) => l.type === 'budget').length, 1);
  const s = await ledger.status(ds);
  assert.equal(s.runs.length, 45);
  assert.ok(s.runs.every((r) => r.status === 'settled'));
  const order = s.runs.map((r) => r.note!.split(' ')[1]);
  assert.equal(new Set(order).size, 3);
  const switches = order.filter((p, i) => i > 0 && p !== order[i - 1]).length;
  assert.ok(switches > 2, `the three writers overlapped in time (${switches} switches)`);
  assert.ok(Math.abs(s.spent - gdpEpsilon(Math.sqrt(45) / 10, DEFAULT_DELTA)) < 1e-9);
});

test('two processes racing for the last of the budget: together they never pass the total', async () => {
  const ws = workspace();
  const ledger = new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() });
  // Room for exactly 6 one-step runs.
  await ledger.setTotal(ds, { epsilon: gdpEpsilon(Math.sqrt(6) / 10, DEFAULT_DELTA) * (1 + 1e-9) });
  const kids = await startTogether(['race', ws, '6'], 2);
  const results = await Promise.all(kids.map((k) => k.done));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const won = results.map((r) => Number(r.stdout.trim().split('\n').at(-1)));
  assert.equal(won[0]! + won[1]!, 6);
  const s = await ledger.status(ds);
  assert.equal(s.runs.length, 6);
  assert.ok(s.spent <= s.total.epsilon);
});

test('a process killed with SIGKILL mid-run leaves its reservation charged at the planned size', async () => {
  const ws = workspace();
  const kid = start(['hang', ws, '30']);
  const id = (await kid.line(/reserved (r-[0-9a-f]{16})/)).split(' ')[1];
  kid.p.kill('SIGKILL');
  const r = await kid.done;
  assert.equal(r.signal, 'SIGKILL');

  const ledger = new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() });
  const s = await ledger.status(ds);
  assert.equal(s.runs.length, 1);
  assert.equal(s.runs[0]!.id, id);
  assert.equal(s.runs[0]!.status, 'reserved');
  const planned = gdpEpsilon(Math.sqrt(30) / 10, DEFAULT_DELTA);
  assert.ok(Math.abs(s.spent - planned) < 1e-9);
  // The crashed run still blocks what would only fit without it.
  await ledger.setTotal(ds, { epsilon: planned * 1.01 });
  await assert.rejects(
    ledger.reserve(ds, {
      algorithm: 'x',
      charges: [{ partition: '*', mechanism: { kind: 'gaussian', sigma: 10, steps: 30 } }],
    }),
    { name: 'BudgetExceededError' },
  );
});

test('a process killed with SIGKILL while holding the lock: others take the lock over once it is stale', async () => {
  const ws = workspace();
  const kid = start(['hold-lock', ws]);
  await kid.line(/locked/);
  kid.p.kill('SIGKILL');
  await kid.done;
  const ledger = new Ledger(ws, {
    accountant: gdpAccountant(),
    filter: gdpFilter(),
    lock: { staleMs: 2000, waitMs: 10_000 },
  });
  const r = await ledger.reserve(ds, {
    algorithm: 'x',
    charges: [{ partition: '*', mechanism: { kind: 'gaussian', sigma: 10, steps: 1 } }],
  });
  assert.equal(r.line, 3);
});
