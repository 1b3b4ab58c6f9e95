import type { Dataset, DatasetIdentity } from './load';

/**
 * The local summary of a dataset. It contains private statistics (label counts, lengths): it is shown to the
 * local user only and must never reach a provider or a released output.
 */
export interface DatasetSummary {
  file: string;
  format: string;
  columns: {
    text: string;
    label: string;
    unit: string | null;
    available: string[];
    detected: { text: boolean; label: boolean };
  };
  rows: number;
  /** Privacy units: distinct unit values, or rows when there is no unit column. */
  units: number;
  /** Rows in the largest unit (1 without a unit column). */
  largestUnit: number;
  labels: { label: string; count: number }[];
  textLength: { min: number; max: number; mean: number; median: number; p95: number };
  /** Rows whose text (trimmed) already appeared on an earlier row. */
  duplicateTexts: number;
  duplicatesRemoved: number;
  skipped: { count: number; first: { line: number; column: string; reason: string }[] };
  warnings: string[];
  identity: DatasetIdentity;
}

export function summarize(ds: Dataset): DatasetSummary {
  const labelCounts = new Map<string, number>();
  const unitSizes = new Map<string, number>();
  const seen = new Set<string>();
  let duplicateTexts = 0;
  const lengths: number[] = [];
  for (const e of ds.examples) {
    labelCounts.set(e.label, (labelCounts.get(e.label) ?? 0) + 1);
    unitSizes.set(e.unit, (unitSizes.get(e.unit) ?? 0) + 1);
    const key = e.text.trim();
    if (seen.has(key)) duplicateTexts++;
    else seen.add(key);
    lengths.push([...e.text].length);
  }
  lengths.sort((a, b) => a - b);
  const labels = [...labelCounts]
    .map(([label, count]) => ({ label, count }))
    .sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : 1));
  let largestUnit = 0;
  for (const size of unitSizes.values()) largestUnit = Math.max(largestUnit, size);
  const warnings: string[] = [];
  if (duplicateTexts > 0) {
    warnings.push(
      `${duplicateTexts} row(s) repeat a text that appears earlier. A record that appears several times weakens per-record DP: its influence counts once per copy. De-duplicate (CLI --dedupe) unless the copies belong to one privacy unit.`,
    );
  }
  if (ds.skipped.length > 0) warnings.push(`${ds.skipped.length} invalid row(s) were skipped.`);
  if (ds.columns.unit && largestUnit > 1) {
    warnings.push(
      `Privacy is per unit ("${ds.columns.unit}"): the largest unit has ${largestUnit} rows, and all of a unit's rows are treated as one record.`,
    );
  }
  return {
    file: ds.file,
    format: ds.format,
    columns: {
      text: ds.columns.text,
      label: ds.columns.label,
      unit: ds.columns.unit ?? null,
      available: ds.columns.available,
      detected: ds.columns.detected,
    },
    rows: ds.examples.length,
    units: unitSizes.size,
    largestUnit,
    labels,
    textLength: {
      min: lengths[0]!,
      max: lengths[lengths.length - 1]!,
      mean: round(lengths.reduce((a, b) => a + b, 0) / lengths.length, 1),
      median: quantile(lengths, 0.5),
      p95: quantile(lengths, 0.95),
    },
    duplicateTexts,
    duplicatesRemoved: ds.duplicatesRemoved,
    skipped: { count: ds.skipped.length, first: ds.skipped.slice(0, 10) },
    warnings,
    identity: ds.identity,
  };
}

/** Nearest-rank quantile of sorted values. */
function quantile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
