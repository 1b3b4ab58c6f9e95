import path from 'node:path';
import { summarize } from '../../core/data';
import {
  defaultDeltaWarning,
  ledgerDatasetOf,
  describeUnit,
  overlapNotes,
  type BudgetStatus,
  type ChargeView,
} from '../../core/ledger';
import { cliLedger } from '../ledger';
import { numberFlag, type Command, valueFlags } from '../args';
import {
  datasetArg,
  ledgerFor,
  loadDatasetFromFlags,
  noteLedgerCreated,
  workspaceDatasetOptions,
} from '../dataset-flags';
import { DELTA_MIN, isPoissonGaussian } from '../../core/privacy';
import { printableOneLine } from '../../core/text-safety';
import { formatDelta, formatEpsilon } from '../../shared/format';

export const budget: Command = {
  name: 'budget',
  summary: 'Show (or set) the privacy budget of a dataset: total, spent, remaining and the runs charged to it.',
  usage: `private-fewshot budget <dataset> [--set-total EPS] [--delta D] [--json] [--workspace DIR]

  <dataset>          the .csv, .jsonl or .json file the runs used
  --set-total EPS    set the dataset's total ε (a new ledger line; the default is 4)
  --delta D          set the dataset's δ, below 1/n (default 1e-6; set it for more than ~10^5 records)
  --json             print one JSON object on stdout (it holds label names: local only)
  --workspace DIR    the workspace whose .private-fewshot/ledger.jsonl to use (default: the nearest .private-fewshot/
                     above the dataset, else the repository root, else the dataset's folder; see docs/LEDGER.md)
  --text-column C, --label-column C, --unit-column C, --skip-invalid, --dedupe, --max-bytes N
                     how to read the dataset, as for \`inspect\` (n counts privacy units when --unit-column is set)

A run is charged to this dataset when it recorded the same path or the same content hash (see docs/LEDGER.md).
Spent is the budget filter's, valid when each run is chosen after reading earlier outputs; "as planned" is the PLD
composition of the same runs had they all been planned in advance (docs/PRIVACY.md, "The budget filter").`,
  options: {
    ...valueFlags('set-total delta'),
    ...workspaceDatasetOptions,
  },
  async run(values, positionals, io) {
    const file = datasetArg('budget', positionals, 'examples/banking77-sample.csv');
    const epsilon = numberFlag(values, 'set-total', { min: Number.MIN_VALUE });
    const delta = numberFlag(values, 'delta', { min: DELTA_MIN, max: 1 });
    const location = ledgerFor(file, values, io.cwd);
    const root = location.root;
    const ds = await loadDatasetFromFlags(file, values, io.cwd, root);
    const summary = summarize(ds);
    const target = ledgerDatasetOf(ds, summary.units);
    const ledger = cliLedger(root, io.env);
    if (epsilon !== undefined || delta !== undefined) {
      await ledger.setTotal(target, { epsilon, delta });
      noteLedgerCreated(location, io);
    }
    const status = await ledger.status(target, { labels: summary.labels.map((l) => l.label) });
    for (const note of overlapNotes(status)) io.err(note);
    io.out(values.json ? JSON.stringify(status) : formatStatus(status, root, file));
    return 0;
  },
};

const num = formatEpsilon;

function pool(c: { partition: string; label?: string }): string {
  if (c.partition === '*') return 'whole dataset';
  return c.label !== undefined
    ? `label ${printableOneLine(JSON.stringify(c.label))}`
    : `label ${c.partition.slice('label-hash:'.length, 'label-hash:'.length + 8)}… (not in this file)`;
}

function charge(c: ChargeView): string {
  const m = isPoissonGaussian(c)
    ? `Poisson-subsampled Gaussian σ ${num(c.sigma)}, q ${num(c.samplingRate)}, ${c.steps} steps`
    : `Gaussian σ ${num(c.sigma)}, ${c.steps} steps (μ ${num(Math.sqrt(c.steps) / c.sigma)})`;
  return `${pool(c)}: ${m}`;
}

