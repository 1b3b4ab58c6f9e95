import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync, utimesSync } from 'node:fs';
import path from 'node:path';
import {
  Ledger,
  BudgetExceededError,
  DEFAULT_TOTAL_EPSILON,
  defaultAccountant,
  DEFAULT_DELTA,
  defaultDeltaWarning,
  releaseHash,
  type LedgerDataset,
  type RunPlan,
  type MechanismSpec,
} from '../../../src/core/ledger';
import { epsilonFor } from '../../../src/core/privacy';
import { DataError, UsageError, UserError } from '../../../src/core/errors';
import { tempDir } from '../../support/tmp';
import { gdpAccountant, gdpEpsilon, gdpFilter, mu } from './gdp-accountant';

const root = tempDir('pfs-ledger-');
let n = 0;
function workspace(): string {
  const dir = path.join(root, `ws${++n}`);
  mkdirSync(dir);
  return dir;
}
function dataset(p = 'data/train.csv', content = p, units = 1000): LedgerDataset {
  return { identity: { path: p, contentSha256: releaseHash(content), bytes: content.length }, units };
}
const g = (sigma: number, steps: number): MechanismSpec => ({ kind: 'gaussian', sigma, steps });
const pg = (sigma: number, samplingRate: number, steps: number): MechanismSpec => ({
  kind: 'poisson-gaussian',
  sigma,
  samplingRate,
  steps,
});
const plan = (...charges: RunPlan['charges']): RunPlan => ({ algorithm: 'test', charges });
const released = releaseHash('released demos');
/** δ = 1/(n ln n) for the tests' 1000 units, set explicitly where a test's numbers were chosen at it (not about δ). */
const DELTA_1000 = 1 / (1000 * Math.log(1000));
const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

test('a fresh dataset has the default total ε = 4, δ = 1e-6 whatever its size, nothing spent, and no file is created', async () => {
  const ws = workspace();
  const ledger = new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() });
  const s = await ledger.status(dataset());
  assert.equal(s.total.epsilon, DEFAULT_TOTAL_EPSILON);
  assert.equal(s.total.delta, 1e-6);
  assert.equal(DEFAULT_DELTA, 1e-6);
  assert.equal(s.total.source, 'default');
  assert.equal(s.spent, 0);
  assert.equal(s.remaining, 4);
  assert.deepEqual(s.runs, []);
  assert.equal(existsSync(path.join(ws, '.private-fewshot')), false);
  // The default reads nothing of the dataset: the same δ for 1, 2, 1000 and 10⁷ units, and no refusal for tiny data
  // (the earlier default 1/(n ln n) refused n < 3).
  for (const units of [1, 2, 1001, 10_000_000]) {
    const t = await ledger.status(dataset('data/train.csv', 'data/train.csv', units));
    assert.equal(t.total.delta, 1e-6, `${units} units`);
  }
  const tiny = dataset('tiny.csv', 'tiny', 2);
  const r = await ledger.reserve(tiny, plan({ partition: '*', mechanism: g(10, 10) }));
  assert.equal(r.total.delta, 1e-6);
  assert.equal(r.total.source, 'pinned-default');
});

test('defaultDeltaWarning: only for a default δ above 1/(n ln n), labelled local only, with the command to set δ', () => {
  const dflt = { delta: DEFAULT_DELTA, source: 'default' as const };
  // n ln n = 10⁶ at n ≈ 87,848: below it the default is stronger than the convention, above it it is weaker.
  assert.equal(defaultDeltaWarning(dflt, 87_847, 'd.csv'), undefined);
  const w = defaultDeltaWarning(dflt, 87_849, 'd.csv');
  assert.match(w ?? '', /^local only, not private: .*87849 records.*private-fewshot budget d\.csv --delta D$/);
  assert.match(defaultDeltaWarning({ ...dflt, source: 'pinned-default' }, 10_000_000, 'd.csv') ?? '', /1\.00e-6/);
  // Set by the user: never a warning. Tiny datasets: 1/(n ln n) is no yardstick, and nothing is refused.
  assert.equal(defaultDeltaWarning({ delta: 1e-3, source: 'user' }, 10_000_000, 'd.csv'), undefined);
  for (const units of [0, 1, 2, 3]) assert.equal(defaultDeltaWarning(dflt, units, 'd.csv'), undefined);
  // A pinned earlier default 1/(n ln n) warns only once the file has grown past the n it was pinned at.
  const pinned = { delta: DELTA_1000, source: 'pinned-default' as const };
  assert.equal(defaultDeltaWarning(pinned, 1000, 'd.csv'), undefined);
  assert.ok(defaultDeltaWarning(pinned, 1001, 'd.csv'));
});

