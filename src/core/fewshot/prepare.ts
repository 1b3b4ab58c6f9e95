import { summarize, type Dataset } from '../data';
import { UsageError } from '../errors';
import { prepareRun, type Ledger, type PreparedRun } from '../ledger';
import { planFewShot, type FewShotPlan, type FewShotSettings } from './plan';

/** The run settings before δ is known: δ defaults to the dataset's ledger δ. */
export type PrepareSettings = Omit<FewShotSettings, 'delta'> & { delta?: number };

export type PreparedFewShot = PreparedRun<FewShotPlan>;

/**
 * The steps shared by the CLI's `demos` and the editor's Generate panel before a run: ledger status (for δ), the
 * plan, and the budget check. Reads the ledger, writes nothing.
 */
export function prepareFewShot(
  ds: Dataset,
  ledger: Ledger,
  settings: PrepareSettings,
  summary = summarize(ds),
): Promise<PreparedFewShot> {
  return prepareRun(ds, ledger, summary, (ledgerDelta) =>
    planFewShot(ds, { ...settings, delta: settings.delta ?? ledgerDelta }),
  );
}

/**
 * The labels of an editor run. Every label of the file only with the explicit acknowledgement that the label set
 * becomes public (the CLI's --all-labels): ticking each one by hand would reveal the same set without it. Names
 * not in the file are dropped (the form offers only the file's labels). All labels come back sorted by name:
 * the file's summary lists them by count, and the run's output follows this order, so keeping it would publish the
 * labels' frequency ranking, which the acknowledgement does not cover.
 */
export function chooseLabels(
  fileLabels: readonly string[],
  requested: readonly string[],
  allLabels: boolean,
): string[] {
  if (allLabels) return [...fileLabels].sort();
  const known = new Set(fileLabels);
  const labels = [...new Set(requested)].filter((l) => known.has(l));
  if (labels.length === 0)
    throw new UsageError('no labels are selected', 'Tick the labels to write demonstrations for.');
  if (labels.length === fileLabels.length) {
    throw new UsageError(
      "every label of the file is selected, which makes the file's label set public",
      'Tick "Use all labels in the file" to accept that, or leave some labels out.',
    );
  }
  return labels;
}
