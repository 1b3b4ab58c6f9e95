// The Insert and Copy messages of the run panels (src/shared/protocol.ts): a format from the list, an item index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INSERT_FORMATS, parseWebviewMessage } from '../../src/shared/protocol';

test('Insert and Copy carry an optional format; per-item messages an index ≥ 0', () => {
  assert.deepEqual(INSERT_FORMATS, ['auto', 'text', 'json', 'jsonl', 'chat', 'markdown']);
  assert.deepEqual(parseWebviewMessage({ type: 'insert' }), { type: 'insert' });
  assert.deepEqual(parseWebviewMessage({ type: 'copy', format: 'markdown' }), { type: 'copy', format: 'markdown' });
  assert.deepEqual(parseWebviewMessage({ type: 'insertItem', index: 2, format: 'chat' }), {
    type: 'insertItem',
    index: 2,
    format: 'chat',
  });
  assert.equal(parseWebviewMessage({ type: 'copyItem', index: 0 })?.type, 'copyItem');
  for (const bad of [
    { type: 'insert', format: 'html' },
    { type: 'insertItem' },
    { type: 'insertItem', index: -1 },
    { type: 'copyItem', index: 1.5 },
    { type: 'copyItem', index: '1' },
  ])
    assert.equal(parseWebviewMessage(bad), undefined, JSON.stringify(bad));
});
