// The committed wasm (src/core/vector/knnWasm.ts) is its source (src/core/vector/knn.wat) assembled by wabt:
// fails when someone edits one without running `npm run build` (or `node scripts/build-wasm.mjs`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { KNN_WASM_BASE64 } from '../../../src/core/vector/knnWasm';

interface BuildWasm {
  assembleKnn(): Promise<Buffer>;
}

test('the committed kernel bytes are knn.wat assembled', async () => {
  const script = pathToFileURL(path.resolve(__dirname, '../../../scripts/build-wasm.mjs')).href;
  const build = (await import(script)) as BuildWasm;
  assert.equal(KNN_WASM_BASE64, (await build.assembleKnn()).toString('base64'));
  assert.ok(WebAssembly.validate(Buffer.from(KNN_WASM_BASE64, 'base64')));
});
