/**
 * Which ledger lines belong to a dataset.
 *
 * Rule: a line applies to a dataset when its recorded path equals the dataset's path OR its recorded content hash
 * equals the dataset's content hash — and, transitively, when it shares a path or a hash with a line that applies.
 * So:
 * - editing the file (same path, new hash) keeps its budget;
 * - copying or renaming it (new path, same hash) keeps its budget;
 * - copying it and then editing the copy still keeps it, through the copy's earlier runs (the transitive step).
 * The price is conservative over-sharing: a path reused for unrelated data shares the budget of what was there
 * before. Moving the ledger folder aside is the deliberate way to start over.
 */
import type { DatasetIdentity } from '../data';
import type { DatasetRef, LedgerLine } from './format';

export function toRef(identity: DatasetIdentity): DatasetRef {
  return { path: identity.path, sha256: identity.contentSha256, bytes: identity.bytes };
}

/** The seqs of the lines (budget and reserved runs) that apply to `identity`, plus the paths and hashes they span. */
export function matchingLines(
  lines: LedgerLine[],
  identity: DatasetIdentity,
): { seqs: Set<number>; paths: Set<string>; hashes: Set<string> } {
  const paths = new Set([identity.path]);
  const hashes = new Set([identity.contentSha256]);
  const seqs = new Set<number>();
  const keyed = lines.filter((l): l is Extract<LedgerLine, { dataset: DatasetRef }> => 'dataset' in l);
  let changed = true;
  while (changed) {
    changed = false;
    for (const l of keyed) {
      if (seqs.has(l.seq)) continue;
      if (paths.has(l.dataset.path) || hashes.has(l.dataset.sha256)) {
        seqs.add(l.seq);
        if (!paths.has(l.dataset.path) || !hashes.has(l.dataset.sha256)) changed = true;
        paths.add(l.dataset.path);
        hashes.add(l.dataset.sha256);
      }
    }
  }
  return { seqs, paths, hashes };
}
