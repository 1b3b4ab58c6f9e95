import { summarize, type DatasetSummary } from '../../core/data';
import { ledgerDatasetOf, overlapNotes } from '../../core/ledger';
import { cliLedger } from '../ledger';
import { printableOneLine as p } from '../../core/text-safety';
import type { Command } from '../args';
import { datasetArg, datasetOptions, datasetUsage, ledgerFor, loadDatasetFromFlags } from '../dataset-flags';

export const inspect: Command = {
  name: 'inspect',
  summary: 'Load a labelled dataset and print its summary (local only: it holds private statistics).',
  usage: `private-fewshot inspect <file> [--text-column C] [--label-column C] [--unit-column C] [--skip-invalid] [--dedupe] [--max-bytes N] [--json]

  <file>             a .csv, .jsonl or .json (array of objects) file
${datasetUsage}
  --json             print one JSON object on stdout`,
  options: {
    ...datasetOptions,
    json: { type: 'boolean' },
  },
  async run(values, positionals, io) {
    const file = datasetArg('inspect', positionals, 'examples/banking77-sample.csv');
    const ds = await loadDatasetFromFlags(file, values, io.cwd);
    const summary = summarize(ds);
    io.out(values.json ? JSON.stringify(summary) : formatSummary(summary));
    // Records shared with datasets charged in the dataset's ledger (found as every command finds it), or in ledgers
    // elsewhere (read only).
    const root = ledgerFor(file, values, io.cwd).root;
    try {
      const status = await cliLedger(root, io.env).status(ledgerDatasetOf(ds, summary.units));
      for (const note of overlapNotes(status)) io.err(note);
    } catch (e) {
      io.err(`warning: could not read the privacy ledger of ${root}: ${(e as Error).message}`);
    }
    return 0;
  },
};

export function formatSummary(s: DatasetSummary): string {
  const lines: string[] = [];
  const detected = (b: boolean) => (b ? ' (detected)' : '');
  lines.push(`${p(s.file)} (${s.format.toUpperCase()})`);
  lines.push(`  text column:   ${p(s.columns.text)}${detected(s.columns.detected.text)}`);
  lines.push(`  label column:  ${p(s.columns.label)}${detected(s.columns.detected.label)}`);
  if (s.columns.unit) lines.push(`  privacy unit:  ${p(s.columns.unit)}`);
  lines.push(`  rows:          ${s.rows}`);
  lines.push(`  privacy units: ${s.units}${s.columns.unit ? ` (largest: ${s.largestUnit} rows)` : ' (one per row)'}`);
  lines.push(
    `  text length:   min ${s.textLength.min}, median ${s.textLength.median}, mean ${s.textLength.mean}, p95 ${s.textLength.p95}, max ${s.textLength.max} characters`,
  );
  lines.push(
    `  duplicates:    ${s.duplicateTexts} repeated text(s)${s.duplicatesRemoved ? `, ${s.duplicatesRemoved} removed` : ''}`,
  );
  if (s.skipped.count)
    lines.push(
      `  skipped:       ${s.skipped.count} invalid row(s), first at line ${s.skipped.first
        .map((r) => r.line)
        .slice(0, 5)
        .join(', ')}`,
    );
  lines.push(`  identity:      sha256 ${s.identity.contentSha256.slice(0, 16)}…, ${s.identity.bytes} bytes`);
  lines.push(`  labels (${s.labels.length}, local only — label counts are private):`);
  const names = s.labels.map((l) => p(l.label));
  const width = Math.min(40, Math.max(...names.map((l) => l.length)));
  s.labels.forEach((l, i) => lines.push(`    ${names[i]!.padEnd(width)}  ${l.count}`));
  for (const w of s.warnings) lines.push(`warning: ${p(w)}`);
  return lines.join('\n');
}
