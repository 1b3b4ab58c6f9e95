/**
 * The response side of the OpenAI-compatible adapter (openai.ts): an answer's shape checked (a JSON object, no error
 * sent with status 200, a list of choices or data), the texts of its choices, the logprob steps of a batched
 * /v1/completions answer, embeddings, and the token usage (as reported, or estimated when the server sends none).
 * See docs/BACKGROUND.md §4.
 */
import { decodeEmbedding } from './embeddings';
import { classifyError, noLogprobsError, type ClassifyContext } from './classify';
import type { ProviderError } from './errors';
import { parseChoiceLogprobs } from './logprobs';
import type { Json } from './openai-shapes';
import type { NextTokensStep } from './types';
import { estimateTokens } from './usage';

export type Endpoint = 'chat' | 'completions' | 'embeddings';

/** Makes the provider's 'malformed-response' error, `what` saying what the server did. */
export type Malformed = (what: string) => ProviderError;

/** Checks an answer of `endpoint`: a JSON object, no error object (some servers send one with status 200), a list. */
export function checkAnswer(
  raw: unknown,
  endpoint: Endpoint,
  o: { malformed: Malformed; ctx: ClassifyContext; texts: readonly string[] },
): Json {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw o.malformed(`answered ${endpoint} with something that is not a JSON object`);
  const json = raw as Json;
  if (json.error !== undefined && json.error !== null) {
    // Some servers send errors with status 200 (and streaming-style error objects).
    const m =
      typeof json.error === 'string'
        ? json.error
        : String((json.error as { message?: unknown }).message ?? 'unknown error');
    throw classifyError({ status: 400, error: json.error, message: m }, o.ctx, o.texts)!;
  }
  const list = endpoint === 'embeddings' ? json.data : json.choices;
  if (!Array.isArray(list))
    throw o.malformed(`answered ${endpoint} without ${endpoint === 'embeddings' ? 'data' : 'choices'}`);
  return json;
}

/** The texts of an answer's choices ('' for a choice without content). */
export function choiceTexts(res: Json, useCompletions: boolean, malformed: Malformed): string[] {
  const choices = res.choices as unknown[];
  return choices.map((c) => {
    const o = (c ?? {}) as { text?: unknown; message?: { content?: unknown } };
    const t = useCompletions ? o.text : o.message?.content;
    if (t === null || t === undefined) return '';
    if (typeof t !== 'string') throw malformed('returned a choice without text');
    return t;
  });
}

/**
 * The steps of each of `count` prompts sent as one list to /v1/completions (choice index = prompt index, or the
 * choices in order when the server sends no index), `positions` steps of k alternatives each.
 */
export function batchSteps(
  res: Json,
  count: number,
  o: { positions: number; k: number; malformed: Malformed; ctx: ClassifyContext },
): { steps: NextTokensStep[] }[] {
  const choices = Array.isArray(res.choices) ? (res.choices as { index?: unknown; logprobs?: unknown }[]) : [];
  return Array.from({ length: count }, (_, i) => {
    const c = choices.find((x) => x?.index === i) ?? (choices.length === count ? choices[i] : undefined);
    if (!c) throw o.malformed(`answered a list of ${count} prompts with ${choices.length} choices`);
    const steps = parseChoiceLogprobs(c.logprobs);
    if (steps === null) throw noLogprobsError(o.ctx, 'the server sent no logprobs for a batched request');
    return { steps: trimSteps(steps, o.positions, o.k) };
  });
}

/** The embeddings of an answer for `count` texts, in the texts' order; all of one length. */
export function parseEmbeddings(res: Json, count: number, malformed: Malformed): Float32Array[] {
  const data = res.data;
  if (!Array.isArray(data) || data.length !== count)
    throw malformed(`returned ${Array.isArray(data) ? data.length : 'no'} embeddings for ${count} texts`);
  const out: (Float32Array | undefined)[] = new Array(count);
  data.forEach((item: unknown, i) => {
    const o = (item ?? {}) as { index?: unknown; embedding?: unknown };
    const idx = typeof o.index === 'number' ? o.index : i;
    const v = decodeEmbedding(o.embedding);
    if (!v || idx < 0 || idx >= count || out[idx])
      throw malformed('returned an embedding that is neither a float array nor base64 float32');
    out[idx] = v;
  });
  const dim = out[0]!.length;
  if (out.some((v) => v!.length !== dim)) throw malformed('returned embeddings of different lengths');
  return out as Float32Array[];
}

/**
 * The usage of one call: the model that answered and its input and output tokens as the server reports them, else
 * estimated from the request's texts and the choices (logprob steps or text), marked `estimated`.
 */
export function usageOf(
  endpoint: Endpoint,
  res: Json,
  body: Json,
  model: string,
): { model: string; input: number; output: number; estimated: boolean } {
  const u = (res.usage ?? {}) as { prompt_tokens?: unknown; completion_tokens?: unknown };
  const answered = typeof res.model === 'string' && res.model ? res.model : model;
  let input = typeof u.prompt_tokens === 'number' ? u.prompt_tokens : undefined;
  let output =
    typeof u.completion_tokens === 'number'
      ? u.completion_tokens
      : endpoint === 'embeddings' && input !== undefined
        ? 0
        : undefined;
  const estimated = input === undefined || output === undefined;
  if (input === undefined) {
    const src = body.messages ?? body.prompt ?? body.input;
    input = estimateTokens(JSON.stringify(src ?? ''));
  }
  if (output === undefined) {
    output = 0;
    for (const c of (res.choices ?? []) as {
      text?: unknown;
      message?: { content?: unknown };
      logprobs?: unknown;
    }[]) {
      const steps = parseChoiceLogprobs(c?.logprobs);
      const text =
        typeof c?.text === 'string' ? c.text : typeof c?.message?.content === 'string' ? c.message.content : '';
      output += steps ? steps.length : estimateTokens(text);
    }
  }
  return { model: answered, input, output, estimated };
}

/**
 * Keeps `positions` steps with k alternatives each, plus the emitted token when it falls outside them (only possible
 * when sampling at logprobTemperature 1), so that `top` always includes `token`.
 */
export function trimSteps(steps: NextTokensStep[], positions: number, k: number): NextTokensStep[] {
  return steps.slice(0, positions).map((s) => {
    const top = s.top.slice(0, k);
    const own = s.top.find((t) => t.token === s.token);
    return { token: s.token, top: own && !top.includes(own) ? [...top, own] : top };
  });
}