test('reserve pins the default total, records the run, and settle replaces the plan by the real usage', async () => {
  const ws = workspace();
  const ledger = new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() });
  const ds = dataset();
  const delta = DEFAULT_DELTA;
  const r = await ledger.reserve(ds, plan({ partition: '*', mechanism: g(10, 10) }));
  assert.equal(r.total.source, 'pinned-default');
  close(r.epsilonRun, gdpEpsilon(Math.sqrt(10) / 10, delta));
  let s = await ledger.status(ds);
  assert.equal(s.runs.length, 1);
  assert.equal(s.runs[0]!.status, 'reserved');
  close(s.spent, gdpEpsilon(Math.sqrt(10) / 10, delta));

  // The run stopped after 4 steps: settle records 4, and spent drops to the 4-step composition.
  const closed = await r.settle({ used: [{ partition: '*', mechanism: g(10, 4) }], released });
  assert.equal(closed.exceededReservation, false);
  s = await ledger.status(ds);
  assert.equal(s.runs[0]!.status, 'settled');
  assert.equal(s.runs[0]!.released, released);
  assert.equal(s.runs[0]!.charges[0]!.steps, 4);
  assert.equal(s.runs[0]!.planned[0]!.steps, 10);
  close(s.spent, gdpEpsilon(2 / 10, delta));
  close(s.remaining, 4 - s.spent);

  // The file: header, pinned budget, reserved, settled — each line JSON carrying seq, prev, time, tool version.
  const lines = readFileSync(ledger.file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => [l.type, l.status]),
    [
      ['ledger', undefined],
      ['budget', undefined],
      ['run', 'reserved'],
      ['run', 'settled'],
    ],
  );
  assert.deepEqual(
    lines.map((l) => l.seq),
    [1, 2, 3, 4],
  );
  for (let i = 1; i < lines.length; i++) assert.equal(lines[i].prev, lines[i - 1].hash);
  assert.equal(lines[2].charges[0].mu, Math.sqrt(10) / 10);
  assert.equal(lines[2].delta, delta);
  assert.match(lines[2].tool, /^\d+\.\d+\.\d+/);
  assert.equal(lines[1].source, 'default');

  await assert.rejects(r.settle({ released }), /already settled \(line 4/);
  await assert.rejects(ledger.settle('r-0123456789abcdef', { released }), /no reservation r-0123456789abcdef/);
  await assert.rejects(async () => ledger.settle(r.id, { released: 'not-a-hash' }), UsageError);
});

test('an abort without usage stays charged at the planned size; with usage, at what ran; usage above the plan is recorded and flagged', async () => {
  const ws = workspace();
  const ledger = new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() });
  const ds = dataset();
  const delta = DEFAULT_DELTA;
  const a = await ledger.reserve(ds, plan({ partition: '*', mechanism: g(8, 16) }));
  await a.abort({ reason: 'cancelled' });
  let s = await ledger.status(ds);
  assert.equal(s.runs[0]!.status, 'aborted');
  assert.equal(s.runs[0]!.reason, 'cancelled');
  close(s.spent, gdpEpsilon(4 / 8, delta));

  const b = await ledger.reserve(ds, plan({ partition: '*', mechanism: g(8, 16) }));
  await b.abort({ used: [{ partition: '*', mechanism: g(8, 9) }] });
  s = await ledger.status(ds);
  close(s.spent, gdpEpsilon(mu([g(8, 16), g(8, 9)]), delta));

  const c = await ledger.reserve(ds, plan({ partition: '*', mechanism: g(8, 1) }));
  const over = await c.settle({ used: [{ partition: '*', mechanism: g(8, 3) }], released });
  assert.equal(over.exceededReservation, true);
  s = await ledger.status(ds);
  close(s.spent, gdpEpsilon(mu([g(8, 16), g(8, 9), g(8, 3)]), delta));
});

