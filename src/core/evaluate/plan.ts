/**
 * The plan of an in-context evaluation, shared by the CLI (`evaluate --demos`) and the editor's Evaluate panel: the
 * held-out rows, the three conditions, the scoring mode and the calls, tokens and cost before anything is sent.
 */
import { randomInt } from 'node:crypto';
import type { Dataset } from '../data';
import { UsageError } from '../errors';
import { DEFAULT_PRICES, priceFor } from '../providers/usage';
import { estimateTokens } from '../providers/usage';
import type { Provider } from '../providers/types';
import { printableOneLine as p } from '../text-safety';
import { callEstimate, classificationPrompt, realDemos, type Condition, type Demo, type ScoreMode } from './incontext';
import { readReleased, type ReleasedSet } from './inputs';
import { EVALUATION_NOTE } from './report';
import { heldOutPart } from './split';

export const DEFAULT_MAX_CALLS = 2000;

export interface InContextPlan {
  /** The demonstration sets, one DP condition each (several: accuracy against ε), in ascending ε. */
  released: ReleasedSet[];
  labels: string[];
  rows: Demo[];
  conditions: Condition[];
  mode: ScoreMode;
  topK: number;
  maxCalls: number;
  view: {
    rows: number;
    conditions: string[];
    mode: ScoreMode;
    typicalCalls: number;
    maxCallsNeeded: number;
    maxCalls: number;
    rowsWithinCap: number;
    inputTokens: number;
    costUSD: number | null;
  };
  /** The plan for people, first line labelled local only. */
  lines: string[];
}

export async function planInContext(o: {
  ds: Dataset;
  ledgerDir: string;
  /** One or more releases or run ids (several runs: one DP condition each). */
  ref: string | string[];
  cwd: string;
  provider: Provider;
  score?: 'auto' | ScoreMode;
  rows?: number;
  realShots?: number;
  topK?: number;
  maxCalls?: number;
}): Promise<InContextPlan> {
  const { parts } = heldOutPart(o.ds, o.ledgerDir);
  const refs = Array.isArray(o.ref) ? o.ref : [o.ref];
  if (refs.length === 0) throw new UsageError('no demonstrations to evaluate', 'Give a release file or a run id.');
  // Ascending ε, unknown ε last (stable otherwise): the conditions read as accuracy against ε.
  const key = (r: ReleasedSet) => r.epsilon ?? Number.POSITIVE_INFINITY;
  const released = refs.map((r) => readReleased(r, o.cwd, o.ledgerDir)).sort((a, b) => key(a) - key(b));
  const labels = [...new Set(released.flatMap((r) => r.labels))];
  const eligible = parts.heldOut.filter((e) => labels.includes(e.label));
  const rows = eligible.slice(0, o.rows ?? eligible.length).map((e) => ({ label: e.label, text: e.text }));
  if (rows.length === 0)
    throw new UsageError(
      `no held-out row of ${o.ds.file} has a label of the demonstrations (${labels.slice(0, 3).map(p).join(', ')}${labels.length > 3 ? ', …' : ''})`,
      'Evaluate demonstrations written for labels of this dataset.',
    );
  const perLabel = Math.max(...released.flatMap((r) => labels.map((l) => r.items.filter((d) => d.label === l).length)));
  const realShots = o.realShots ?? perLabel;
  const training = parts.training.map((e) => ({ label: e.label, text: e.text }));
  const eps = (r: ReleasedSet) =>
    r.epsilon === undefined ? 'ε of the run' : `ε = ${Number(r.epsilon.toPrecision(3))}`;
  const conditions: Condition[] = [
    { kind: 'zero-shot', name: 'zero-shot (ε = 0)', epsilon: 0, demos: [] },
    ...released.map((r): Condition => ({
      kind: 'dp',
      name: released.length > 1 ? `DP, ${eps(r)} (${r.source})` : `DP demonstrations (${eps(r)})`,
      epsilon: r.epsilon,
      demos: r.items,
    })),
    {
      kind: 'real',
      name: `${realShots} real per label (ε = ∞, non-private)`,
      epsilon: Number.POSITIVE_INFINITY,
      demos: realDemos(training, labels, realShots, (n) => randomInt(n)),
    },
  ];
  const provider = o.provider;
  const caps = await provider.capabilities();
  const score = o.score ?? 'auto';
  const mode: ScoreMode = score === 'auto' ? (caps.nextTokenLogprobs ? 'logprobs' : 'generation') : score;
  if (mode === 'logprobs' && !caps.nextTokenLogprobs)
    throw new UsageError(
      `${provider.kind}/${provider.model} returns no log-probabilities`,
      'Use --score generation (or auto).',
    );
  if (mode === 'generation' && !caps.generate)
    throw new UsageError(`${provider.kind}/${provider.model} cannot generate text`, 'Use a model that can.');
  const topK = Math.min(o.topK ?? 20, caps.nextTokenLogprobs?.maxTopK ?? 20);
  const maxCalls = o.maxCalls ?? DEFAULT_MAX_CALLS;
  const est = callEstimate(mode, labels, rows.length, conditions.length);
  const avgChars = rows.reduce((a, r) => a + r.text.length, 0) / rows.length;
  const perRowTokens = conditions.reduce(
    (a, c) => a + estimateTokens(classificationPrompt(labels, c.demos, 'x'.repeat(Math.round(avgChars)))),
    0,
  );
  const inputTokens = (perRowTokens / conditions.length) * est.typicalCalls;
  const price = priceFor(provider.model, DEFAULT_PRICES);
  const costUSD = provider.offline
    ? 0
    : price
      ? (inputTokens * price.input + est.typicalCalls * price.output) / 1e6
      : null;
  const view = {
    rows: rows.length,
    conditions: conditions.map((c) => c.name),
    mode,
    typicalCalls: est.typicalCalls,
    maxCallsNeeded: est.maxCalls,
    maxCalls,
    rowsWithinCap: Math.min(rows.length, Math.floor(maxCalls / (conditions.length * est.perClassification))),
    inputTokens: Math.round(inputTokens),
    costUSD,
  };
  const lines = [
    `Evaluation plan (${EVALUATION_NOTE})`,
    `${view.rows} held-out rows of ${labels.length} label(s) × ${conditions.length} conditions: ${view.conditions.join('; ')}`,
    `model ${provider.kind}/${provider.model}${provider.offline ? ' (built-in offline model: its accuracy is low; for trying the loop)' : ''}, scoring by ${mode === 'logprobs' ? `next-token log-probabilities (constrained greedy over the labels, top-${topK})` : 'greedy generation and exact match'}`,
    `calls: about ${view.typicalCalls}, at most ${view.maxCallsNeeded} (cap ${maxCalls}${view.rowsWithinCap < view.rows ? `: only the first ${view.rowsWithinCap} rows fit` : ''}); ≈${view.inputTokens} input tokens; cost ${costUSD === null ? 'unknown (model not in the price table)' : `≈ $${costUSD.toFixed(2)}`}`,
  ];
  return { released, labels, rows, conditions, mode, topK, maxCalls, view, lines };
}
