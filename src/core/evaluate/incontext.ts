/**
 * In-context evaluation of demonstrations (docs/EVALUATE.md): classify each held-out text by prompting the model
 * with a set of demonstrations, and count how often it names the right label — the measure of Tang et al. (ICLR
 * 2024, "Privacy-Preserving In-Context Learning with Differentially Private Few-Shot Generation", Table 3): zero-shot
 * (ε = 0), DP demonstrations, and real training demonstrations (ε = ∞, the non-private reference).
 *
 * Scoring:
 *  - `logprobs` (providers with next-token log-probabilities): constrained greedy decoding over the label set. At each
 *    step the model's top-k next tokens are read, the most likely token that keeps the answer a prefix of some label
 *    (or ends a label with whitespace) is taken, and the labels it rules out are dropped, until one label is left.
 *    Usually one call per text (labels that differ in their first token), one more per shared leading token; at most
 *    `maxSteps` calls, after which the text counts as unanswered. No sampling: the same model gives the same answers.
 *  - `generation` (no log-probabilities, e.g. Anthropic): one greedy completion of at most a few tokens, stopped at
 *    the end of the line; correct when it equals the label exactly after trimming whitespace.
 *
 * Local only, not private: the held-out texts are private; they are sent to the model (as in generation, the
 * provider sees them) and every number here is computed from them without noise.
 */
import { tokenize } from '../providers/builtin/tokenizer';
import type { Provider } from '../providers/types';
import { accuracy, type Accuracy } from './stats';

export interface Demo {
  label: string;
  text: string;
}

export type ConditionKind = 'zero-shot' | 'dp' | 'real';

export interface Condition {
  kind: ConditionKind;
  /** For people: "zero-shot (ε = 0)", "DP demonstrations (ε = 4)", "real demonstrations (ε = ∞, non-private)". */
  name: string;
  /** ε of the demonstrations: 0 for zero-shot, Infinity for real ones, the release's ε for DP ones (when known). */
  epsilon?: number;
  demos: Demo[];
}

export type ScoreMode = 'logprobs' | 'generation';