test('partitions: label pools compose in parallel, one pool in sequence, and * with every pool', async () => {
  const ws = workspace();
  const ledger = new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() });
  const ds = dataset();
  const delta = DEFAULT_DELTA;
  const eps = (...specs: MechanismSpec[]) => gdpEpsilon(mu(specs), delta);

  // Two different labels: parallel — spent is the larger pool, not the sum.
  await ledger.reserve(
    ds,
    plan({ partition: 'label:card_arrival', mechanism: g(2, 1) }, { partition: 'label:lost_card', mechanism: g(3, 1) }),
  );
  let s = await ledger.status(ds, { labels: ['card_arrival', 'lost_card'] });
  close(s.spent, eps(g(2, 1)));
  assert.equal(s.worst?.label, 'card_arrival');
  assert.ok(s.spent < eps(g(2, 1), g(3, 1)));

  // The same label again: sequential on that pool.
  await ledger.reserve(ds, plan({ partition: 'label:lost_card', mechanism: g(2, 1) }));
  s = await ledger.status(ds, { labels: ['card_arrival', 'lost_card'] });
  close(s.spent, eps(g(3, 1), g(2, 1)));
  assert.equal(s.worst?.label, 'lost_card');

  // A whole-dataset run composes with each pool: the worst pool is lost_card + *.
  await ledger.reserve(ds, plan({ partition: '*', mechanism: g(4, 2) }));
  s = await ledger.status(ds);
  close(s.spent, eps(g(3, 1), g(2, 1), g(4, 2)));

  // With only * runs, spent is their composition.
  const ws2 = workspace();
  const l2 = new Ledger(ws2, { accountant: gdpAccountant(), filter: gdpFilter() });
  await l2.reserve(ds, plan({ partition: '*', mechanism: g(4, 2) }));
  await l2.reserve(ds, plan({ partition: '*', mechanism: pg(6, 0.01, 3) }));
  close((await l2.status(ds)).spent, eps(g(4, 2), g(6, 3)));
});

test('label names never reach the file: pools are stored as salted HMACs, different per ledger', async () => {
  const label = 'Refund_not_showing_up';
  const files: string[] = [];
  for (let i = 0; i < 2; i++) {
    const ledger = new Ledger(workspace(), { accountant: gdpAccountant(), filter: gdpFilter() });
    await ledger.reserve(dataset(), plan({ partition: `label:${label}`, mechanism: g(2, 1) }));
    files.push(readFileSync(ledger.file, 'utf8'));
  }
  const pools = files.map((f) => JSON.parse(f.trim().split('\n')[2]!).charges[0].partition as string);
  for (const f of files) assert.ok(!f.includes(label) && !f.toLowerCase().includes('refund'));
  assert.match(pools[0]!, /^label-hash:[0-9a-f]{32}$/);
  assert.notEqual(pools[0], pools[1]);
});

