import { loadDataset, summarize, type DatasetSummary } from '../../core/data';
import { UsageError } from '../../core/errors';
import { numberFlag, stringFlag, type Command } from '../args';

export const inspect: Command = {
  name: 'inspect',
  summary: 'Load a labelled dataset and print its summary (local only: it holds private statistics).',
  usage: `private-fewshot inspect <file> [--text-column C] [--label-column C] [--unit-column C] [--skip-invalid] [--dedupe] [--max-bytes N] [--json]

  <file>             a .csv, .jsonl or .json (array of objects) file
  --text-column C    the column with the text (default: detected, the string column with the longest mean length)
  --label-column C   the column with the label (default: detected, a column with few distinct values)
  --unit-column C    privacy-unit column such as user_id: all rows of one unit are one record (user-level DP)
  --skip-invalid     skip rows whose text, label or unit is empty, and report them (default: fail on the first)
  --dedupe           drop rows whose text repeats an earlier row's text
  --max-bytes N      refuse files larger than N bytes (default 209715200, 200 MB)
  --json             print one JSON object on stdout`,
  options: {
    'text-column': { type: 'string' },
    'label-column': { type: 'string' },
    'unit-column': { type: 'string' },
    'skip-invalid': { type: 'boolean' },
    dedupe: { type: 'boolean' },
    'max-bytes': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError('inspect needs exactly one dataset file', 'Example: private-fewshot inspect examples/banking77-sample.csv');
    const ds = await loadDataset(positionals[0]!, {
      root: io.cwd,
      textColumn: stringFlag(values, 'text-column'),
      labelColumn: stringFlag(values, 'label-column'),
      unitColumn: stringFlag(values, 'unit-column'),
      onInvalid: values['skip-invalid'] ? 'skip' : 'fail',
      dedupe: values.dedupe === true,
      maxBytes: numberFlag(values, 'max-bytes', { min: 1, integer: true }),
    });
    const summary = summarize(ds);
    io.out(values.json ? JSON.stringify(summary) : formatSummary(summary));
    return 0;
  },
};

export function formatSummary(s: DatasetSummary): string {
  const lines: string[] = [];
  const detected = (b: boolean) => (b ? ' (detected)' : '');
  lines.push(`${s.file} (${s.format.toUpperCase()})`);
  lines.push(`  text column:   ${s.columns.text}${detected(s.columns.detected.text)}`);
  lines.push(`  label column:  ${s.columns.label}${detected(s.columns.detected.label)}`);
  if (s.columns.unit) lines.push(`  privacy unit:  ${s.columns.unit}`);
  lines.push(`  rows:          ${s.rows}`);
  lines.push(`  privacy units: ${s.units}${s.columns.unit ? ` (largest: ${s.largestUnit} rows)` : ' (one per row)'}`);
  lines.push(`  text length:   min ${s.textLength.min}, median ${s.textLength.median}, mean ${s.textLength.mean}, p95 ${s.textLength.p95}, max ${s.textLength.max} characters`);
  lines.push(`  duplicates:    ${s.duplicateTexts} repeated text(s)${s.duplicatesRemoved ? `, ${s.duplicatesRemoved} removed` : ''}`);
  if (s.skipped.count) lines.push(`  skipped:       ${s.skipped.count} invalid row(s), first at line ${s.skipped.first.map((r) => r.line).slice(0, 5).join(', ')}`);
  lines.push(`  identity:      sha256 ${s.identity.contentSha256.slice(0, 16)}…, ${s.identity.bytes} bytes`);
  lines.push(`  labels (${s.labels.length}, local only — label counts are private):`);
  const width = Math.min(40, Math.max(...s.labels.map((l) => l.label.length)));
  for (const l of s.labels) lines.push(`    ${l.label.padEnd(width)}  ${l.count}`);
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
