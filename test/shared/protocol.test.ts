import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHostMessage, parseWebviewMessage } from '../../src/shared/protocol';
import { loadDataset, summarize } from '../../src/core/data';
import { repoRoot } from '../support/cli';

test('a real dataset summary passes the host → webview schema', async () => {
  const summary = summarize(await loadDataset('examples/banking77-sample.csv', { root: repoRoot }));
  const msg = parseHostMessage({ type: 'summary', summary });
  assert.ok(msg);
  assert.equal(msg.type, 'summary');
});

test('malformed or unknown messages are rejected on both sides', () => {
  assert.equal(parseWebviewMessage({ type: 'ready' })?.type, 'ready');
  assert.equal(parseWebviewMessage({ type: 'openSource', line: 3 })?.type, 'openSource');
  for (const bad of [null, 'ready', {}, { type: 'exec', command: 'rm -rf /' }, { type: 'openSource', line: -1 }, { type: 'openSource', line: 1.5 }]) {
    assert.equal(parseWebviewMessage(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(parseHostMessage({ type: 'summary', summary: { file: 'x' } }), undefined);
  assert.equal(parseHostMessage({ type: 'error', file: 'x' }), undefined);
  assert.equal(parseHostMessage({ type: 'error', file: 'x', message: 'm', line: 4 })?.type, 'error');
});