test('a refused overspend says by how much and which σ or step budget fits — and those suggestions really fit', async () => {
  const ws = workspace();
  const ledger = new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() });
  const ds = dataset();
  await ledger.setTotal(ds, { epsilon: 2, delta: DELTA_1000 });
  await ledger.reserve(ds, plan({ partition: '*', mechanism: g(10, 4) }));
  const before = (await ledger.status(ds)).spent;
  const lines = readFileSync(ledger.file, 'utf8');

  const big = plan({ partition: '*', mechanism: g(2, 40) });
  const err = await ledger.reserve(ds, big).then(
    () => assert.fail('should refuse'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BudgetExceededError && err instanceof UserError);
  const check = err.check;
  assert.equal(check.fits, false);
  close(check.spentBefore, before);
  close(check.over, check.spentAfter - 2);
  assert.ok(check.over > 0);
  assert.match(
    err.message,
    new RegExp(`over its total ε = 2 by ${String(Number(check.over.toPrecision(4))).replace('.', '\\.')}`),
  );
  assert.match(err.describe(), /noise σ ≥ [\d.]+ \(planned 2\)/);
  assert.match(err.describe(), /at most \d+ steps \(planned 40\)/);
  assert.equal(readFileSync(ledger.file, 'utf8'), lines, 'a refusal writes nothing');

  const sigma = check.suggestion!.sigmas![0]!;
  const steps = check.suggestion!.steps![0]!;
  // Tight: slightly less noise, or one more step, would not fit.
  assert.equal((await ledger.check(ds, plan({ partition: '*', mechanism: g(sigma / 1.02, 40) }))).fits, false);
  assert.equal((await ledger.check(ds, plan({ partition: '*', mechanism: g(2, steps + 1) }))).fits, false);
  assert.equal((await ledger.check(ds, plan({ partition: '*', mechanism: g(2, steps) }))).fits, true);
  // And it fits for real.
  const ok = await ledger.reserve(ds, plan({ partition: '*', mechanism: g(sigma, 40) }));
  assert.ok(ok.spentAfter <= 2);

  // Once the budget is used up, the refusal says so.
  await ledger.setTotal(ds, { epsilon: ok.spentAfter });
  await assert.rejects(
    ledger.reserve(ds, plan({ partition: '*', mechanism: g(50, 1) })),
    (e: BudgetExceededError) => /budget is used up/.test(e.describe()) && e.check.suggestion === undefined,
  );
});

test('setTotal writes a user budget line; δ must stay below 1/n', async () => {
  const ws = workspace();
  const ledger = new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() });
  const ds = dataset();
  const s = await ledger.setTotal(ds, { epsilon: 1.5, delta: 1e-5 });
  assert.deepEqual([s.total.epsilon, s.total.delta, s.total.source, s.total.line], [1.5, 1e-5, 'user', 2]);
  const t = await ledger.setTotal(ds, { epsilon: 3 });
  assert.deepEqual([t.total.epsilon, t.total.delta], [3, 1e-5]);
  await assert.rejects(ledger.setTotal(ds, { delta: 1 / 1000 }), /δ must be in \[1e-12, 1\/n\)/);
  // Below 1e-12 the accountants cannot compute ε reliably (calibration would spin): refused, not stored.
  await assert.rejects(ledger.setTotal(ds, { delta: 1e-30 }), /δ must be in \[1e-12, 1\/n\)/);
  assert.equal((await ledger.status(ds)).total.delta, 1e-5);
  await assert.rejects(ledger.setTotal(ds, { epsilon: -1 }), UsageError);
});

test('identity: an edited file keeps its budget, a copy or rename shares it, an unrelated file does not', async () => {
  const ws = workspace();
  const ledger = new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() });
  const original = dataset('data/a.csv', 'v1');
  await ledger.setTotal(original, { delta: DELTA_1000 });
  await ledger.reserve(original, plan({ partition: '*', mechanism: g(2, 2) }));
  const spent = (await ledger.status(original)).spent;
  assert.ok(spent > 0);

  const edited = dataset('data/a.csv', 'v2');
  const copied = dataset('backup/a-copy.csv', 'v1');
  const unrelated = dataset('data/b.csv', 'other');
  close((await ledger.status(edited)).spent, spent);
  close((await ledger.status(copied)).spent, spent);
  assert.equal((await ledger.status(unrelated)).spent, 0);

  // A run on the copy, then the copy is edited: the edited copy still carries the original's run (transitively).
  await ledger.reserve(copied, plan({ partition: '*', mechanism: g(2, 2) }));
  const editedCopy = dataset('backup/a-copy.csv', 'v3');
  const s = await ledger.status(editedCopy);
  assert.equal(s.runs.length, 2);
  assert.deepEqual(new Set(s.matched.paths), new Set(['backup/a-copy.csv', 'data/a.csv']));
  // The original now sees the copy's run too (the copy's data are the same records).
  assert.equal((await ledger.status(original)).runs.length, 2);
});

