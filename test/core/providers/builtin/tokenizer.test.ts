import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseSync } from 'csv-parse/sync';
import { END_OF_TEXT, canFollow, tokenClass, tokenize } from '../../../../src/core/providers/builtin/tokenizer';
import { BACKGROUND_CORPUS } from '../../../../src/core/providers/builtin/corpus';

const root = path.resolve(__dirname, '../../../..');

const tricky = [
  '',
  'Text: "I lost my card."\n',
  'a   b\t\tc \n  d\r\ne',
  '   leading and trailing   ',
  'Ünïcödé naïve café — “quotes” and emoji 👍🏽 ok',
  "don't won't it's 12,000.50 $3 A1B2",
  'snake_case and _ blanks __ here_',
  'tab\tthen space \t mixed\n\n\n',
  ' ',
  '\n',
  'e\u0301 combining',
];

test('tokens concatenate back to the text exactly (tricky strings, the corpus, and the sample dataset)', () => {
  const rows = parseSync(readFileSync(path.join(root, 'examples/banking77-sample.csv')), { columns: true }) as {
    text: string;
  }[];
  const texts = [...tricky, ...BACKGROUND_CORPUS, ...rows.map((r) => r.text), rows.map((r) => r.text).join('\n')];
  for (const t of texts) {
    const toks = tokenize(t);
    assert.equal(toks.join(''), t);
    assert.ok(toks.every((x) => x.length > 0));
  }
});

test('tokens are GPT-style: words carry their leading space, punctuation and newlines stand alone', () => {
  assert.deepEqual(tokenize('Text: "I lost my card."\n'), [
    'Text',
    ':',
    ' "',
    'I',
    ' lost',
    ' my',
    ' card',
    '.',
    '"',
    '\n',
  ]);
  assert.deepEqual(tokenize('a   b'), ['a', '  ', ' b']);
  assert.deepEqual(tokenize('my _ and __'), ['my', ' _', ' and', ' _', '_']);
  assert.deepEqual(tokenize("don't"), ['don', "'", 't']);
  assert.equal(tokenClass(' card'), 'word');
  assert.equal(tokenClass(' "'), 'punct');
  assert.equal(tokenClass('\n'), 'newline');
  assert.equal(tokenClass('  '), 'space');
  assert.equal(tokenClass(END_OF_TEXT), 'special');
});

test('every token of a text tokenizes to itself alone', () => {
  for (const t of tricky) for (const tok of tokenize(t)) assert.deepEqual(tokenize(tok), [tok], JSON.stringify(tok));
});

/** Tokens of many shapes, including the awkward whitespace ones. */
const pool = [
  ...new Set([...tricky, ...BACKGROUND_CORPUS.slice(0, 20)].flatMap((t) => tokenize(t))),
  ' ',
  '  ',
  '\t',
  ' \t',
  '\t ',
  'card',
  ' card',
  '_',
  ' _',
  '"',
  ' "',
  '1',
  ' 1',
  'é',
];

test('canFollow(prev, next) holds exactly when appending next keeps every earlier token', () => {
  let allowed = 0;
  let refused = 0;
  for (const prefix of ['', 'Text: "', 'x\n']) {
    for (const a of pool) {
      const x = prefix + a;
      const base = tokenize(x);
      if (base[base.length - 1] !== a) continue; // a must be the last token of the text
      for (const t of pool) {
        const stable = JSON.stringify(tokenize(x + t)) === JSON.stringify([...base, t]);
        assert.equal(canFollow(a, t), stable, `${JSON.stringify(x)} + ${JSON.stringify(t)}`);
        if (stable) allowed++;
        else refused++;
      }
    }
  }
  // Both outcomes occur, so the check is not vacuous.
  assert.ok(allowed > 1000 && refused > 1000, `${allowed} allowed, ${refused} refused`);
});
