/**
 * Reading what `evaluate` measures: released demonstrations or records, from a release file (`demos`/`synth`
 * `--format json`), a JSONL file of {label, text} lines (`--format jsonl`), or a run's checkpoint
 * (`.private-fewshot/runs/<id>.jsonl`, given by its run id). Every failure names the file and line.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DataError, UsageError } from '../errors';
import type { Demo } from './incontext';

export interface ReleasedSet {
  /** What was read, for people (a path or "run <id>"). */
  source: string;
  algorithm: 'dp-few-shot' | 'aug-pe' | 'unknown';
  items: Demo[];
  /** ε of the release when the file says (epsilon charged), else undefined. */
  epsilon?: number;
  /** Labels in first-appearance order. */
  labels: string[];
}

const isItem = (o: unknown): o is Demo =>
  typeof o === 'object' &&
  o !== null &&
  typeof (o as Demo).label === 'string' &&
  typeof (o as Demo).text === 'string' &&
  (o as Demo).text.trim() !== '';

/** Reads `ref`: a file (relative to `cwd`), or else a run id looked up in `<ledgerDir>/runs/`. */
export function readReleased(ref: string, cwd: string, ledgerDir: string): ReleasedSet {
  const file = path.resolve(cwd, ref);
  if (existsSync(file)) return parseReleased(readFileSync(file, 'utf8'), ref);
  if (/^[A-Za-z0-9._-]+$/.test(ref)) {
    const run = path.join(ledgerDir, 'runs', `${ref}.jsonl`);
    if (existsSync(run)) return { ...parseReleased(readFileSync(run, 'utf8'), ref), source: `run ${ref}` };
  }
  throw new UsageError(
    `${ref} is neither a file nor a run id in ${path.join(ledgerDir, 'runs')}`,
    'Give the release written by `demos --format json --out FILE` (or jsonl), or a run id from the runs folder.',
  );
}

export function parseReleased(content: string, name: string): ReleasedSet {
  const trimmed = content.trim();
  const done = (algorithm: ReleasedSet['algorithm'], items: Demo[], epsilon?: number): ReleasedSet => {
    if (items.length === 0)
      throw new DataError(name, undefined, 'holds no demonstrations or records', 'Give a non-empty release.');
    return { source: name, algorithm, items, epsilon, labels: [...new Set(items.map((d) => d.label))] };
  };
  if (trimmed.startsWith('{') && !trimmed.includes('\n{')) {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(trimmed) as Record<string, unknown>;
    } catch (e) {
      throw new DataError(name, undefined, `not valid JSON: ${(e as Error).message}`, 'Give a release JSON file.');
    }
    if (isItem(o)) return done('unknown', [pick(o)]); // a one-line JSONL file
    const list = o.algorithm === 'aug-pe' ? o.records : o.demonstrations;
    if (!Array.isArray(list) || !list.every(isItem))
      throw new DataError(
        name,
        undefined,
        'not a release (no "demonstrations" or "records" list of {label, text})',
        'Write it with `demos --format json --out FILE` or `synth --format json --out FILE`.',
      );
    const privacy = o.privacy as { epsilonCharged?: unknown } | undefined;
    const eps = typeof privacy?.epsilonCharged === 'number' ? privacy.epsilonCharged : undefined;
    return done(o.algorithm === 'aug-pe' ? 'aug-pe' : 'dp-few-shot', list.map(pick), eps);
  }
  if (trimmed.startsWith('[')) {
    let a: unknown;
    try {
      a = JSON.parse(trimmed);
    } catch (e) {
      throw new DataError(
        name,
        undefined,
        `not valid JSON: ${(e as Error).message}`,
        'Give a JSON array of {label, text}.',
      );
    }
    if (!Array.isArray(a) || !a.every(isItem))
      throw new DataError(name, undefined, 'not an array of {label, text}', 'Give a release or a JSONL file instead.');
    return done('unknown', a.map(pick));
  }
  // JSONL: {label, text} lines, or a run checkpoint (its "demonstration" lines; other line types skipped).
  const items: Demo[] = [];
  let checkpoint = false;
  trimmed.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      throw new DataError(name, i + 1, 'not a JSON line', 'Give a JSONL file of {"label", "text"} objects.');
    }
    const type = (o as { type?: unknown }).type;
    if (typeof type === 'string') {
      checkpoint = true;
      if ((type === 'demonstration' || type === 'record') && isItem(o)) items.push(pick(o));
      return;
    }
    if (!isItem(o))
      throw new DataError(
        name,
        i + 1,
        'a line without a non-empty "label" and "text"',
        'Each line: {"label", "text"}.',
      );
    items.push(pick(o));
  });
  return done(checkpoint ? 'dp-few-shot' : 'unknown', items);
}

function pick(d: Demo): Demo {
  return { label: d.label, text: d.text };
}
