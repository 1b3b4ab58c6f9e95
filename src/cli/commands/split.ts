import path from 'node:path';
import { UsageError } from '../../core/errors';
import { assignSplit, createSplit } from '../../core/evaluate/split';
import { LOCAL_ONLY_NOTE } from '../../core/release';
import { printableOneLine as p } from '../../core/text-safety';
import { numberFlag, type Command } from '../args';
import { datasetArg, datasetUsage, ledgerFor, loadDatasetFromFlags, workspaceDatasetOptions } from '../dataset-flags';

export const split: Command = {
  name: 'split',
  summary:
    'Fix a held-out part of a dataset that generation never reads, for `evaluate` (a local choice, not released).',
  usage: `private-fewshot split <dataset> --holdout H [options]

  <dataset>          a .csv, .jsonl or .json file
  --holdout H        the fraction of records held out, in (0, 1) (e.g. 0.2). Each record is held out on its own with
                     probability H, by a keyed hash of the record with a random seed (stratified in expectation: every
                     label keeps about the share H). Recorded in .private-fewshot/splits/ beside the ledger; fixed
                     once made. \`demos\` and \`synth\` then read only the training part.
  --json             print one JSON object (local only, not private: exact counts)
  --workspace DIR    where .private-fewshot/ lives (default: found from the dataset, see docs/LEDGER.md)
${datasetUsage}`,
  options: {
    holdout: { type: 'string' },
    ...workspaceDatasetOptions,
  },
  async run(values, positionals, io) {
    const file = datasetArg('split', positionals, 'examples/banking77-sample.csv --holdout 0.2');
    const holdout = numberFlag(values, 'holdout', { min: Number.MIN_VALUE, max: 1 - Number.EPSILON });
    if (holdout === undefined) throw new UsageError('--holdout is required', 'For example --holdout 0.2.');
    const location = ledgerFor(file, values, io.cwd);
    const ds = await loadDatasetFromFlags(file, values, io.cwd, location.root);
    const made = createSplit(location.dir, ds.identity.path, holdout);
    const { training, heldOut } = assignSplit(ds, made.split);
    const labels = [...new Set(ds.examples.map((e) => e.label))].sort();
    const count = (rows: typeof training, l: string) => rows.filter((e) => e.label === l).length;
    const perLabel = labels.map((label) => ({
      label,
      training: count(training, label),
      heldOut: count(heldOut, label),
    }));
    const splitFile = path.relative(io.cwd, made.file) || made.file;
    if (values.json) {
      io.out(
        JSON.stringify({
          split: { file: splitFile, holdout, created: made.created },
          localOnlyNotPrivate: { note: LOCAL_ONLY_NOTE, training: training.length, heldOut: heldOut.length, perLabel },
        }),
      );
    } else {
      io.out(
        [
          `${made.created ? 'Split recorded' : 'Split already recorded'} in ${splitFile}: held-out fraction ${holdout}.`,
          `demos and synth now read only the training part; evaluate measures on the held-out part.`,
          `Local only, not private (exact counts): ${training.length} training and ${heldOut.length} held-out rows.`,
          ...perLabel.map((l) => `  ${p(l.label)}: ${l.training} training, ${l.heldOut} held out`),
        ].join('\n'),
      );
    }
    const empty = perLabel.filter((l) => l.heldOut === 0 || l.training === 0);
    if (empty.length)
      io.err(
        `warning: ${empty.length} label(s) have no row on one side of the split (${empty
          .slice(0, 3)
          .map((l) => p(l.label))
          .join(', ')}${empty.length > 3 ? ', …' : ''}); evaluation cannot measure them there.`,
      );
    return 0;
  },
};
