import path from 'node:path';
import { loadDataset, type Dataset } from '../core/data';
import { numberFlag, stringFlag, type Options } from './args';

/** The flags that say how to read a dataset, shared by every command that loads one. */
export const datasetOptions: Options = {
  'text-column': { type: 'string' },
  'label-column': { type: 'string' },
  'unit-column': { type: 'string' },
  'skip-invalid': { type: 'boolean' },
  dedupe: { type: 'boolean' },
  'max-bytes': { type: 'string' },
};

export const datasetUsage = `  --text-column C    the column with the text (default: detected, the string column with the longest mean length)
  --label-column C   the column with the label (default: detected, a column with few distinct values)
  --unit-column C    privacy-unit column such as user_id: all rows of one unit are one record (user-level DP)
  --skip-invalid     skip rows whose text, label or unit is empty, and report them (default: fail on the first)
  --dedupe           drop rows whose text, label and unit repeat an earlier row's
  --max-bytes N      refuse files larger than N bytes (default 209715200, 200 MB)`;

/** Loads `file` (relative to `cwd`) with the dataset flags; paths are reported relative to `root`. */
export function loadDatasetFromFlags(
  file: string,
  values: Record<string, unknown>,
  cwd: string,
  root = cwd,
): Promise<Dataset> {
  return loadDataset(path.resolve(cwd, file), {
    root,
    textColumn: stringFlag(values, 'text-column'),
    labelColumn: stringFlag(values, 'label-column'),
    unitColumn: stringFlag(values, 'unit-column'),
    onInvalid: values['skip-invalid'] ? 'skip' : 'fail',
    dedupe: values.dedupe === true,
    maxBytes: numberFlag(values, 'max-bytes', { min: 1, integer: true }),
  });
}
