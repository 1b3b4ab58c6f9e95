import type { Dataset } from '../../core/data';
import { UsageError } from '../../core/errors';
import { readReleased } from '../../core/evaluate/inputs';
import { evaluateRecords, type RecordsResult } from '../../core/evaluate/records';
import { EVALUATION_NOTE } from '../../core/evaluate/report';
import type { SplitParts } from '../../core/evaluate/split';
import type { LedgerLocation } from '../../core/ledger';
import { createProvider } from '../../core/providers';
import { printableOneLine as p } from '../../core/text-safety';
import type { Io, Options } from '../args';
import { onStopSignals } from '../dataset-flags';
import { providerConfigFromFlags } from '../provider-flags';

export const recordsOptions: Options = { records: { type: 'string' } };
export const recordsUsage = `  --records FILE     Aug-PE records (synth --format json or jsonl): a logistic-regression classifier on their
                     embeddings is tested on the held-out part, against one trained on the real training part; and
                     the Fréchet distance between synthetic and real embeddings (FID's formula). The embedder (the
                     --provider's) sees the real training and held-out rows, as in synth`;

export async function evaluateRecordsCommand(
  values: Record<string, unknown>,
  io: Io,
  o: { ds: Dataset; parts: SplitParts; location: LedgerLocation; recordsRef: string },
): Promise<number> {
  const released = readReleased(o.recordsRef, io.cwd, o.location.dir);
  const embedder = createProvider(providerConfigFromFlags(values, io.env, 'builtin'));
  const caps = await embedder.capabilities();
  if (!caps.embed)
    throw new UsageError(
      `${embedder.kind}/${embedder.model} does not embed`,
      'Use --provider builtin or an OpenAI-compatible server with an embedding model.',
    );
  const pick = (rows: Dataset['examples']) => rows.map((e) => ({ label: e.label, text: e.text }));
  const training = pick(o.parts.training).filter((r) => released.labels.includes(r.label));
  const heldOut = pick(o.parts.heldOut).filter((r) => released.labels.includes(r.label));
  if (heldOut.length === 0 || training.length === 0)
    throw new UsageError(
      `the split of ${o.ds.file} has no ${heldOut.length === 0 ? 'held-out' : 'training'} row with a label of the records`,
      'Evaluate records written for labels of this dataset.',
    );
  const plan = `Evaluation plan (${EVALUATION_NOTE})
  embed ${released.items.length} synthetic, ${training.length} training and ${heldOut.length} held-out texts with ${embedder.kind}/${embedder.model}${embedder.offline ? ' (built-in embedder, on this machine: low accuracy expected)' : ' (real rows go to this embedder, as in synth)'}; then fit two logistic regressions`;
  if (values['dry-run']) {
    io.out(plan);
    return 0;
  }
  io.err(plan);
  const controller = new AbortController();
  const stop = onStopSignals(() => controller.abort());
  let r: RecordsResult;
  try {
    r = await evaluateRecords({ embedder, records: released.items, training, heldOut, signal: controller.signal });
  } finally {
    stop();
  }
  const report = { note: EVALUATION_NOTE, dataset: o.ds.file, records: released.source, ...r, usage: embedder.usage() };
  io.out(values.json ? JSON.stringify({ localOnlyNotPrivate: report }) : formatRecords(report));
  return 0;
}

const pct = (x: number) => (Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)}%`);

export function formatRecords(r: RecordsResult & { note: string; dataset: string }): string {
  const f = (x: number) => Number(x.toPrecision(4));
  return [
    `Records evaluation of ${p(r.dataset)} on its held-out split — ${r.note}`,
    `embedder ${r.embedder.kind}/${r.embedder.model}${r.embedder.offline ? ' (built-in: low accuracy expected)' : ''}; ${r.sizes.synthetic} synthetic, ${r.sizes.training} training, ${r.sizes.heldOut} held-out rows; ${r.labels.length} labels (chance ${pct(r.chance)})`,
    'logistic regression on embeddings, tested on the held-out rows: accuracy [95% CI, Wilson]',
    ...r.conditions.map(
      (c) => `  ${c.name}: ${pct(c.overall.accuracy)} [${pct(c.overall.low)}, ${pct(c.overall.high)}]`,
    ),
    `Fréchet distance² in embedding space (FID's formula; lower is closer): synthetic ↔ training ${f(r.frechet.syntheticToTraining)}; held-out ↔ training ${f(r.frechet.heldOutToTraining)} (two real samples, for scale)`,
  ].join('\n');
}
