// The committed wasm (src/core/vector/knnWasm.ts) is its source (src/core/vector/knn.wat) assembled by wabt:
// fails when someone edits one without running `npm run build` (or `node scripts/build-wasm.mjs`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { KNN_WASM_BASE64, KNN_WASM_PLAIN_BASE64 } from '../../../src/core/vector/knnWasm';

interface BuildWasm {
  assembleKnn(relaxed: boolean): Promise<Buffer>;
}

test('the committed kernel bytes are knn.wat assembled (relaxed and plain SIMD)', async () => {
  const script = pathToFileURL(path.resolve(__dirname, '../../../scripts/build-wasm.mjs')).href;
  const build = (await import(script)) as BuildWasm;
  assert.equal(KNN_WASM_BASE64, (await build.assembleKnn(true)).toString('base64'));
  assert.equal(KNN_WASM_PLAIN_BASE64, (await build.assembleKnn(false)).toString('base64'));
  assert.notEqual(KNN_WASM_BASE64, KNN_WASM_PLAIN_BASE64);
  // Both compile here (Node 22 has relaxed SIMD) and validate as modules.
  assert.ok(WebAssembly.validate(Buffer.from(KNN_WASM_PLAIN_BASE64, 'base64')));
  assert.ok(WebAssembly.validate(Buffer.from(KNN_WASM_BASE64, 'base64')));
});
