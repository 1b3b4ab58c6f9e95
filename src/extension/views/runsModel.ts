// What the Runs view shows, without vscode (unit-tested in plain Node): the datasets a ledger knows and, for each, its
// past runs read from the ledger's run lines and the files under .private-fewshot/runs/ (the checkpoint
// `<id>.jsonl`, the saved release `<id>.release.json`, the local journal `<id>.local-diagnostics.json`). The tree
// itself and its commands are thin wrappers in runsView.ts.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { LEDGER_DIR } from '../../core/ledger';
import { readReleaseFile, releaseFilePath } from '../../core/release-file';
import { localJournalPath, releasedTexts, type Release } from '../../core/release';
import type { BudgetMessage, LocalRunDiagnostics } from '../../shared/protocol';
import { fmt } from '../budget';

/** One past run of a dataset. `release` is set only when its saved release was read and checked. */
export interface PastRun {
  /** The ledger folder's parent (the root the ledger's dataset paths are relative to). */
  root: string;
  id: string;
  /** ISO time the run was reserved. */
  time: string;
  algorithm: 'dp-few-shot' | 'aug-pe';
  /** The dataset's path as the ledger records it: relative to `root`, '/'-separated. */
  dataset: string;
  /** The run's checkpoint: what it released as it went (always there for a run that started). */
  checkpoint: string;
  /** `reserved` (in flight, or crashed: charged at its planned size), `settled` or `aborted`. */
  status: 'reserved' | 'settled' | 'aborted';
  /** ε of the whole run as the ledger recorded it at reservation (planned). */
  epsilonPlanned: number | undefined;
  release: Release | undefined;
  /** Why a saved release could not be read (missing, for runs made before releases were saved, or damaged). */
  problem: string | undefined;
}

/** A dataset a ledger names, with its runs, newest first. */
export interface DatasetRuns {
  root: string;
  dataset: string;
  runs: PastRun[];
}

interface LedgerLine {
  type?: unknown;
  status?: unknown;
  id?: unknown;
  time?: unknown;
  algorithm?: unknown;
  epsilonRun?: unknown;
  guarantee?: { epsilon?: unknown };
  dataset?: { path?: unknown };
}

/**
 * The datasets and runs of the ledger under `root` (`root/.private-fewshot/ledger.jsonl`); an empty list when there
 * is no ledger. Reads only the lines' public members (type, id, time, algorithm, status, ε, the dataset's path); the
 * hash chain is verified by the Ledger itself when the budget is read, not here: this is a listing, nothing is admitted
 * from it. A line that is not JSON is skipped (the budget read reports it with its line number).
 */
export async function readRuns(root: string): Promise<DatasetRuns[]> {
  const dir = path.join(root, LEDGER_DIR);
  let text: string;
  try {
    text = await readFile(path.join(dir, 'ledger.jsonl'), 'utf8');
  } catch {
    return [];
  }
  const datasets = new Map<string, PastRun[]>();
  const byId = new Map<string, PastRun>();
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let l: LedgerLine;
    try {
      l = JSON.parse(raw) as LedgerLine;
    } catch {
      continue;
    }
    const ds = typeof l.dataset?.path === 'string' && l.dataset.path !== '' ? l.dataset.path : undefined;
    if ((l.type === 'budget' || l.type === 'run') && ds && !datasets.has(ds)) datasets.set(ds, []);
    if (l.type !== 'run' || typeof l.id !== 'string') continue;
    if (l.status === 'reserved' && ds && (l.algorithm === 'dp-few-shot' || l.algorithm === 'aug-pe')) {
      // DP few-shot's pool-count release ('dp-few-shot:pool-counts') is the first half of the run listed here.
      const run: PastRun = {
        root,
        id: l.id,
        time: typeof l.time === 'string' ? l.time : '',
        algorithm: l.algorithm,
        dataset: ds,
        checkpoint: path.join(dir, 'runs', `${l.id}.jsonl`),
        status: 'reserved',
        // DP few-shot's steps reservation states the whole run's ε as the group's guarantee (its epsilonRun is the
        // steps' part alone); Aug-PE's is its epsilonRun.
        epsilonPlanned:
          typeof l.guarantee?.epsilon === 'number'
            ? l.guarantee.epsilon
            : typeof l.epsilonRun === 'number'
              ? l.epsilonRun
              : undefined,
        release: undefined,
        problem: undefined,
      };
      byId.set(l.id, run);
      datasets.get(ds)!.push(run);
    } else if (l.status === 'settled' || l.status === 'aborted') {
      const run = byId.get(l.id);
      if (run) run.status = l.status;
    }
  }
  const saved = new Set(await readdir(path.join(dir, 'runs')).catch(() => [] as string[]));
  await Promise.all(
    [...byId.values()].map(async (run) => {
      const file = releaseFilePath(run.checkpoint);
      if (!saved.has(path.basename(file))) {
        run.problem =
          run.status === 'reserved'
            ? 'no saved release: the run is still going, or stopped without settling'
            : 'no saved release (the run was made before releases were saved): open its run file';
        return;
      }
      try {
        run.release = await readReleaseFile(file);
      } catch (e) {
        run.problem = `the saved release could not be read: ${(e as Error).message}`;
      }
    }),
  );
  return [...datasets.entries()]
    .map(([dataset, runs]) => ({ root, dataset, runs: runs.sort((a, b) => b.time.localeCompare(a.time)) }))
    .sort((a, b) => a.dataset.localeCompare(b.dataset));
}