async function damagedLedger(): Promise<{ ledger: Ledger; ds: LedgerDataset; lines: string[] }> {
  const ledger = new Ledger(workspace(), { accountant: gdpAccountant(), filter: gdpFilter() });
  const ds = dataset();
  for (let i = 0; i < 3; i++) {
    const r = await ledger.reserve(ds, plan({ partition: '*', mechanism: g(10, 1) }));
    await r.settle({ released });
  }
  return { ledger, ds, lines: readFileSync(ledger.file, 'utf8').split('\n').slice(0, -1) };
}

function expectDataError(e: unknown, file: string, line: number | undefined, re: RegExp): true {
  assert.ok(e instanceof DataError, String(e));
  assert.equal(e.file, file);
  assert.equal(e.line, line);
  assert.match(e.message, re);
  assert.match(e.hint ?? '', /never reset/);
  return true;
}

test('a tampered line is reported with its line number, never silently reset', async () => {
  const { ledger, ds, lines } = await damagedLedger();
  // Lower the steps of the run on line 5 (edit without fixing the hash).
  lines[4] = lines[4]!.replace('"steps":1', '"steps":0');
  writeFileSync(ledger.file, `${lines.join('\n')}\n`);
  await assert.rejects(ledger.status(ds), (e) =>
    expectDataError(e, ledger.file, 5, /does not match its own hash: it was edited/),
  );
  await assert.rejects(ledger.reserve(ds, plan({ partition: '*', mechanism: g(10, 1) })), DataError);

  // Same edit with the line's own hash recomputed: the next line's link breaks.
  const fresh = await damagedLedger();
  const obj = JSON.parse(fresh.lines[4]!);
  delete obj.hash;
  obj.charges[0].steps = 0;
  const body = JSON.stringify(obj);
  fresh.lines[4] = `${body.slice(0, -1)},"hash":"${releaseHash(body)}"}`;
  writeFileSync(fresh.ledger.file, `${fresh.lines.join('\n')}\n`);
  await assert.rejects(fresh.ledger.status(fresh.ds), (e) =>
    expectDataError(e, fresh.ledger.file, 6, /does not follow line 5 \(hash chain broken\)/),
  );

  // Invalid JSON in the middle.
  const broken = await damagedLedger();
  broken.lines[3] = '{"seq":4,';
  writeFileSync(broken.ledger.file, `${broken.lines.join('\n')}\n`);
  await assert.rejects(broken.ledger.status(broken.ds), (e) =>
    expectDataError(e, broken.ledger.file, 4, /no hash at its end/),
  );
});

test('a deleted line is reported: in the middle by the chain, at the end by the head file, a deleted ledger by the head', async () => {
  const mid = await damagedLedger();
  writeFileSync(mid.ledger.file, `${mid.lines.filter((_, i) => i !== 3).join('\n')}\n`);
  await assert.rejects(mid.ledger.status(mid.ds), (e) =>
    expectDataError(e, mid.ledger.file, 4, /expected entry 4 but found entry 5: entry 4 was deleted/),
  );

  const end = await damagedLedger();
  writeFileSync(end.ledger.file, `${end.lines.slice(0, -2).join('\n')}\n`);
  await assert.rejects(end.ledger.status(end.ds), (e) =>
    expectDataError(e, end.ledger.file, 7, /ends at entry 6, but entry 8 was written: entries 7–8 were deleted/),
  );

  const gone = await damagedLedger();
  const { rmSync } = await import('node:fs');
  rmSync(gone.ledger.file);
  await assert.rejects(gone.ledger.reserve(gone.ds, plan({ partition: '*', mechanism: g(10, 1) })), (e) =>
    expectDataError(e, gone.ledger.file, undefined, /ledger file is missing.*it was deleted/),
  );

  const headless = await damagedLedger();
  rmSync(headless.ledger.store.headFile);
  await assert.rejects(headless.ledger.status(headless.ds), (e) =>
    expectDataError(e, headless.ledger.store.headFile, undefined, /head file is missing/),
  );
});

