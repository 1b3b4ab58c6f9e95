/**
 * The held-out split of a dataset (docs/EVALUATE.md, "The split"): a fixed part of the private records that
 * generation (`demos`, `synth`, the editor's panels) never reads, kept for measuring whether the released
 * demonstrations or records help.
 *
 * Rule: a record is held out when u(record) < h, where h is the held-out fraction and
 *   u(record) = first 48 bits of HMAC-SHA256(seed, "private-fewshot split v1\0" + key) / 2^48,
 * `key` the record's canonical key (data/load.ts canonicalRecords: the normalised text, or the privacy unit, so all
 * rows of a unit fall on one side), and `seed` 32 bytes from the operating system's cryptographic generator, stored
 * in `.private-fewshot/splits/<id>.json` beside the ledger. So the split
 *  - depends only on each record itself: the same in any row order, encoding or line endings, and the same on every
 *    run; a record added later falls on its side by the same rule without moving any other;
 *  - is stratified in expectation: each label's records are held out independently with probability h, so every
 *    label keeps about the share h in the held-out part (binomial spread; exact per-label quotas were not chosen
 *    because then one record's presence would move another across the split);
 *  - is a local choice made before any release, never released itself.
 * Privacy: generation takes the training part as its input, so the DP guarantee of what it releases covers those
 * records (and the ledger charges them); since the rule treats each record on its own, the training part of a
 * dataset with one record more or less differs by at most that record. The held-out records are private data too:
 * they are never sent to a generation model, and what `evaluate` computes from them is a local, non-private
 * measurement that never enters a release or an export.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { canonicalRecords, type Dataset, type Example } from '../data';
import { DataError, UsageError } from '../errors';
import { writeFileAtomic } from '../io/atomic';

export const SPLIT_FORMAT = 'private-fewshot-split/1';
export const SPLITS_DIR = 'splits';

export interface Split {
  format: typeof SPLIT_FORMAT;
  /** The dataset path relative to the ledger's root (as the ledger records it). */
  dataset: string;
  /** The held-out fraction h in (0, 1). */
  holdout: number;
  /** 64 hex digits from a cryptographic source. */
  seed: string;
  createdAt: string;
}

/** Where the split of the dataset at `datasetPath` (relative to the ledger root) lives in the ledger folder `dir`. */
export function splitFile(ledgerDir: string, datasetPath: string): string {
  const id = createHmac('sha256', 'private-fewshot split file').update(datasetPath).digest('hex').slice(0, 16);
  return path.join(ledgerDir, SPLITS_DIR, `${id}.json`);
}

/** The recorded split of a dataset, or undefined when it has none. A damaged file is a DataError naming it. */
export function readSplit(ledgerDir: string, datasetPath: string): Split | undefined {
  const file = splitFile(ledgerDir, datasetPath);
  if (!existsSync(file)) return undefined;
  let o: Partial<Split>;
  try {
    o = JSON.parse(readFileSync(file, 'utf8')) as Partial<Split>;
  } catch {
    o = {};
  }
  const ok =
    o.format === SPLIT_FORMAT &&
    typeof o.dataset === 'string' &&
    typeof o.holdout === 'number' &&
    o.holdout > 0 &&
    o.holdout < 1 &&
    typeof o.seed === 'string' &&
    /^[0-9a-f]{64}$/.test(o.seed);
  if (!ok)
    throw new DataError(
      file,
      undefined,
      'not a valid split file',
      'Restore it from a backup, or move it aside and run `private-fewshot split` again (records already used for generation may then land in the held-out part).',
    );
  return o as Split;
}

/**
 * Records a new split (atomic write). Refuses to change an existing one: records the earlier split kept for
 * training may already have been used for generation, so a new split could hold them out. Same fraction: returns
 * the existing split unchanged (`created` false).
 */
export function createSplit(
  ledgerDir: string,
  datasetPath: string,
  holdout: number,
  random: (n: number) => Buffer = randomBytes,
): { split: Split; file: string; created: boolean } {
  if (!(holdout > 0 && holdout < 1))
    throw new UsageError(`--holdout must be a fraction in (0, 1); got ${holdout}`, 'For example --holdout 0.2.');
  const file = splitFile(ledgerDir, datasetPath);
  const existing = readSplit(ledgerDir, datasetPath);
  if (existing) {
    if (existing.holdout === holdout) return { split: existing, file, created: false };
    throw new UsageError(
      `${datasetPath} already has a split (held-out fraction ${existing.holdout}) in ${file}`,
      'A split is fixed once made: generation may already have used its training part. To start over, move that file aside.',
    );
  }
  const split: Split = {
    format: SPLIT_FORMAT,
    dataset: datasetPath,
    holdout,
    seed: random(32).toString('hex'),
    createdAt: new Date().toISOString(),
  };
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, `${JSON.stringify(split, null, 2)}\n`);
  return { split, file, created: true };
}

/** u(record) in [0, 1) for each canonical key (see the rule above). */
export function splitValues(keys: readonly string[], seedHex: string): number[] {
  const seed = Buffer.from(seedHex, 'hex');
  return keys.map((k) => {
    const d = createHmac('sha256', seed).update(`private-fewshot split v1\u0000${k}`).digest();
    return d.readUIntBE(0, 6) / 2 ** 48;
  });
}

export interface SplitParts {
  training: Example[];
  heldOut: Example[];
}

/** The dataset's rows on each side of `split`, in file order. */
export function assignSplit(
  ds: Pick<Dataset, 'examples' | 'columns'>,
  split: Pick<Split, 'seed' | 'holdout'>,
): SplitParts {
  const keys = canonicalRecords(ds).map((r) => r.key);
  const u = splitValues(keys, split.seed);
  const training: Example[] = [];
  const heldOut: Example[] = [];
  ds.examples.forEach((e, i) => (u[i]! < split.holdout ? heldOut : training).push(e));
  return { training, heldOut };
}

/**
 * The hook generation uses: the dataset reduced to its training part when it has a split, with one line saying so
 * (a local diagnostic: exact row counts). Without a split, the dataset as it is and no note.
 */
export function trainingPart(ds: Dataset, ledgerDir: string): { dataset: Dataset; note?: string } {
  const split = readSplit(ledgerDir, ds.identity.path);
  if (!split) return { dataset: ds };
  const { training } = assignSplit(ds, split);
  if (training.length === 0)
    throw new UsageError(
      `${ds.file}: every row falls in the held-out part of its split`,
      'The dataset is too small for its split; move the split file aside and split again with a smaller --holdout.',
    );
  return {
    dataset: { ...ds, examples: training },
    note: `split: drawing only from the training part (${training.length} of ${ds.examples.length} rows; the held-out ${Math.round(split.holdout * 100)}% is never read — local diagnostic, not private)`,
  };
}

/** The held-out rows of a dataset with a split (for `evaluate`); a UsageError when it has none. */
export function heldOutPart(ds: Dataset, ledgerDir: string): { split: Split; parts: SplitParts } {
  const split = readSplit(ledgerDir, ds.identity.path);
  if (!split)
    throw new UsageError(
      `${ds.file} has no held-out split`,
      `Run: private-fewshot split ${ds.file} --holdout 0.2 (before generating, so generation never reads the held-out rows).`,
    );
  return { split, parts: assignSplit(ds, split) };
}
