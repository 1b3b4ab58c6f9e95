import type { Dataset } from '../data';

/** A privacy unit of one label's pool: one record, or all rows of one user. */
export interface PoolUnit {
  id: string;
  texts: string[];
}

/** Private pools of the requested labels, as privacy units (all rows of a unit together). */
export function buildPools(
  ds: Dataset,
  labels: string[],
): { pools: Map<string, PoolUnit[]>; unitsSpanLabels: boolean } {
  const wanted = new Set(labels);
  const byLabel = new Map<string, Map<string, PoolUnit>>(labels.map((l) => [l, new Map()]));
  const unitLabels = new Map<string, Set<string>>();
  for (const e of ds.examples) {
    const seen = unitLabels.get(e.unit) ?? new Set<string>();
    seen.add(e.label);
    unitLabels.set(e.unit, seen);
    if (!wanted.has(e.label)) continue;
    const pool = byLabel.get(e.label)!;
    const unit = pool.get(e.unit) ?? { id: e.unit, texts: [] };
    unit.texts.push(e.text);
    pool.set(e.unit, unit);
  }
  const unitsSpanLabels = ds.columns.unit !== undefined && [...unitLabels.values()].some((s) => s.size > 1);
  return { pools: new Map([...byLabel].map(([l, m]) => [l, [...m.values()]])), unitsSpanLabels };
}
