import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseSync } from 'csv-parse/sync';
import { loadDataset, summarize } from '../../../src/core/data';
import { DataError } from '../../../src/core/errors';
import { tempDir, writeFile } from '../../support/tmp';

const root = path.resolve(__dirname, '../../..');
const sample = path.join(root, 'examples/banking77-sample.csv');
const dir = tempDir();

async function loadError(file: string, opts: Parameters<typeof loadDataset>[1] = {}): Promise<DataError> {
  try {
    await loadDataset(file, { root: dir, ...opts });
  } catch (e) {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the load to fail');
}

test('the banking77 sample loads with counts that match an independent parse', async () => {
  const rows = parseSync(readFileSync(sample), { columns: true }) as { text: string; category: string }[];
  const ds = await loadDataset(sample, { root });
  const s = summarize(ds);
  assert.equal(s.columns.text, 'text');
  assert.equal(s.columns.label, 'category');
  assert.deepEqual(s.columns.detected, { text: true, label: true });
  assert.equal(s.rows, rows.length);
  assert.equal(s.units, rows.length);
  const expected = new Map<string, number>();
  for (const r of rows) expected.set(r.category, (expected.get(r.category) ?? 0) + 1);
  assert.equal(s.labels.length, expected.size);
  for (const l of s.labels) assert.equal(l.count, expected.get(l.label), l.label);
  assert.equal(s.identity.path, 'examples/banking77-sample.csv');
  assert.equal(s.identity.contentSha256, createHash('sha256').update(readFileSync(sample)).digest('hex'));
  assert.equal(ds.examples[0]!.line, 2);
  assert.equal(ds.examples[0]!.text, rows[0]!.text);
});

test('CSV per RFC 4180: BOM, CRLF, quoted commas, doubled quotes and embedded newlines, with start lines', async () => {
  const file = writeFile(
    dir,
    'rfc.csv',
    '\uFEFFid,text,label\r\n1,"Hello, world",greet\r\n2,"She said ""hi""\r\nand left",greet\r\n\r\n3,plain,bye\r\n',
  );
  const ds = await loadDataset(file, { root: dir, textColumn: 'text', labelColumn: 'label' });
  assert.deepEqual(
    ds.examples.map((e) => [e.line, e.text, e.label]),
    [
      [2, 'Hello, world', 'greet'],
      [3, 'She said "hi"\r\nand left', 'greet'],
      [6, 'plain', 'bye'],
    ],
  );
  assert.deepEqual(ds.columns.available, ['id', 'text', 'label']);
});

test('an unterminated quote names the line where the field opens', async () => {
  const file = writeFile(dir, 'quote.csv', 'text,label\nfine,a\n"never closed,b\nmore,c\n');
  const e = await loadError(file);
  assert.equal(e.line, 3);
  assert.match(e.message, /quote\.csv:3: .*never closed/);
  assert.ok(e.hint);
});

test('a row with the wrong number of fields is an error with its line', async () => {
  const file = writeFile(dir, 'fields.csv', 'text,label\nok,a\ntoo,many,fields\n');
  const e = await loadError(file);
  assert.equal(e.line, 3);
});

test('a missing column lists the columns that exist', async () => {
  const file = writeFile(dir, 'cols.csv', 'body,intent\nhello there,a\nbye now,b\n');
  const e = await loadError(file, { labelColumn: 'label' });
  assert.match(e.message, /no label column "label"/);
  assert.match(e.hint ?? '', /"body", "intent"/);
  assert.equal(e.column, 'label');
});

test('an empty file and a file of only a header are clear errors', async () => {
  const empty = await loadError(writeFile(dir, 'empty.csv', ''));
  assert.match(empty.message, /empty\.csv: the file is empty/);
  const header = await loadError(writeFile(dir, 'header.csv', 'text,label\n'));
  assert.match(header.message, /header but no data rows/);
  const blank = await loadError(writeFile(dir, 'blank.jsonl', '\n\n'));
  assert.match(blank.message, /no records/);
});

test('bad UTF-8 names the line', async () => {
  const bytes = Buffer.concat([
    Buffer.from('text,label\nok,a\nalso ok,b\nbad '),
    Buffer.from([0xff, 0xfe]),
    Buffer.from(' here,c\n'),
  ]);
  const e = await loadError(writeFile(dir, 'latin.csv', bytes));
  assert.equal(e.line, 4);
  assert.match(e.message, /not valid UTF-8/);
});

test('a multi-byte character split across read chunks decodes, and bad UTF-8 deep in the file gets the right line', async () => {
  // The reader uses 1 MiB chunks; put a 4-byte emoji across the boundary.
  const header = 'text,label\n';
  const filler = 'x'.repeat(99) + ',a\n'; // 102 bytes per line
  const lines = Math.floor((1 << 20) / filler.length);
  let body = header + filler.repeat(lines);
  const pad = (1 << 20) - Buffer.byteLength(body) - 2;
  body += 'y'.repeat(pad) + '😀z,b\n';
  const ds = await loadDataset(writeFile(dir, 'boundary.csv', body), {
    root: dir,
    textColumn: 'text',
    labelColumn: 'label',
  });
  assert.equal(ds.examples.length, lines + 1);
  assert.ok(ds.examples.at(-1)!.text.endsWith('😀z'));

  const bad = Buffer.concat([
    Buffer.from(header + filler.repeat(lines + 500)),
    Buffer.from([0xc3, 0x28]),
    Buffer.from(',a\n'),
  ]);
  const e = await loadError(writeFile(dir, 'deepbad.csv', bad), { textColumn: 'text', labelColumn: 'label' });
  assert.equal(e.line, lines + 502);
});

test('a row with an empty label fails with file, line and column, or is skipped and counted', async () => {
  const file = writeFile(dir, 'emptylabel.csv', 'text,label\nhello,a\nworld,\nagain,b\n   ,b\n');
  const e = await loadError(file, { textColumn: 'text', labelColumn: 'label' });
  assert.equal(e.line, 3);
  assert.equal(e.column, 'label');
  assert.match(e.message, /emptylabel\.csv:3: the label column "label" is empty/);
  const ds = await loadDataset(file, { root: dir, textColumn: 'text', labelColumn: 'label', onInvalid: 'skip' });
  assert.deepEqual(
    ds.examples.map((x) => x.text),
    ['hello', 'again'],
  );
  assert.deepEqual(ds.skipped, [
    { line: 3, column: 'label', reason: 'empty' },
    { line: 5, column: 'text', reason: 'empty' },
  ]);
  assert.equal(summarize(ds).skipped.count, 2);
});

test('a file over the size limit is refused before reading', async () => {
  const file = writeFile(dir, 'big.csv', 'text,label\n' + 'some text,a\n'.repeat(100));
  const e = await loadError(file, { maxBytes: 500 });
  assert.match(e.message, /over the size limit/);
  assert.equal(e.line, undefined);
});

test('JSON keys __proto__ and constructor pollute nothing and work as columns', async () => {
  const jsonl = writeFile(
    dir,
    'proto.jsonl',
    '{"__proto__": {"polluted": 1}, "constructor": "a", "text": "hello there"}\n{"__proto__": {"polluted": 2}, "constructor": "b", "text": "general kenobi"}\n{"__proto__": {"polluted": 3}, "constructor": "a", "text": "once more"}\n',
  );
  const ds = await loadDataset(jsonl, { root: dir, labelColumn: 'constructor' });
  assert.deepEqual(
    ds.examples.map((e) => e.label),
    ['a', 'b', 'a'],
  );
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
  const json = writeFile(
    dir,
    'proto.json',
    '[{"__proto__": {"polluted": 1}, "text": "a longer text here", "label": "constructor"}, {"text": "another longer text", "label": "__proto__"}]',
  );
  const ds2 = await loadDataset(json, { root: dir, textColumn: 'text', labelColumn: 'label' });
  const s = summarize(ds2);
  assert.deepEqual(s.labels.map((l) => l.label).sort(), ['__proto__', 'constructor']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('JSONL and JSON arrays report the line of a bad record', async () => {
  const jsonl = await loadError(writeFile(dir, 'bad.jsonl', '{"text":"a b","label":"x"}\n\n{"text": oops}\n'));
  assert.equal(jsonl.line, 3);
  const mixed = await loadDataset(
    writeFile(dir, 'mixed.csv', 'text,label\r\nfirst one,a\n"multi\r\nline",b\r\nlast,a'),
    { root: dir },
  );
  assert.deepEqual(
    mixed.examples.map((e) => e.line),
    [2, 3, 5],
  );
  const json = await loadError(
    writeFile(dir, 'bad.json', '[\n  {"text": "a b", "label": "x"},\n  {"text": "c",\n   "label": }\n]'),
  );
  assert.equal(json.line, 3);
  const notArray = await loadError(writeFile(dir, 'obj.json', '{"text": "a"}'));
  assert.match(notArray.message, /JSON array of objects/);
  const cut = await loadError(writeFile(dir, 'cut.json', '[{"text": "a b", "label": "x"},\n{"text": "c d"'));
  assert.match(cut.message, /not closed/);
  const scalar = await loadError(writeFile(dir, 'scalar.json', '[{"text": "a b", "label": "x"}, 3]'));
  assert.match(scalar.message, /not a JSON object/);
});

test('JSON array records keep their starting lines and handle brackets inside strings', async () => {
  const file = writeFile(
    dir,
    'arr.json',
    '[\n {"text": "brackets ] and } inside \\"quotes\\"", "label": "a"},\n\n {\n  "text": "second one here",\n  "label": "b"\n }\n]\n',
  );
  const ds = await loadDataset(file, { root: dir });
  assert.deepEqual(
    ds.examples.map((e) => [e.line, e.text]),
    [
      [2, 'brackets ] and } inside "quotes"'],
      [4, 'second one here'],
    ],
  );
});

test('column detection picks the longest string column as text and a few-valued column as label', async () => {
  const rows = ['id,note,kind,text'];
  for (let i = 0; i < 40; i++)
    rows.push(`${i},n${i},${i % 3 === 0 ? 'x' : 'y'},this is a much longer sentence number ${i} with words`);
  const ds = await loadDataset(writeFile(dir, 'detect.csv', rows.join('\n')), { root: dir });
  assert.equal(ds.columns.text, 'text');
  assert.equal(ds.columns.label, 'kind');
  const override = await loadDataset(path.join(dir, 'detect.csv'), {
    root: dir,
    textColumn: 'note',
    labelColumn: 'kind',
  });
  assert.equal(override.examples[0]!.text, 'n0');
  assert.deepEqual(override.columns.detected, { text: false, label: false });
});

test('a privacy-unit column groups rows into units', async () => {
  const file = writeFile(
    dir,
    'units.csv',
    'user_id,text,label\nu1,a b c,x\nu2,d e f,y\nu1,g h i,y\nu1,j k l,x\nu3,m n o,x\n',
  );
  const ds = await loadDataset(file, { root: dir, unitColumn: 'user_id', labelColumn: 'label' });
  const s = summarize(ds);
  assert.equal(s.rows, 5);
  assert.equal(s.units, 3);
  assert.equal(s.largestUnit, 3);
  assert.equal(s.columns.unit, 'user_id');
  assert.ok(s.warnings.some((w) => w.includes('largest unit has 3 rows')));
  const noUnit = summarize(await loadDataset(file, { root: dir, labelColumn: 'label' }));
  assert.equal(noUnit.units, 5);
  assert.equal(noUnit.largestUnit, 1);
});

test('duplicate texts are counted with a warning and can be removed', async () => {
  const file = writeFile(dir, 'dups.csv', 'text,label\nsame text,a\nother,b\n same text ,a\nsame text,b\nthird,a\n');
  const s = summarize(await loadDataset(file, { root: dir }));
  assert.equal(s.duplicateTexts, 2);
  assert.ok(s.warnings.some((w) => /weakens per-record DP/.test(w)));
  const d = await loadDataset(file, { root: dir, dedupe: true });
  // Keyed on (text, label, unit): line 5 repeats line 2's text under another label, so it stays in its own pool.
  assert.equal(d.duplicatesRemoved, 1);
  assert.deepEqual(
    d.examples.map((e) => e.line),
    [2, 3, 5, 6],
  );
});

test('--dedupe: adding one record never changes any other label pool (the key holds text, label and unit)', async () => {
  const base = ['text,label', 'late card,a', 'rate today,b', 'late card,b', 'hello,c'];
  const pools = async (name: string, lines: string[], unitColumn?: string) => {
    const ds = await loadDataset(writeFile(dir, name, lines.join('\n') + '\n'), {
      root: dir,
      dedupe: true,
      labelColumn: 'label',
      ...(unitColumn ? { unitColumn } : {}),
    });
    const m = new Map<string, string[]>();
    for (const e of ds.examples)
      m.set(e.label, [
        ...(m.get(e.label) ?? []),
        `${e.unit.startsWith('line:') || e.unit.startsWith('record:') ? '' : e.unit}|${e.text.trim()}`,
      ]);
    return m;
  };
  const before = await pools('dd0.csv', base);
  // Each added record repeats a text of another label, placed first or last: the other pools never change.
  for (const [i, added] of [
    [1, 'late card,c'],
    [base.length, 'late card,c'],
    [1, 'rate today,a'],
    [base.length, ' hello ,a'],
  ] as const) {
    const lines = [...base];
    lines.splice(i, 0, added);
    const after = await pools(`dd${i}-${added.length}.csv`, lines);
    const label = added.split(',')[1]!;
    for (const l of ['a', 'b', 'c'])
      if (l !== label) assert.deepEqual(after.get(l), before.get(l), `adding "${added}" changed pool ${l}`);
  }
  // With a unit column the unit is part of the key too: the same text and label from another user is kept.
  const units = await pools(
    'ddu.csv',
    ['uid,text,label', 'u1,late card,a', 'u2,late card,a', 'u1, late card,a'],
    'uid',
  );
  assert.deepEqual(units.get('a'), ['u1|late card', 'u2|late card']);
});

test('the dataset identity is stable and changes with the content', async () => {
  const a = writeFile(dir, 'id.csv', 'text,label\nhello there,a\nbye now,b\n');
  const first = (await loadDataset(a, { root: dir })).identity;
  const again = (await loadDataset(a, { root: dir })).identity;
  assert.deepEqual(first, again);
  assert.equal(first.path, 'id.csv');
  writeFile(dir, 'id.csv', 'text,label\nhello there,a\nbye now,c\n');
  const edited = (await loadDataset(a, { root: dir })).identity;
  assert.equal(edited.path, first.path);
  assert.notEqual(edited.contentSha256, first.contentSha256);
});

test('text length statistics are computed in characters', async () => {
  const s = summarize(
    await loadDataset(
      writeFile(
        dir,
        'len.jsonl',
        ['a', 'bb', 'ccc', 'dddd', '😀😀😀😀😀']
          .map((t, i) => JSON.stringify({ text: t, label: i % 2 ? 'x' : 'y' }))
          .join('\n'),
      ),
      { root: dir, textColumn: 'text', labelColumn: 'label' },
    ),
  );
  assert.deepEqual(s.textLength, { min: 1, max: 5, mean: 3, median: 3, p95: 5 });
});