/** How the worst pool's spent ε was found (the budget filter's rule), in words. */
const SPENT_RULES: Record<NonNullable<BudgetStatus['spentRule']>, string> = {
  'lone-run-pld': 'one run: its own exact ε',
  'lone-run-guarantee': '',
  'renyi-filter': 'Rényi budget filter over its runs',
};

export function formatStatus(s: BudgetStatus, root: string, datasetArg = s.dataset.path): string {
  const lines: string[] = [];
  const where = path.relative(root, s.file) || s.file;
  lines.push(`Privacy budget of ${s.dataset.path} (${s.units} records or privacy units; ledger ${where})`);
  const source =
    s.total.source === 'user'
      ? `set at ledger line ${s.total.line}`
      : s.total.source === 'pinned-default'
        ? `default, pinned at ledger line ${s.total.line}`
        : 'default: ε 4, δ 1e-6; pinned at the first run';
  lines.push(`  total:      ε ${num(s.total.epsilon)} at δ ${formatDelta(s.total.delta)} (${source})`);
  const deltaWarning = defaultDeltaWarning(s.total, s.units, datasetArg);
  if (deltaWarning) lines.push(`  warning: ${deltaWarning}`);
  const rule = s.spentRule === null ? '' : SPENT_RULES[s.spentRule];
  lines.push(`  spent:      ε ${num(s.spent)}${s.worst ? ` (worst pool: ${pool(s.worst)}; ${rule})` : ''}`);
  lines.push(
    `  remaining:  ε ${num(Math.max(0, s.remaining))}${s.remaining < 0 ? ` — OVER the total by ${num(-s.remaining)}` : ''} (guaranteed: runs may be chosen after reading earlier outputs)`,
  );
  if (s.runs.length && Math.abs(s.pldIfPlanned - s.spent) > 1e-9 * Math.max(1, s.spent))
    lines.push(
      `  as planned: ε ${num(s.pldIfPlanned)} if all these runs had been planned in advance (PLD composition; not a guarantee for runs chosen one after another)`,
    );
  const unitNote = s.recordedUnits.some((u) => u !== s.privacyUnit)
    ? ` — earlier runs used ${s.recordedUnits
        .filter((u) => u !== s.privacyUnit)
        .map(describeUnit)
        .join(', ')}: runs with this unit are refused`
    : '';
  lines.push(`  privacy unit: ${describeUnit(s.privacyUnit)}${unitNote}`);
  const others = s.matched.paths.filter((p) => p !== s.dataset.path);
  if (others.length) lines.push(`  also counts runs recorded for: ${others.join(', ')} (same or related content)`);
  if (s.runs.length === 0) {
    lines.push('  runs:       none yet');
    return lines.join('\n');
  }
  lines.push(`  runs (${s.runs.length}):`);
  for (const r of s.runs) {
    const eps = r.epsilonRun !== undefined ? `, ε ${num(r.epsilonRun)} alone as planned` : '';
    const state = r.status === 'reserved' ? 'reserved (open or crashed: charged as planned)' : r.status;
    lines.push(`    ${r.time}  ${r.algorithm}  ${state}${eps}  [line ${r.lines.join(', ')}; ${r.id}]`);
    if (r.dataset.path !== s.dataset.path) lines.push(`      recorded for ${r.dataset.path}`);
    if (r.unit !== undefined && r.unit !== s.privacyUnit) lines.push(`      privacy unit: ${describeUnit(r.unit)}`);
    for (const c of r.charges) lines.push(`      ${charge(c)}`);
    if (r.status !== 'reserved' && JSON.stringify(r.charges) !== JSON.stringify(r.planned)) {
      for (const c of r.planned) lines.push(`      planned: ${charge(c)}`);
    }
    if (r.released) lines.push(`      released: sha256 ${r.released.slice(0, 16)}…`);
    if (r.reason) lines.push(`      reason: ${r.reason}`);
  }
  return lines.join('\n');
}
