import type { AugPePlan } from './augpe/plan';
import type { FewShotPlan } from './fewshot/plan';
import { DEFAULTS } from './providers/config';
import { DEFAULT_PRICES, priceFor, type PriceTable } from './providers/usage';

/**
 * What a run will ask of a remote model, estimated before it runs, for the plan ("where data goes, before it goes").
 *
 * Calls and completion tokens are upper bounds from public parameters only (labels, shots, T_max, M, count, T, L):
 * they may be shown and said anywhere. Prompt tokens depend on how long the private texts are, so they are estimated
 * from the dataset's mean text length: a **local diagnostic** (shown in the panel, labelled, never exported), and so
 * is the cost, which follows from them.
 */
export interface TrafficEstimate {
  /** Model calls at most (public: from the run's parameters). */
  calls: number;
  /** Completion tokens at most (public). */
  completionTokens: number;
  /** Local diagnostic: prompt tokens, from the private texts' mean length (≈ 4 characters per token). */
  promptTokens: number;
  /** Local diagnostic: USD from the price table, or undefined when the model is not in it (local servers). */
  cost?: number;
}

/** ≈ 4 characters per token, the usual rule of thumb for English BPE vocabularies (OpenAI tokenizer guide). */
const CHARS_PER_TOKEN = 4;
/** Fixed prompt text around the examples (instruction, "Text:"/"Label:" fields), in tokens; a rough public figure. */
const PROMPT_OVERHEAD = 30;

function costOf(model: string, prompt: number, completion: number, prices: PriceTable): number | undefined {
  const p = priceFor(model, prices);
  return p ? (prompt * p.input + completion * p.output) / 1e6 : undefined;
}

/**
 * DP few-shot on a remote model (lookahead 1): every token step of every demonstration sends the M prompts and asks
 * for one token's logprobs, so calls ≤ Σ_labels shots·T_max·M (a demonstration that ends early makes fewer). Each
 * prompt holds about N private examples of mean length ℓ plus the demonstration so far (≤ T_max, T_max/2 on average).
 */
export function fewShotTraffic(
  plan: FewShotPlan,
  meanTextChars: number,
  model: string,
  prices: PriceTable = DEFAULT_PRICES,
): TrafficEstimate {
  const s = plan.settings;
  const steps = plan.labels.reduce((a, l) => a + l.steps, 0);
  const calls = steps * s.prompts;
  const exampleTokens = Math.ceil(meanTextChars / CHARS_PER_TOKEN) + 5;
  const perPrompt = PROMPT_OVERHEAD + s.examplesPerPrompt * exampleTokens + Math.ceil(s.maxTokens / 2);
  const promptTokens = calls * perPrompt;
  const completionTokens = calls;
  return { calls, completionTokens, promptTokens, cost: costOf(model, promptTokens, completionTokens, prices) };
}

/**
 * Aug-PE: the generator writes `completions` texts of at most maxTokens each, from prompts holding public words and
 * (for variations) one synthetic text; the embedder embeds every synthetic text and the private rows once, in
 * batches. The private rows' count and length make the embedding figures a local diagnostic.
 */
export function augPeTraffic(
  plan: AugPePlan,
  meanTextChars: number,
  generatorModel: string,
  embedderModel: string | undefined,
  prices: PriceTable = DEFAULT_PRICES,
): TrafficEstimate {
  const e = plan.estimate;
  const batch = DEFAULTS.embedBatchSize;
  const embedCalls = embedderModel
    ? // Batched per iteration: at most one partial batch more per iteration.
      Math.ceil(e.syntheticEmbeddings / batch) + plan.settings.iterations + Math.ceil(e.privateEmbeddings / batch)
    : 0;
  const calls = e.completions + embedCalls;
  const completionTokens = e.completions * plan.settings.maxTokens;
  const generatePrompt = e.completions * (PROMPT_OVERHEAD + plan.settings.maxTokens);
  const embedTokens = embedderModel
    ? e.syntheticEmbeddings * plan.settings.maxTokens + e.privateEmbeddings * Math.ceil(meanTextChars / CHARS_PER_TOKEN)
    : 0;
  const gen = costOf(generatorModel, generatePrompt, completionTokens, prices);
  const emb = embedderModel ? costOf(embedderModel, embedTokens, 0, prices) : 0;
  return {
    calls,
    completionTokens,
    promptTokens: generatePrompt + embedTokens,
    cost: gen === undefined && emb === undefined ? undefined : (gen ?? 0) + (emb ?? 0),
  };
}
