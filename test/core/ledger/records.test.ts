// Per-record accounting (identity.ts, records.ts): each record is charged by exactly the runs whose input held it, on
// the partition it had there; spent = the most-charged record class. Old lines keep the path/hash rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { canonicalRecords, type CanonicalRecord, type Example } from '../../../src/core/data';
import {
  Ledger,
  RecordIndex,
  defaultAccountant,
  releaseHash,
  type LedgerDataset,
  type MechanismSpec,
  type RunPlan,
} from '../../../src/core/ledger';
import { createHash } from 'node:crypto';
import { classify, encodeSet, recordSet, unkeyedHashes } from '../../../src/core/ledger/records';
import { DataError } from '../../../src/core/errors';
import { filterEpsilon } from '../../../src/core/privacy/filter';
import { tempDir } from '../../support/tmp';
import { gdpAccountant, gdpEpsilon, gdpFilter, mu } from './gdp-accountant';

const root = tempDir('pfs-records-');
let n = 0;
function workspace(): string {
  const dir = path.join(root, `ws${++n}`);
  mkdirSync(dir);
  return dir;
}
const g = (sigma: number, steps: number): MechanismSpec => ({ kind: 'gaussian', sigma, steps });
const plan = (...charges: RunPlan['charges']): RunPlan => ({ algorithm: 'test', charges });
/** Rows `from`..`to`-1 as records, labelled by `label(i)`; the file path and hash differ per call. */
let files = 0;
function rows(from: number, to: number, label: (i: number) => string = () => 'a'): LedgerDataset {
  const records: CanonicalRecord[] = [];
  for (let i = from; i < to; i++) records.push({ key: `row ${i}`, label: label(i) });
  const p = `data/f${++files}.csv`;
  return { identity: { path: p, contentSha256: releaseHash(p), bytes: 1 }, units: 100, records };
}
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

test('each record is charged by the runs whose input held it; spent is the most-charged class', async () => {
  const ledger = new Ledger(workspace(), { accountant: gdpAccountant(), filter: gdpFilter() });
  const A = rows(0, 10);
  const B = rows(5, 15);
  const r1 = await ledger.reserve(A, plan({ partition: '*', mechanism: g(4, 3) }));
  const delta = r1.total.delta;
  await ledger.reserve(B, plan({ partition: '*', mechanism: g(6, 5) }));
  const one = gdpEpsilon(mu([g(4, 3)]), delta);
  const two = gdpEpsilon(mu([g(6, 5)]), delta);
  const both = gdpEpsilon(mu([g(4, 3), g(6, 5)]), delta);
  const cases: [LedgerDataset, number][] = [
    [rows(0, 15), both], // rows 5–9 were in both inputs
    [rows(0, 5), one],
    [rows(10, 15), two],
    [rows(7, 8), both],
    [rows(100, 110), 0],
    [rows(14, 20), two], // one shared row is enough
  ];
  for (const [ds, want] of cases) {
    const s = await ledger.status(ds);
    assert.ok(close(s.spent, want), `${ds.identity.path}: ${s.spent} vs ${want}`);
    if (want === both)
      assert.equal(s.total.source, 'pinned-default', 'the total of the dataset it shares records with');
    if (want === 0) assert.equal(s.total.source, 'default');
  }
  // Shares are reported with exact counts.
  const s = await ledger.status(rows(8, 12));
  assert.deepEqual(
    s.shared?.map((x) => [x.path, x.records, x.of]),
    [
      [B.identity.path, 4, 4],
      [A.identity.path, 2, 4],
    ],
  );
});

test('a label-pool charge applies to the records that had that label in the run input, whatever their label now', async () => {
  const ledger = new Ledger(workspace(), { accountant: gdpAccountant(), filter: gdpFilter() });
  const A = rows(0, 10, (i) => (i < 5 ? 'a' : 'b'));
  const r = await ledger.reserve(A, plan({ partition: 'label:a', mechanism: g(4, 4) }));
  const eps = gdpEpsilon(mu([g(4, 4)]), r.total.delta);
  assert.ok(close((await ledger.status(rows(5, 10, () => 'a'))).spent, 0), 'were b in the run: not charged');
  assert.ok(close((await ledger.status(rows(0, 5, () => 'b'))).spent, eps), 'were a in the run: charged');
  // A planned run charges the current records by their current labels.
  const check = await ledger.check(
    rows(0, 10, () => 'b'),
    plan({ partition: 'label:b', mechanism: g(4, 4) }),
  );
  assert.ok(close(check.spentAfter, gdpEpsilon(mu([g(4, 4), g(4, 4)]), r.total.delta)));
});

