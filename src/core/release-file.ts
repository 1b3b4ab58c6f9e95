/**
 * The saved release of a run: `.private-fewshot/runs/<run id>.release.json`, beside the run's checkpoint
 * (`<run id>.jsonl`) and its journal of local diagnostics (`<run id>.local-diagnostics.json`).
 *
 * It holds exactly the release (src/core/release.ts, rendered as 'json'): the DP outputs and public parameters, nothing
 * computed from the private data without noise. It is what the editor's Runs view lists and what a run panel shows
 * again after it was closed or the window reloaded, so what was paid for stays one click away. Written once, after
 * the run settles, atomically (temporary file + rename): never over an input or the ledger.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './io/atomic';
import { renderRelease, savedRelease, type Release } from './release';

/** `<dir>/<run id>.jsonl` → `<dir>/<run id>.release.json`. */
export function releaseFilePath(checkpoint: string): string {
  return checkpoint.replace(/(\.jsonl)?$/, '.release.json');
}

/** Saves `release` beside the run's checkpoint; returns the file written. */
export function writeReleaseFile(checkpoint: string, release: Release): string {
  const file = releaseFilePath(checkpoint);
  writeFileAtomic(file, renderRelease(release, { format: 'json' }));
  return file;
}

/** Reads a saved release back; throws (an Error naming the file) when it is missing, not JSON, or not a release. */
export async function readReleaseFile(file: string): Promise<Release> {
  const text = await readFile(file, 'utf8');
  try {
    return savedRelease(JSON.parse(text));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
}