/** The newest run of `algorithm` on `dataset` (ledger-relative path) with a saved release, if any. */
export async function latestRelease(
  root: string,
  dataset: string,
  algorithm: PastRun['algorithm'],
): Promise<PastRun | undefined> {
  const all = await readRuns(root);
  return all.find((d) => d.dataset === dataset)?.runs.find((r) => r.algorithm === algorithm && r.release);
}

const ALGORITHM = { 'dp-few-shot': 'DP few-shot', 'aug-pe': 'Aug-PE' } as const;

/** "2026-12-06 05:41" (UTC) from an ISO time; the time as given when it is not one. */
export function shortTime(iso: string): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)/.exec(iso);
  return m ? `${m[1]} ${m[2]} UTC` : iso;
}

/** What a run's tree item says: its label, description and tooltip. Public figures only (the release's own). */
export function describeRun(run: PastRun): { label: string; description: string; tooltip: string } {
  const r = run.release;
  const when = shortTime(run.time);
  if (!r) {
    const eps = run.epsilonPlanned === undefined ? '' : ` · ε ${fmt(run.epsilonPlanned)} planned`;
    return {
      label: `${ALGORITHM[run.algorithm]} · ${when}`,
      description: `${run.status}${eps}`,
      tooltip: `${ALGORITHM[run.algorithm]} run ${run.id} on ${run.dataset}, ${when}: ${run.problem ?? run.status}.`,
    };
  }
  const n = releasedTexts(r).length;
  const what = r.algorithm === 'dp-few-shot' ? 'demonstration' : 'record';
  const count = `${n} ${what}${n === 1 ? '' : 's'}`;
  const model = `${r.model.kind}/${r.model.model}`;
  const status = r.status === 'completed' ? '' : ` · ${r.status}`;
  return {
    label: `${ALGORITHM[r.algorithm]} · ${count}`,
    description: `${when} · ε ${fmt(r.privacy.epsilonCharged)} · ${model}${status}`,
    tooltip: [
      `${ALGORITHM[r.algorithm]} run ${run.id} on ${run.dataset}`,
      `Date: ${when}`,
      `ε charged: ${fmt(r.privacy.epsilonCharged)} at δ ${r.privacy.delta.toExponential(2)} (asked for ${fmt(r.privacy.epsilonRequested)})`,
      `Model: ${model}${r.algorithm === 'aug-pe' ? `; embedder ${r.embedder.kind}/${r.embedder.model}` : ''}`,
      `Released: ${count} (${r.status})`,
      ...(r.notice ? [r.notice] : []),
      'Open, Insert, Export and Copy carry this release only: DP outputs and public parameters.',
    ].join('\n'),
  };
}

/** The dataset line's description: "ε 1 spent · 3 left of 4", rounded as the panels round. */
export function describeDatasetBudget(b: BudgetMessage): string {
  const over = b.remaining < 0 ? ` (over by ${fmt(-b.remaining)})` : '';
  return `ε ${fmt(b.spent)} spent · ${fmt(Math.max(0, b.remaining))} left of ${fmt(b.total)}${over}`;
}

/**
 * A run's local diagnostics from its journal (`<id>.local-diagnostics.json`), for the "Local only, not private" area
 * of a panel that shows the run again. Undefined when the journal is missing or unreadable. `journal` is how the
 * panel names the file.
 */
export async function readLocalDiagnostics(
  checkpoint: string,
  journal: string,
): Promise<LocalRunDiagnostics | undefined> {
  try {
    const j = JSON.parse(await readFile(localJournalPath(checkpoint), 'utf8')) as {
      usage?: Record<string, unknown>;
      durationMs?: unknown;
    };
    const n = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : 0);
    const u = j.usage ?? {};
    return {
      calls: Math.round(n(u.calls)),
      inputTokens: Math.round(n(u.inputTokens)),
      outputTokens: Math.round(n(u.outputTokens)),
      cost: n(u.cost),
      durationMs: n(j.durationMs),
      journal,
    };
  } catch {
    return undefined;
  }
}
