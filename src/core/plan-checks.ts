/**
 * The checks both planners (fewshot/plan.ts, augpe/plan.ts) make of a run's public settings before planning: the
 * labels, and the counts that must be whole numbers of at least one. Each throws a UsageError naming the setting.
 */
import { UsageError } from './errors';

/** The labels must be given, each once. */
export function checkLabels(labels: readonly string[]): void {
  if (labels.length === 0)
    throw new UsageError(
      'no labels to generate',
      'Name them with --labels a,b,c, or pass --all-labels to take them from the data.',
    );
  if (new Set(labels).size !== labels.length) throw new UsageError('a label is named twice');
}

/** Each [name, value] must be a whole number ≥ 1 (shots, T, M, …). */
export function checkCounts(counts: readonly (readonly [name: string, value: number])[]): void {
  for (const [name, v] of counts) {
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`${name} must be a whole number ≥ 1; got ${v}`);
  }
}
