import { DataError } from '../errors';
import type { RawRecord } from './parse';

export interface ColumnStats {
  name: string;
  /** Rows where the column holds a non-empty scalar. */
  filled: number;
  /** Rows where the column holds a string that is not a number. */
  textual: number;
  meanLength: number;
  distinct: number;
}

const TEXT_NAMES = [
  'text',
  'sentence',
  'content',
  'message',
  'body',
  'utterance',
  'query',
  'question',
  'review',
  'input',
];
const LABEL_NAMES = ['label', 'labels', 'intent', 'category', 'class', 'target', 'y', 'output', 'topic', 'sentiment'];

/** Column names in order of first appearance. */
export function columnNames(rows: RawRecord[]): string[] {
  const names = new Set<string>();
  for (const r of rows) for (const k of r.fields.keys()) names.add(k);
  return [...names];
}

export function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

export function columnStats(rows: RawRecord[], names: string[]): ColumnStats[] {
  return names.map((name) => {
    let filled = 0;
    let textual = 0;
    let totalLength = 0;
    const distinct = new Set<string>();
    for (const r of rows) {
      const raw = r.fields.get(name);
      const s = scalarText(raw)?.trim();
      if (!s) continue;
      filled++;
      totalLength += s.length;
      if (typeof raw === 'string' && !/^[-+]?\d+(\.\d+)?$/.test(s)) textual++;
      distinct.add(s);
    }
    return { name, filled, textual, meanLength: filled ? totalLength / filled : 0, distinct: distinct.size };
  });
}

export interface ColumnChoice {
  text: string;
  label: string;
  unit?: string;
  detected: { text: boolean; label: boolean };
}

/**
 * Picks the text column (the string column with the longest mean length) and the label column (a column with few
 * distinct values, preferring a conventional name), unless given explicitly. Named columns must exist.
 */
export function chooseColumns(
  rows: RawRecord[],
  file: string,
  wanted: { text?: string; label?: string; unit?: string },
): ColumnChoice {
  const names = columnNames(rows);
  const missing = (kind: string, col: string, flag: string) =>
    new DataError(
      file,
      undefined,
      `there is no ${kind} column "${col}"`,
      `The columns are: ${listColumns(names.map((n) => JSON.stringify(n)))}. Pass one of them with ${flag}.`,
      col,
    );
  for (const [kind, col, flag] of [
    ['text', wanted.text, '--text-column'],
    ['label', wanted.label, '--label-column'],
    ['privacy-unit', wanted.unit, '--unit-column'],
  ] as const) {
    if (col !== undefined && !names.includes(col)) throw missing(kind, col, flag);
  }
  const undetected = (what: string, column: string, flag: string) =>
    new DataError(
      file,
      undefined,
      what,
      `Name the ${column} column with ${flag}. The columns are: ${listColumns(names)}.`,
    );
  const stats = columnStats(rows, names);
  const n = rows.length;

  let text = wanted.text;
  if (text === undefined) {
    const candidates = stats.filter(
      (s) => s.name !== wanted.label && s.name !== wanted.unit && s.textual >= 0.5 * s.filled && s.filled > 0,
    );
    candidates.sort(
      (a, b) => b.meanLength - a.meanLength || nameRank(TEXT_NAMES, a.name) - nameRank(TEXT_NAMES, b.name),
    );
    text = candidates[0]?.name;
    if (text === undefined) throw undetected('no column holds text', 'text', '--text-column');
  }

  let label = wanted.label;
  if (label === undefined) {
    const limit = Math.max(2, Math.min(1000, Math.floor(n / 2)));
    const candidates = stats.filter(
      (s) => s.name !== text && s.name !== wanted.unit && s.distinct >= 2 && s.distinct <= limit,
    );
    candidates.sort((a, b) => nameRank(LABEL_NAMES, a.name) - nameRank(LABEL_NAMES, b.name) || a.distinct - b.distinct);
    label = candidates[0]?.name;
    if (label === undefined)
      throw undetected('no column looks like a label (a column with few distinct values)', 'label', '--label-column');
  }
  if (label === text)
    throw new DataError(
      file,
      undefined,
      `the text and label columns are the same ("${text}")`,
      'Name two different columns.',
    );
  return {
    text,
    label,
    unit: wanted.unit,
    detected: { text: wanted.text === undefined, label: wanted.label === undefined },
  };
}

function nameRank(list: string[], name: string): number {
  const i = list.indexOf(name.toLowerCase());
  return i === -1 ? list.length : i;
}

/** At most 20 names and 300 characters, so a file with a huge header still gives a short message. */
function listColumns(names: string[]): string {
  let out = names.slice(0, 20).join(', ');
  if (out.length > 300) out = `${out.slice(0, 300)}…`;
  return names.length > 20 ? `${out} … (${names.length} columns in all)` : out;
}
