/**
 * Which ledger lines and charges belong to a dataset.
 *
 * Records (lines written with a record set, see records.ts): a run applies to exactly the records of the current
 * dataset that were in its input, and charges each of them on the partitions they had there (`*`, or their label's
 * pool). Each record's privacy loss is the composition of its own charge list (Feldman & Zrnic 2021, "Individual
 * Privacy Accounting via a Rényi Filter", Thm 3.2/4.5: per-individual accounting is valid); records are grouped into
 * classes with identical lists, and the dataset's spent budget is that of its most-charged class. So a sorted, CRLF,
 * re-encoded or extended copy, or a subset, carries the charges of the records it shares; a disjoint file carries none.
 *
 * Legacy lines (no record set) and datasets given without records use the older rule below, conservatively: such a
 * line charges every record of a dataset it matches.
 *
 * Rule for legacy lines: a line applies to a dataset when its recorded path equals the dataset's path OR its recorded
 * content hash equals the dataset's content hash — and, transitively, when it shares a path or a hash with a line
 * that applies. So:
 * - editing the file (same path, new hash) keeps its budget;
 * - copying or renaming it (new path, same hash) keeps its budget;
 * - copying it and then editing the copy still keeps it, through the copy's earlier runs (the transitive step).
 * The price is conservative over-sharing: a path reused for unrelated data shares the budget of what was there
 * before. Moving the ledger folder aside is the deliberate way to start over.
 */
import type { DatasetIdentity } from '../data';
import type { PoolCharge } from './compose';
import { withGroup, type RunCharges, type RunGroupInfo } from './filter';
import type { ClosedLine, DatasetRef, LedgerLine, ParsedLedger, ReservedLine } from './format';
import { classify, partitionTag, type RecordClass, type RecordSet, type RecordStore } from './records';
import { specOf } from '../privacy/types';

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

export interface RunLines {
  reserved: ReservedLine;
  closed?: ClosedLine;
}

/** The lines that apply to a dataset, and (when it has records) its record classes. */
export interface DatasetMatch {
  seqs: Set<number>;
  paths: Set<string>;
  hashes: Set<string>;
  records?: {
    classes: RecordClass[];
    /** SHA-256 of each stored set, by the index RecordClass.in uses. */
    sets: string[];
    /** Per stored set: current records it contains, and the dataset paths written with it. */
    shared: { sha256: string; records: number; paths: string[] }[];
    /** Distinct records of the current dataset. */
    of: number;
  };
}

/**
 * The lines that apply to a dataset: with `current` (its record set under this ledger's key), legacy lines by the
 * path/hash rule and record lines by shared records; without it, every line by the path/hash rule.
 */
export function matchDataset(
  parsed: ParsedLedger,
  identity: DatasetIdentity,
  current: RecordSet | undefined,
  store: RecordStore,
  ledgerFile: string,
): DatasetMatch {
  const legacy = matchingLines(parsed.lines, identity);
  if (!current) return legacy;
  const index = new Map<string, number>();
  const sets: RecordSet[] = [];
  const shas: string[] = [];
  const pathOf: Set<string>[] = [];
  const setOfLine = new Map<number, number>();
  for (const l of parsed.lines) {
    if (!('dataset' in l) || !l.dataset.records) continue;
    const sha = l.dataset.records.sha256;
    let j = index.get(sha);
    if (j === undefined) {
      index.set(sha, (j = sets.length));
      sets.push(store.read(sha, l.seq, ledgerFile));
      shas.push(sha);
      pathOf.push(new Set());
    }
    pathOf[j]!.add(l.dataset.path);
    setOfLine.set(l.seq, j);
  }
  const { classes, shared } = classify(current, sets);
  const seqs = new Set<number>();
  for (const l of parsed.lines) {
    if (!('dataset' in l)) continue;
    const j = setOfLine.get(l.seq);
    if (j === undefined ? legacy.seqs.has(l.seq) : shared[j]! > 0) seqs.add(l.seq);
  }
  let of = 0;
  for (const c of classes) of += c.records;
  return {
    seqs,
    paths: legacy.paths,
    hashes: legacy.hashes,
    records: {
      classes,
      sets: shas,
      shared: shas.map((sha256, j) => ({ sha256, records: shared[j]!, paths: [...pathOf[j]!] })),
      of,
    },
  };
}

