/**
 * Output paths that would destroy data: an input file, anything inside a `.private-fewshot/` folder, a folder, a
 * missing or read-only folder. Checked before any budget is spent (CLI --out) or before an export (editor).
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError, UserError } from '../errors';
import { LEDGER_DIR } from '../ledger/store';

/** Resolves symbolic links of the longest existing prefix of `p`, so two spellings of one file compare equal. */
function canonical(p: string): string {
  const abs = path.resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(canonical(parent), path.basename(abs));
  }
}

function sameFile(a: string, b: string): boolean {
  if (canonical(a) === canonical(b)) return true;
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino; // hard links
  } catch {
    return false;
  }
}

function under(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Refuses an output path that would destroy data or cannot be written, before anything is reserved: an input file,
 * anything inside a `.private-fewshot/` folder (the ledger, its head, run files), a folder, a missing or read-only
 * folder. Returns the absolute path.
 */
export function checkOutputPath(out: string, cwd: string, opts: { inputs: string[]; ledgerDir: string }): string {
  const file = path.resolve(cwd, out);
  for (const input of opts.inputs)
    if (sameFile(file, input))
      throw new UsageError(
        `${out} is the input dataset; writing there would destroy it`,
        'Choose another file for the output.',
      );
  const c = canonical(file);
  if (under(c, canonical(opts.ledgerDir)) || c.split(path.sep).includes(LEDGER_DIR))
    throw new UsageError(
      `${out} lies inside ${LEDGER_DIR}/, which holds the privacy ledger and run files; writing there could destroy them`,
      'Choose a file outside .private-fewshot/.',
    );
  const dir = path.dirname(file);
  let dirStat;
  try {
    dirStat = statSync(dir);
  } catch (e) {
    throw new UsageError(
      `${out}: the folder ${dir} does not exist${(e as NodeJS.ErrnoException).code !== 'ENOENT' ? ` (${(e as NodeJS.ErrnoException).code})` : ''}`,
      'Create the folder first, or choose another path. Nothing was spent.',
    );
  }
  if (!dirStat.isDirectory())
    throw new UsageError(`${out}: ${dir} is not a folder`, 'Choose another path. Nothing was spent.');
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new UsageError(
      `${out}: the folder ${dir} is not writable`,
      'Check its permissions or choose another folder. Nothing was spent.',
    );
  }
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new UsageError(`${out} is a folder`, 'Give a file name. Nothing was spent.');
  } catch (e) {
    if (e instanceof UserError) throw e;
  }
  return file;
}
