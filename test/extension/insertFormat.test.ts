// Insert at cursor and Copy (src/extension/insertFormat.ts): formats, the header line per language, the cursor after
// the insert, and nothing outside the release.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { augPeRelease, fewShotRelease, type Release } from '../../src/core/release';
import { commentLine, formatForLanguage, positionAfter, releaseInsertText } from '../../src/extension/insertFormat';
import { fakeAugPeInput, fakeFewShotInput } from '../support/releases';

const offline = fewShotRelease(fakeFewShotInput({ offline: true }));
const online = fewShotRelease(fakeFewShotInput({ offline: false }));

test('a Markdown file gets a Markdown list and an HTML comment header, never a "# " heading', () => {
  const t = releaseInsertText(offline, { format: 'auto', languageId: 'markdown' });
  const lines = t.split('\n');
  assert.match(lines[0]!, /^<!-- .*DP few-shot demonstration\(s\), ε 1\.99 at δ 1e-5\. Written by the built-in/);
  assert.match(lines[0]!, / -->$/);
  assert.ok(!t.split('\n').some((l) => l.startsWith('# ')), t);
  assert.deepEqual(lines.slice(1), ['- **a**: one', '- **b**: two', '']);
});

test('comment syntax follows the language; JSON gets no header and keeps the notice in the data', () => {
  assert.match(
    releaseInsertText(online, { format: 'text', languageId: 'python' }),
    /^# private-fewshot .*\nText: one\nLabel: a\n\nText: two\nLabel: b\n$/,
  );
  assert.match(releaseInsertText(online, { format: 'text', languageId: 'typescript' }), /^\/\/ /);
  assert.match(releaseInsertText(online, { format: 'text', languageId: 'sql' }), /^-- /);
  assert.match(
    releaseInsertText(online, { format: 'text', languageId: 'plaintext' }),
    /^private-fewshot .*\.\nText: one/,
  );
  const json = releaseInsertText(offline, { format: 'auto', languageId: 'json' });
  assert.equal(JSON.parse(json).algorithm, 'dp-few-shot');
  const jsonl = releaseInsertText(offline, { format: 'auto', languageId: 'jsonl' });
  assert.deepEqual(
    jsonl
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    [
      { label: 'a', text: 'one', offline: true },
      { label: 'b', text: 'two', offline: true },
    ],
  );
  const chat = JSON.parse(releaseInsertText(offline, { format: 'chat', languageId: 'json' }));
  assert.match(chat.notice, /built-in offline model/);
  assert.deepEqual(chat.messages[0], { role: 'user', content: 'one' });
  const chatOnline = JSON.parse(releaseInsertText(online, { format: 'chat', languageId: 'json' }));
  assert.deepEqual(chatOnline[1], { role: 'assistant', content: 'a' });
  assert.equal(commentLine('markdown', 'a --> b'), '<!-- a  b -->');
  assert.equal(commentLine('json', 'x'), undefined);
  assert.equal(formatForLanguage('markdown'), 'markdown');
  assert.equal(formatForLanguage('go'), 'text');
});

test('one item: its text alone, in the chosen format; an index out of range is refused', () => {
  const t = releaseInsertText(online, { format: 'markdown', languageId: 'markdown', index: 1 });
  assert.match(t, /1 DP few-shot demonstration\(s\)/);
  assert.ok(t.endsWith('- **b**: two\n'));
  assert.ok(!t.includes('one'));
  assert.deepEqual(JSON.parse(releaseInsertText(online, { format: 'json', languageId: 'json', index: 0 })), {
    label: 'a',
    text: 'one',
  });
  assert.throws(() => releaseInsertText(online, { format: 'text', languageId: 'plaintext', index: 2 }), RangeError);
});

test('Aug-PE records and multi-line texts in a Markdown list', () => {
  const r = augPeRelease(fakeAugPeInput());
  const multi = { ...r, records: [{ label: 'x', text: 'line one\nline two' }] } as unknown as Release;
  const t = releaseInsertText(multi, { format: 'markdown', languageId: 'markdown' });
  assert.match(t, /DP synthetic record\(s\) \(Aug-PE\)/);
  assert.ok(t.endsWith('- **x**: line one\n  line two\n'), t);
});

test('a release with a key outside the boundary is refused before anything is written', () => {
  const leaky = { ...online, usage: { calls: 3 } } as unknown as Release;
  assert.throws(() => releaseInsertText(leaky, { format: 'markdown', languageId: 'markdown' }), /release boundary/);
});

test('the cursor lands just after the inserted text', () => {
  assert.deepEqual(positionAfter({ line: 3, character: 5 }, 'abc'), { line: 3, character: 8 });
  assert.deepEqual(positionAfter({ line: 3, character: 5 }, 'abc\nde\n'), { line: 5, character: 0 });
  assert.deepEqual(positionAfter({ line: 0, character: 2 }, 'a\r\nbcd'), { line: 1, character: 3 });
});
