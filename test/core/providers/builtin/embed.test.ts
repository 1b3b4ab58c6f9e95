import { test } from 'node:test';
import assert from 'node:assert/strict';
import { embedText } from '../../../../src/core/providers/builtin/embed';
import { createBuiltinProvider } from '../../../../src/core/providers/builtin';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const norm = (a: Float32Array) => Math.sqrt(dot(a, a));

test('embeddings are deterministic unit-norm Float32Arrays of the configured dimension', async () => {
  const texts = ['My parcel is late.', 'Ünïcödé and emoji 👍', '', '?!', 'a'];
  const p = createBuiltinProvider();
  const a = await p.embed(texts);
  const b = await createBuiltinProvider().embed(texts);
  assert.equal(a.length, texts.length);
  for (let i = 0; i < texts.length; i++) {
    assert.ok(a[i] instanceof Float32Array);
    assert.equal(a[i]!.length, 512);
    assert.deepEqual(a[i], b[i]);
    assert.ok(Math.abs(norm(a[i]!) - 1) < 1e-6, `norm of ${JSON.stringify(texts[i])}: ${norm(a[i]!)}`);
  }
  // Signed hashing: coordinates of both signs occur.
  assert.ok(a[0]!.some((x) => x < 0) && a[0]!.some((x) => x > 0));
  const small = await createBuiltinProvider({ embedDimension: 64 }).embed(['My parcel is late.']);
  assert.equal(small[0]!.length, 64);
  assert.ok(Math.abs(norm(small[0]!) - 1) < 1e-6);
});

test('similar texts are closer than unrelated ones', () => {
  const triples: [string, string, string][] = [
    [
      'My parcel has not arrived yet.',
      'The parcel still has not arrived.',
      'What a lovely sunny afternoon in the park.',
    ],
    ['How do I reset the router?', 'The router needs a reset, how?', 'I baked a chocolate cake for my sister.'],
    [
      'Can I book a table for two tonight?',
      'I would like to book a table tonight.',
      'The printer is out of paper again.',
    ],
    [
      'The train was delayed by an hour.',
      'Our train got delayed for one hour.',
      'Please water the tomatoes every day.',
    ],
  ];
  for (const [a, b, c] of triples) {
    const [ea, eb, ec] = [embedText(a), embedText(b), embedText(c)];
    assert.ok(dot(ea, eb) > dot(ea, ec) + 0.2, `${a} | ${b}: ${dot(ea, eb)} vs ${c}: ${dot(ea, ec)}`);
  }
});

test('case and spacing do not matter; word order and typos change the vector only a little', () => {
  const base = embedText('Where is my parcel?');
  assert.deepEqual(embedText('where  IS my   parcel ?'), base);
  const typo = embedText('Where is my parcle?');
  const reordered = embedText('My parcel, where is it?');
  const other = embedText('The weather is nice today.');
  assert.ok(dot(base, typo) > 0.6, `typo ${dot(base, typo)}`);
  assert.ok(dot(base, reordered) > dot(base, other));
});
