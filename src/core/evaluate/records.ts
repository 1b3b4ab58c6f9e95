/**
 * Fixture utility of synthetic records (`evaluate --records`, docs/EVALUATE.md): a small classifier (logreg.ts) on
 * embeddings, trained once on the synthetic records and once on the real training part, both tested on the held-out
 * part — the measure of Aug-PE (Xie et al., ICML 2024, Tables 1–2) — plus the Fréchet distance (frechet.ts) between the
 * synthetic and the real training embeddings, with the distance between the held-out and the training embeddings
 * (two real samples) as its scale.
 *
 * Local only, not private: real rows (training and held-out) are embedded — by the embedder that `synth` already
 * sends private rows to — and every number is computed from them without noise.
 */
import type { Provider } from '../providers/types';
import { frechetDistance } from './frechet';
import type { Demo } from './incontext';
import { fitLogReg, predictLogReg } from './logreg';
import { accuracy, type Accuracy } from './stats';

/** At most this many embeddings per set enter the Fréchet distance (evenly spaced): its cost grows as n³. */
export const FRECHET_MAX = 400;
const BATCH = 128;

export interface RecordsResult {
  labels: string[];
  sizes: { synthetic: number; training: number; heldOut: number };
  chance: number;
  conditions: {
    kind: 'synthetic' | 'real';
    name: string;
    overall: Accuracy;
    perLabel: ({ label: string } & Accuracy)[];
  }[];
  frechet: { syntheticToTraining: number; heldOutToTraining: number; embeddings: number };
  embedder: { kind: string; model: string; offline: boolean };
}

async function embedAll(p: Provider, texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += BATCH) {
    signal?.throwIfAborted();
    out.push(...(await p.embed(texts.slice(i, i + BATCH), signal)));
  }
  return out;
}

function spaced<T>(xs: T[], max: number): T[] {
  if (xs.length <= max) return xs;
  return Array.from({ length: max }, (_, i) => xs[Math.floor((i * xs.length) / max)]!);
}

export async function evaluateRecords(o: {
  embedder: Provider;
  records: Demo[];
  training: Demo[];
  heldOut: Demo[];
  signal?: AbortSignal;
}): Promise<RecordsResult> {
  const labels = [...new Set(o.records.map((r) => r.label))];
  const training = o.training.filter((r) => labels.includes(r.label));
  const heldOut = o.heldOut.filter((r) => labels.includes(r.label));
  const [es, et, eh] = [
    await embedAll(
      o.embedder,
      o.records.map((r) => r.text),
      o.signal,
    ),
    await embedAll(
      o.embedder,
      training.map((r) => r.text),
      o.signal,
    ),
    await embedAll(
      o.embedder,
      heldOut.map((r) => r.text),
      o.signal,
    ),
  ];
  const truth = heldOut.map((r) => r.label);
  const score = (kind: 'synthetic' | 'real', name: string, x: Float32Array[], y: string[]) => {
    const predicted = predictLogReg(fitLogReg(x, y), eh);
    const hits = predicted.map((p, i) => p === truth[i]);
    return {
      kind,
      name,
      overall: accuracy(hits.filter(Boolean).length, hits.length),
      perLabel: labels.map((label) => {
        const idx = truth.flatMap((t, i) => (t === label ? [i] : []));
        return { label, ...accuracy(idx.filter((i) => hits[i]).length, idx.length) };
      }),
    };
  };
  return {
    labels,
    sizes: { synthetic: es.length, training: et.length, heldOut: eh.length },
    chance: 1 / labels.length,
    conditions: [
      score(
        'synthetic',
        'trained on the synthetic records',
        es,
        o.records.map((r) => r.label),
      ),
      score(
        'real',
        'trained on the real training part (non-private reference)',
        et,
        training.map((r) => r.label),
      ),
    ],
    frechet: {
      syntheticToTraining: frechetDistance(spaced(es, FRECHET_MAX), spaced(et, FRECHET_MAX)),
      heldOutToTraining: frechetDistance(spaced(eh, FRECHET_MAX), spaced(et, FRECHET_MAX)),
      embeddings: FRECHET_MAX,
    },
    embedder: { kind: o.embedder.kind, model: o.embedder.model, offline: o.embedder.offline },
  };
}