test('two copies of a file (sorted; one row added): runs on each put the shared records in a class touched by two runs, valued by the Rényi filter, not PLD', async () => {
  // The real accountants: PLD for a lone run, the Rényi filter (filter.ts) for a record class two runs touched.
  const ledger = new Ledger(workspace(), { accountant: defaultAccountant() });
  const orig = rows(0, 50);
  const sorted: LedgerDataset = { ...rows(0, 0), records: [...orig.records!].reverse() };
  const added: LedgerDataset = { ...rows(0, 0), records: [...orig.records!, { key: 'a new row', label: 'a' }] };
  const m1 = g(6, 4);
  const m2 = g(5, 3);
  const r1 = await ledger.reserve(sorted, plan({ partition: '*', mechanism: m1 }));
  const delta = r1.total.delta;
  // After the first run only: every record of the original is touched by that one run, so its PLD ε stands.
  const one = await ledger.status(orig);
  assert.equal(one.spentRule, 'lone-run-pld');
  assert.ok(close(one.spent, one.pldIfPlanned));
  const r2 = await ledger.reserve(added, plan({ partition: '*', mechanism: m2 }));
  assert.equal(r2.total.source, 'pinned-default', 'the copy with a row added shares the total of the sorted copy');
  const renyi = filterEpsilon([m1, m2], delta);
  for (const ds of [orig, sorted, added]) {
    const s = await ledger.status(ds);
    assert.equal(s.spentRule, 'renyi-filter', ds.identity.path);
    assert.ok(close(s.spent, renyi), `${ds.identity.path}: spent ${s.spent}, Rényi filter ${renyi}`);
    assert.ok(s.pldIfPlanned < s.spent, `${ds.identity.path}: the PLD figure ${s.pldIfPlanned} is only "as planned"`);
  }
  // The added row alone was in one run's input: its class is valued at that run's PLD ε.
  const fresh: LedgerDataset = { ...rows(0, 0), records: [{ key: 'a new row', label: 'a' }] };
  const s = await ledger.status(fresh);
  assert.equal(s.spentRule, 'lone-run-pld');
  assert.ok(s.spent > 0 && s.spent < filterEpsilon([m2], delta) + 1e-9 && s.spent < renyi);
});

test('a unit column makes the unit the record: its rows in another file, with other texts, are the same record', () => {
  const ex = (unit: string, text: string, label: string): Example => ({ line: 2, text, label, unit });
  const cols = { text: 't', label: 'l', unit: 'u', detected: { text: false, label: false }, available: [] };
  const one = canonicalRecords({ examples: [ex('u1', 'hello', 'a'), ex('u2', 'x', 'b')], columns: cols } as never);
  const two = canonicalRecords({ examples: [ex('u1', 'other text', 'a')], columns: cols } as never);
  assert.equal(one[0]!.key, two[0]!.key);
  // Without a unit column: the text, with line endings, Unicode form and outer spaces normalised.
  const plain = { ...cols, unit: undefined };
  const a = canonicalRecords({ examples: [ex('line:2', ' café\r\nok ', 'x')], columns: plain } as never);
  const b = canonicalRecords({ examples: [ex('line:9', 'cafe\u0301\nok', 'x')], columns: plain } as never);
  assert.deepEqual(a, b);
});

test('record classes: one per membership signature and label, counted exactly', () => {
  const salt = '00'.repeat(16);
  const rec = (from: number, to: number, label = 'a') =>
    Array.from({ length: to - from }, (_, i) => ({ key: `r${from + i}`, label }));
  const current = recordSet([...rec(0, 30), ...rec(30, 40, 'b')], salt);
  const { classes, shared } = classify(current, [recordSet(rec(0, 20), salt), recordSet(rec(10, 35), salt)]);
  assert.deepEqual(shared, [20, 25]);
  const sizes = classes.map((c) => [c.records, c.in.map((m) => m.set).join(',')]).sort();
  // 0–9: set 0; 10–19: both; 20–29: set 1; 30–34 (b): set 1; 35–39 (b): none.
  assert.deepEqual(sizes.map(String).sort(), ['10,0', '10,0,1', '10,1', '5,', '5,1'].sort());
});