/** The prompt: an instruction naming the labels, the demonstrations, and the text to classify. */
export function classificationPrompt(labels: readonly string[], demos: readonly Demo[], text: string): string {
  const parts = [`Classify the text into one of these labels: ${labels.join(', ')}.`];
  for (const d of demos) parts.push(`Text: ${oneLine(d.text)}\nLabel: ${d.label}`);
  parts.push(`Text: ${oneLine(text)}\nLabel:`);
  return parts.join('\n\n');
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/**
 * Calls one classification needs at most in `logprobs` mode: the tokens (by the built-in GPT-style tokenizer) that
 * tell the most ambiguous label apart, plus two for tokenizers that cut labels finer; at least 2, at most 12.
 */
export function maxSteps(labels: readonly string[]): number {
  return Math.min(12, Math.max(2, Math.max(...labels.map((l) => tokensToDecide(l, labels))) + 2));
}

/** Tokens of " label" needed before no other label shares the prefix (plus one to end it if it prefixes another). */
export function tokensToDecide(label: string, labels: readonly string[]): number {
  const toks = tokenize(` ${label}`);
  const others = labels.filter((l) => l !== label);
  for (let t = 1; t <= toks.length; t++) {
    const prefix = toks.slice(0, t).join('').trimStart();
    if (!others.some((o) => o.startsWith(prefix))) return t;
  }
  return toks.length + 1;
}

/** The typical calls per classification in `logprobs` mode (the mean of tokensToDecide over the labels). */
export function typicalSteps(labels: readonly string[]): number {
  return labels.reduce((a, l) => a + tokensToDecide(l, labels), 0) / labels.length;
}

/** Classifies one prompt. Returns the label (undefined: no label among the model's answers) and the calls made. */
export async function classify(
  provider: Provider,
  mode: ScoreMode,
  prompt: string,
  labels: readonly string[],
  o: { topK: number; maxSteps: number; maxTokens?: number; signal?: AbortSignal },
): Promise<{ label: string | undefined; calls: number }> {
  if (mode === 'generation') {
    const r = await provider.generate({
      prompt,
      maxTokens: o.maxTokens ?? 16,
      temperature: 0,
      stop: ['\n'],
      signal: o.signal,
    });
    const answer = (r.texts[0] ?? '').split('\n')[0]!.trim();
    return { label: labels.includes(answer) ? answer : undefined, calls: 1 };
  }
  let committed = '';
  let alive = [...labels];
  for (let step = 1; step <= o.maxSteps; step++) {
    const r = await provider.nextTokens({
      prompt,
      continuation: committed,
      topK: o.topK,
      positions: 1,
      signal: o.signal,
    });
    const top = [...(r.steps[0]?.top ?? [])].sort((a, b) => b.logprob - a.logprob);
    let chosen: { token: string; extend: string[]; done: string[] } | undefined;
    for (const t of top) {
      const c = (committed + t.token).trimStart();
      if (c === '') continue;
      const done = alive.filter((l) => c.length > l.length && c.startsWith(l) && /^\s/.test(c.slice(l.length)));
      const extend = alive.filter((l) => l.startsWith(c));
      if (done.length || extend.length) {
        chosen = { token: t.token, extend, done };
        break;
      }
    }
    if (!chosen) {
      // Nothing in the top-k continues a label: a label the answer already spells out in full wins, else no answer.
      const whole = alive.find((l) => l === committed.trim());
      return { label: whole, calls: step };
    }
    if (chosen.done.length) return { label: longest(chosen.done), calls: step };
    if (chosen.extend.length === 1) return { label: chosen.extend[0], calls: step };
    committed += chosen.token;
    alive = chosen.extend;
  }
  return { label: undefined, calls: o.maxSteps };
}

function longest(xs: string[]): string {
  return xs.reduce((a, b) => (b.length > a.length ? b : a));
}

export interface ConditionResult {
  kind: ConditionKind;
  name: string;
  epsilon?: number;
  shots: number;
  overall: Accuracy;
  perLabel: ({ label: string } & Accuracy)[];
  /** Texts for which no label was among the model's answers (counted as wrong). */
  unanswered: number;
}

export interface InContextResult {
  mode: ScoreMode;
  labels: string[];
  /** Held-out rows asked for, and evaluated (fewer when --max-calls stopped the evaluation). */
  rowsPlanned: number;
  rowsEvaluated: number;
  calls: number;
  maxCalls: number;
  stoppedAtCap: boolean;
  conditions: ConditionResult[];
}

export interface InContextOptions {
  provider: Provider;
  mode: ScoreMode;
  labels: string[];
  conditions: Condition[];
  rows: readonly Demo[];
  topK: number;
  maxCalls: number;
  signal?: AbortSignal;
  onProgress?: (p: { rows: number; of: number; calls: number }) => void;
}

/** The bound on calls (and the typical count) for an evaluation, shown before it runs. */
export function callEstimate(
  mode: ScoreMode,
  labels: readonly string[],
  rows: number,
  conditions: number,
): { perClassification: number; maxCalls: number; typicalCalls: number } {
  const per = mode === 'generation' ? 1 : maxSteps(labels);
  const typical = mode === 'generation' ? 1 : typicalSteps(labels);
  return {
    perClassification: per,
    maxCalls: rows * conditions * per,
    typicalCalls: Math.ceil(rows * conditions * typical),
  };
}

/**
 * Runs every condition on every row (rows outer, so a stop at the cap leaves all conditions measured on the same
 * rows). A row starts only when the calls it may need fit under `maxCalls`: the cap is never exceeded.
 */
export async function evaluateInContext(o: InContextOptions): Promise<InContextResult> {
  const steps = o.mode === 'generation' ? 1 : maxSteps(o.labels);
  const perRow = o.conditions.length * steps;
  const correct = o.conditions.map(() => new Map<string, [number, number]>());
  const unanswered = o.conditions.map(() => 0);
  let calls = 0;
  let evaluated = 0;
  let stoppedAtCap = false;
  for (const row of o.rows) {
    if (calls + perRow > o.maxCalls) {
      stoppedAtCap = true;
      break;
    }
    for (const [i, cond] of o.conditions.entries()) {
      o.signal?.throwIfAborted();
      const prompt = classificationPrompt(o.labels, cond.demos, row.text);
      const r = await classify(o.provider, o.mode, prompt, o.labels, {
        topK: o.topK,
        maxSteps: steps,
        signal: o.signal,
      });
      calls += r.calls;
      const cell = correct[i]!.get(row.label) ?? [0, 0];
      cell[0] += r.label === row.label ? 1 : 0;
      cell[1] += 1;
      correct[i]!.set(row.label, cell);
      if (r.label === undefined) unanswered[i]!++;
    }
    evaluated++;
    o.onProgress?.({ rows: evaluated, of: o.rows.length, calls });
  }
  return {
    mode: o.mode,
    labels: o.labels,
    rowsPlanned: o.rows.length,
    rowsEvaluated: evaluated,
    calls,
    maxCalls: o.maxCalls,
    stoppedAtCap,
    conditions: o.conditions.map((c, i) => {
      let k = 0;
      let n = 0;
      for (const [a, b] of correct[i]!.values()) {
        k += a;
        n += b;
      }
      return {
        kind: c.kind,
        name: c.name,
        epsilon: c.epsilon,
        shots: c.demos.length,
        overall: accuracy(k, n),
        perLabel: o.labels.map((label) => {
          const [a, b] = correct[i]!.get(label) ?? [0, 0];
          return { label, ...accuracy(a, b) };
        }),
        unanswered: unanswered[i]!,
      };
    }),
  };
}

/**
 * k real training demonstrations per label (the non-private reference, ε = ∞), drawn uniformly without replacement
 * with `randomInt` (crypto.randomInt in the product; a seeded generator in tests). Grouped by label in label order.
 */
export function realDemos(
  training: readonly Demo[],
  labels: readonly string[],
  shots: number,
  randomInt: (max: number) => number,
): Demo[] {
  const out: Demo[] = [];
  for (const label of labels) {
    const pool = training.filter((e) => e.label === label);
    for (let i = 0; i < Math.min(shots, pool.length); i++) {
      const j = i + randomInt(pool.length - i);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      out.push({ label, text: pool[i]!.text });
    }
  }
  return out;
}