test('a lock left behind by a dead process is taken over once stale; a live one makes others wait', async () => {
  const ws = workspace();
  const ledger = new Ledger(ws, {
    accountant: gdpAccountant(),
    filter: gdpFilter(),
    // Stale after 30 s (2 s before): the fresh lock below must stay fresh through the 300 ms wait on a busy machine;
    // the old one is 60 s old.
    lock: { staleMs: 30_000, waitMs: 300 },
  });
  const ds = dataset();
  await ledger.reserve(ds, plan({ partition: '*', mechanism: g(10, 1) }));
  const lock = path.join(ws, '.private-fewshot', 'ledger.lock');
  mkdirSync(lock);
  // Fresh lock (held by someone alive): we give up after waitMs with a clear message.
  await assert.rejects(ledger.status(ds), /locked by another process/);
  // Old lock (its owner stopped refreshing it): taken over.
  const old = new Date(Date.now() - 60_000);
  utimesSync(lock, old, old);
  const s = await ledger.status(ds);
  assert.equal(s.runs.length, 1);
  assert.equal(existsSync(lock), false);
});

test('calls in one process are serialised and see each other', async () => {
  const ledger = new Ledger(workspace(), { accountant: gdpAccountant(), filter: gdpFilter() });
  const ds = dataset();
  await ledger.setTotal(ds, { epsilon: gdpEpsilon(Math.sqrt(5) / 10, DEFAULT_DELTA) * 1.0000001 });
  // 12 concurrent attempts at 1 step each; exactly 5 fit.
  const results = await Promise.allSettled(
    Array.from({ length: 12 }, () => ledger.reserve(ds, plan({ partition: '*', mechanism: g(10, 1) }))),
  );
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 5);
  assert.ok(
    results
      .filter((r) => r.status === 'rejected')
      .every((r) => (r as PromiseRejectedResult).reason instanceof BudgetExceededError),
  );
});

test('pool values computed by writes are recorded in the chain, so a cold read needs no accountant call', async () => {
  const ws = workspace();
  const ds = dataset();
  const writer = new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() });
  const a = await writer.reserve(
    ds,
    plan({ partition: 'label:x', mechanism: g(3, 2) }, { partition: 'label:y', mechanism: g(4, 2) }),
  );
  await a.settle({
    released,
    used: [
      { partition: 'label:x', mechanism: g(3, 1) },
      { partition: 'label:y', mechanism: g(4, 2) },
    ],
  });
  const b = await writer.reserve(ds, plan({ partition: '*', mechanism: g(9, 3) }));
  await b.abort({ used: [{ partition: '*', mechanism: g(9, 2) }] });

  const acc = gdpAccountant();
  const reader = new Ledger(ws, { accountant: acc });
  const s = await reader.status(ds);
  assert.equal(acc.calls, 0, 'every pool value came from the ledger');
  // This reader keeps the default (Rényi) filter, so the closed-form GDP value is the as-if-planned composition.
  close(s.pldIfPlanned, gdpEpsilon(mu([g(4, 2), g(9, 2)]), DEFAULT_DELTA));

  // A new δ: setTotal composes at it and records; the next cold read again needs nothing.
  await writer.setTotal(ds, { delta: 1e-6 });
  const acc2 = gdpAccountant();
  const s2 = await new Ledger(ws, { accountant: acc2 }).status(ds);
  assert.equal(acc2.calls, 0);
  close(s2.pldIfPlanned, gdpEpsilon(mu([g(4, 2), g(9, 2)]), 1e-6));

  // Another accountant (or tool version) never reuses them.
  const other = { ...gdpAccountant(), name: 'other' };
  let calls = 0;
  other.epsilonFor = (specs, delta) => (calls++, gdpEpsilon(mu(specs), delta));
  await new Ledger(ws, { accountant: other }).status(ds);
  assert.ok(calls > 0);
  // The recorded values sit on the lines that computed them, keyed, never as label text.
  const lines = readFileSync(writer.file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.ok(lines.filter((l) => l.eps).every((l) => Object.keys(l.eps).every((k) => /^[0-9a-f]{24}$/.test(k))));
});

