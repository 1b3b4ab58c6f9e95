/**
 * Where a dataset's privacy ledger lives: one rule for the CLI and the editor, so both charge the same budget
 * whatever the current folder is.
 *
 * 1. An explicit workspace (CLI `--workspace DIR`): `<DIR>/.private-fewshot/`; DIR must be an existing folder.
 * 2. Otherwise walk up from the dataset's folder to the nearest folder that holds `.private-fewshot` (the way git finds
 *    `.git`): an existing ledger is always found, from any current folder.
 * 3. Otherwise the project root above the dataset: the editor's workspace folder when the dataset lies in it, else the
 *    nearest folder holding `.git` (a repository root).
 * 4. Otherwise the dataset's own folder.
 *
 * Finding a farther existing ledger is the conservative side: it can only add earlier charges, never forget them.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors';
import { LEDGER_DIR } from './store';

export interface LedgerLocation {
  /** The folder that holds `.private-fewshot/` (dataset paths in the ledger are relative to it). */
  root: string;
  /** `<root>/.private-fewshot`. */
  dir: string;
  /** Whether `.private-fewshot` already exists there (false: the first write creates it). */
  exists: boolean;
  /** Which rule chose it. */
  reason: 'explicit' | 'found' | 'workspace' | 'repository' | 'dataset-folder';
}

function kind(p: string): 'dir' | 'file' | undefined {
  try {
    return statSync(p).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Finds the ledger for `datasetFile` (absolute or relative to the current directory). `workspace` is an explicit
 * workspace (must exist); `workspaceFolder` is the editor's folder that the dataset belongs to (a candidate root).
 */
export function locateLedger(
  datasetFile: string,
  opts: { workspace?: string; workspaceFolder?: string } = {},
): LedgerLocation {
  if (opts.workspace !== undefined) {
    const root = path.resolve(opts.workspace);
    const k = kind(root);
    if (k !== 'dir')
      throw new UsageError(
        k === 'file'
          ? `--workspace ${opts.workspace} is a file, not a folder`
          : `--workspace ${opts.workspace} does not exist`,
        'Give an existing folder (the one that holds, or should hold, .private-fewshot/), or leave --workspace out to find the ledger from the dataset.',
      );
    const dir = path.join(root, LEDGER_DIR);
    return { root, dir, exists: kind(dir) !== undefined, reason: 'explicit' };
  }
  const start = path.dirname(path.resolve(datasetFile));
  for (let d = start; ;) {
    if (kind(path.join(d, LEDGER_DIR)) !== undefined)
      return { root: d, dir: path.join(d, LEDGER_DIR), exists: true, reason: 'found' };
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  const folder = opts.workspaceFolder ? path.resolve(opts.workspaceFolder) : undefined;
  if (folder && inside(start, folder))
    return { root: folder, dir: path.join(folder, LEDGER_DIR), exists: false, reason: 'workspace' };
  for (let d = start; ;) {
    if (kind(path.join(d, '.git')) !== undefined)
      return { root: d, dir: path.join(d, LEDGER_DIR), exists: false, reason: 'repository' };
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  return { root: start, dir: path.join(start, LEDGER_DIR), exists: false, reason: 'dataset-folder' };
}