/**
 * The runs to value for a dataset, each as its charges with its group (filter.ts RunCharges). With records, a run's
 * charges are restated per record class: pool `class:<k>` gets the run's charges on the partitions that class's
 * records had in that run's input (a legacy run charges every class). The budget filter then values each class on
 * its own — the runs and groups that touched it — which is valid per individual (Feldman & Zrnic 2021, "Individual
 * Privacy Accounting via a Rényi Filter", Thm 3.2/4.5: a Rényi filter run on each individual's own losses is a valid
 * filter; a class is a set of individuals with identical losses). Without records, the stored partitions as they
 * are. `planned` (a run not yet reserved on this dataset) charges every current record. `display` maps a returned
 * pool back to a stored partition for people.
 */
export function datasetRuns(
  runs: RunLines[],
  match: DatasetMatch,
  planned?: { charges: PoolCharge[]; info: RunGroupInfo },
): { runs: RunCharges[]; display: (pool: string) => string } {
  const own = (r: RunLines) =>
    (r.closed ?? r.reserved).charges.map((c) => ({ partition: c.partition, mechanism: spec(c) }));
  const infoOf = (r: RunLines): RunGroupInfo => ({
    id: r.reserved.id,
    group: r.reserved.group,
    guarantee: r.reserved.guarantee,
  });
  if (!match.records) {
    const out = runs.map((r) => withGroup(own(r), infoOf(r)));
    if (planned) out.push(withGroup([...planned.charges], planned.info));
    return { runs: out, display: (p) => p };
  }
  const setIndex = new Map(match.records.sets.map((sha, j) => [sha, j]));
  const partitionOfTag = new Map<number, string>();
  const note = (p: string) => {
    if (p !== '*') partitionOfTag.set(partitionTag(p), p);
  };
  const applies = (p: string, tags: number[]) => p === '*' || tags.includes(partitionTag(p));
  const classes = match.records.classes;
  // Per class: the tags its records had in each stored set that contains them.
  const tagsIn = classes.map((cls) => new Map(cls.in.map((m) => [m.set, m.tags])));
  /** A run's charges restated per class; `set` undefined: the run charges every class (legacy line or plan). */
  const perClass = (list: PoolCharge[], set: number | undefined): PoolCharge[] => {
    for (const c of list) note(c.partition);
    const charges: PoolCharge[] = [];
    classes.forEach((cls, k) => {
      const tags = set === undefined ? cls.tags : tagsIn[k]!.get(set);
      if (!tags) return;
      for (const c of list)
        if (applies(c.partition, tags)) charges.push({ partition: `class:${k}`, mechanism: c.mechanism });
    });
    return charges;
  };
  const out: RunCharges[] = [];
  for (const r of runs) {
    const sha = r.reserved.dataset.records?.sha256;
    out.push(withGroup(perClass(own(r), sha === undefined ? undefined : setIndex.get(sha)!), infoOf(r)));
  }
  if (planned) out.push(withGroup(perClass(planned.charges, undefined), planned.info));
  const names = new Map<string, string>();
  classes.forEach((cls, k) =>
    names.set(`class:${k}`, cls.tags.length === 1 ? (partitionOfTag.get(cls.tags[0]!) ?? '*') : '*'),
  );
  return { runs: out, display: (p) => names.get(p) ?? p };
}

function spec(c: ReservedLine['charges'][number]): PoolCharge['mechanism'] {
  return specOf(c);
}

/**
 * One line per overlap, for people (CLI stderr, panels): other datasets of this ledger sharing records, and ledgers
 * elsewhere that charged some of them. Local diagnostics: exact counts of private records, never exported.
 */
export function overlapNotes(status: {
  shared?: { path: string; records: number; of: number }[];
  elsewhere?: { ledger: string; dataset: string; records: number; exact: boolean }[];
}): string[] {
  const n = (x: number) => x.toLocaleString('en-US');
  const out: string[] = [];
  for (const s of status.shared ?? [])
    out.push(
      `local diagnostic (exact, not private): shares ${n(s.records)} of ${n(s.of)} records with ${s.path}; their charges in this ledger count here`,
    );
  const elsewhere = status.elsewhere ?? [];
  // At most three ledgers by name, then how many more: a record set copied around many folders stays one screen.
  for (const e of elsewhere.slice(0, 3))
    out.push(
      `warning: ${e.exact ? '' : 'about '}${n(e.records)} of these records were charged in another ledger, ${e.ledger} (as ${e.dataset}); that spending is not counted here — run from that folder to share its budget (local diagnostic, not private)`,
    );
  if (elsewhere.length > 3)
    out.push(
      `warning: records of this dataset were also charged in ${n(elsewhere.length - 3)} more ledger(s) elsewhere (local diagnostic, not private)`,
    );
  return out;
}