test('an append refuses to fork the chain when the file grew under a lock that went stale', async () => {
  const ledger = new Ledger(workspace(), { accountant: gdpAccountant(), filter: gdpFilter() });
  const ds = dataset();
  await ledger.reserve(ds, plan({ partition: '*', mechanism: g(10, 1) }));
  const before = readFileSync(ledger.file, 'utf8');
  await assert.rejects(
    ledger.store.withLock(true, ({ append }) => {
      // Another writer that (wrongly) took our lock over appends first.
      writeFileSync(ledger.file, `${before}{"seq":4}\n`);
      append([
        {
          time: 't',
          tool: 'x',
          type: 'budget',
          dataset: { path: 'a', sha256: releaseHash('a'), bytes: 1 },
          epsilon: 1,
          delta: 1e-6,
          source: 'user',
        },
      ]);
    }),
    /changed while this process held its lock/,
  );
  assert.equal(readFileSync(ledger.file, 'utf8'), `${before}{"seq":4}\n`);
});

test('with the production PLD accountant: a refused Poisson-subsampled plan, and its σ and step suggestions fit', async () => {
  const ledger = new Ledger(workspace(), { accountant: defaultAccountant() });
  const ds = dataset('data/mit.csv', 'mit', 1561);
  const delta = 1 / (1561 * Math.log(1561)); // set explicitly: the sizes below were chosen at this δ
  await ledger.setTotal(ds, { delta });
  const big = plan(
    { partition: 'label:a', mechanism: pg(0.6, 80 / 1561, 160) },
    { partition: 'label:b', mechanism: pg(0.6, 80 / 1561, 80) },
  );
  const err = await ledger.reserve(ds, big).then(
    () => assert.fail('should refuse'),
    (e: unknown) => e as BudgetExceededError,
  );
  assert.ok(err instanceof BudgetExceededError, String(err));
  const { sigmas, steps } = err.check.suggestion!;
  assert.ok(sigmas && steps, err.describe());
  assert.equal(sigmas[0], sigmas[1]);
  assert.ok(sigmas[0]! > 0.6);
  assert.deepEqual(steps, [steps[0], Math.floor(steps[0]! / 2)]);
  const withSigma = await ledger.check(
    ds,
    plan(
      { partition: 'label:a', mechanism: pg(sigmas[0]!, 80 / 1561, 160) },
      { partition: 'label:b', mechanism: pg(sigmas[0]!, 80 / 1561, 80) },
    ),
  );
  assert.ok(withSigma.fits && withSigma.spentAfter <= 4);
  const r = await ledger.reserve(
    ds,
    plan(
      { partition: 'label:a', mechanism: pg(0.6, 80 / 1561, steps[0]!) },
      { partition: 'label:b', mechanism: pg(0.6, 80 / 1561, steps[1]!) },
    ),
  );
  assert.ok(r.spentAfter <= 4);
  // Parallel pools: spent is pool a's ε alone.
  close(r.spentAfter, epsilonFor([pg(0.6, 80 / 1561, steps[0]!)], delta));
});