test('old lines without a record set keep the path/hash rule; a missing record set file is an error, never a reset', async () => {
  const ws = workspace();
  const ledger = new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() });
  const ds = rows(0, 10);
  const legacy = { identity: ds.identity, units: ds.units }; // as an older tool wrote it
  const r = await ledger.reserve(legacy, plan({ partition: '*', mechanism: g(4, 3) }));
  const eps = gdpEpsilon(mu([g(4, 3)]), r.total.delta);
  assert.ok(close((await ledger.status(ds)).spent, eps), 'same path: the old line applies to every record');
  assert.ok(close((await ledger.status(rows(0, 10))).spent, 0), 'another path and hash: it does not');

  await ledger.reserve(rows(20, 30), plan({ partition: '*', mechanism: g(4, 3) }));
  const dir = path.join(ws, '.private-fewshot', 'records');
  for (const f of readdirSync(dir)) rmSync(path.join(dir, f));
  await assert.rejects(
    () => new Ledger(ws, { accountant: gdpAccountant(), filter: gdpFilter() }).status(rows(20, 30)),
    (e: unknown) => e instanceof DataError && /ledger\.jsonl:\d+: the record set .* is missing/.test(e.message),
  );
});

test('the fast (UTF-16 buffer) and portable paths of the record hash agree, for every key length and surrogates', () => {
  const keys: CanonicalRecord[] = [];
  for (let len = 0; len < 40; len++) keys.push({ key: 'aé😀x'.repeat(10).slice(0, len), label: 'a' });
  keys.push({ key: 'a'.repeat(100_000), label: 'a' });
  assert.ok(unkeyedHashes(keys).equals(unkeyedHashes(keys, true)));
  assert.equal(
    new Set(Array.from({ length: keys.length }, (_, i) => unkeyedHashes(keys).toString('hex', 16 * i, 16 * i + 16)))
      .size,
    keys.length,
  );
});

test('a record set is sorted by (fingerprint, tag) without repeats, whatever the input order and repeats', () => {
  const salt = '11'.repeat(16);
  const recs = [
    { key: 'x', label: 'b' },
    { key: 'y', label: 'a' },
    { key: 'x', label: 'a' },
    { key: 'x', label: 'b' },
    { key: 'z', label: 'a' },
  ];
  const one = recordSet(recs, salt);
  const two = recordSet([...recs].reverse(), salt);
  assert.equal(one.n, 4);
  assert.deepEqual([one.hi, one.lo, one.tag], [two.hi, two.lo, two.tag]);
  for (let i = 1; i < one.n; i++) {
    const prev = [one.hi[i - 1]!, one.lo[i - 1]!, one.tag[i - 1]!];
    const cur = [one.hi[i]!, one.lo[i]!, one.tag[i]!];
    assert.ok(
      prev[0]! < cur[0]! || (prev[0] === cur[0] && (prev[1]! < cur[1]! || (prev[1] === cur[1] && prev[2]! < cur[2]!))),
    );
  }
});

test('the per-user index keeps at most 1,024 fingerprints per set, whatever its random key draws', async () => {
  // The sample is the fingerprints with their lowest `level` bits zero: its size is random, so the level follows the
  // sample (2,000 records at level 1 exceed 1,024 for about one key in seven).
  const records = Array.from({ length: 2000 }, (_, i) => ({ key: `row ${i}`, label: 'a' }));
  for (let k = 0; k < 30; k++) {
    const dir = workspace();
    await new RecordIndex(dir).add(path.join(dir, 'ledger'), 'd.csv', records);
    const idx = JSON.parse(readFileSync(path.join(dir, 'record-index.json'), 'utf8')) as {
      entries: { fps: string; level: number }[];
    };
    const size = Buffer.from(idx.entries[0]!.fps, 'base64').length / 8;
    assert.ok(size <= 1024 && size > 0, `key ${k}: ${size} fingerprints at level ${idx.entries[0]!.level}`);
  }
});

test('record set files are content-addressed: the same records give byte-identical files in every version (frozen)', () => {
  // Stored record sets are named by the SHA-256 of their bytes and referenced from the hash chain, so any change to
  // the hash, the key step, the sort or the encoding would orphan every ledger's sets. Frozen with the first version.
  const recs: CanonicalRecord[] = [];
  for (let i = 0; i < 20000; i++)
    recs.push({
      key: `row ${i} ${'aé😀x'.repeat(i % 13)}${i % 7 === 0 ? '' : '!'}`.slice(0, 3 + ((i * 7919) % 97)),
      label: `L${i % 11}`,
    });
  for (let i = 0; i < 300; i++) recs.push({ key: `row ${i * 3}`, label: `L${(i + 1) % 11}` }); // another label
  for (let i = 0; i < 300; i++) recs.push(recs[i * 5]!); // repeats
  const s = recordSet(recs, 'ab'.repeat(16));
  assert.equal(s.n, 19769);
  assert.equal(
    createHash('sha256').update(encodeSet(s)).digest('hex'),
    '1cd843444060931b4c6114d7feed3c0744bae6f8e4defc377ca5b562fed4670b',
  );
});
