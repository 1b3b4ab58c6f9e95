// A saved release (src/core/release-file.ts) reads back as the same release, and nothing else reads back as one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { augPeRelease, editorReleaseText, fewShotRelease, savedRelease } from '../../src/core/release';
import { readReleaseFile, releaseFilePath, writeReleaseFile } from '../../src/core/release-file';
import { fakeAugPeInput, fakeFewShotInput } from '../support/releases';
import { tempDir } from '../support/tmp';

test('a saved release reads back equal, frozen, and renders the same text', async () => {
  const dir = tempDir('pfs-release-file-');
  for (const r of [fewShotRelease(fakeFewShotInput()), augPeRelease(fakeAugPeInput())]) {
    const checkpoint = path.join(dir, `r-${r.algorithm}.jsonl`);
    const file = writeReleaseFile(checkpoint, r);
    assert.equal(file, path.join(dir, `r-${r.algorithm}.release.json`));
    assert.equal(releaseFilePath(checkpoint), file);
    const back = await readReleaseFile(file);
    assert.deepEqual(back, r);
    assert.ok(Object.isFrozen(back) && Object.isFrozen(back.privacy));
    assert.equal(editorReleaseText(back), editorReleaseText(r));
  }
});

test('anything but a release is refused: another key, a missing key, a non-text, another format', async () => {
  const r = JSON.parse(JSON.stringify(fewShotRelease(fakeFewShotInput()))) as Record<string, unknown>;
  assert.throws(() => savedRelease({ ...r, usage: { calls: 3 } }), /unexpected key\(s\) usage/);
  const { notice: _, ...noNotice } = r;
  assert.throws(() => savedRelease(noNotice), /missing key\(s\) notice/);
  const privacy = r.privacy as Record<string, unknown>;
  assert.throws(
    () => savedRelease({ ...r, privacy: { ...privacy, contentSha256: 'ab' } }),
    /"privacy" has unexpected key\(s\) contentSha256/,
  );
  assert.throws(() => savedRelease({ ...r, demonstrations: [{ label: 'a', text: 3 }] }), /label\/text strings/);
  assert.throws(() => savedRelease({ ...r, format: 'other/1' }), /not a release/);
  assert.throws(() => savedRelease({ ...r, algorithm: 'other' }), /unknown algorithm/);
  const dir = tempDir('pfs-release-file-');
  const bad = path.join(dir, 'x.release.json');
  writeFileSync(bad, '{"format":');
  await assert.rejects(readReleaseFile(bad), (e: Error) => e.message.startsWith(`${bad}: `));
  assert.ok(readFileSync(bad, 'utf8').length > 0);
});
