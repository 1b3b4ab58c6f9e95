import type { NextTokensStep, TokenLogprob } from './types';

/**
 * Parsing of the logprob shapes OpenAI-compatible servers return (see docs/BACKGROUND.md §4):
 * - chat shape `logprobs.content[]` of {token, logprob, top_logprobs:[{token, logprob}]}: OpenAI, Azure, vLLM chat,
 *   llama.cpp (chat AND /v1/completions, entries carry an extra `id`), Ollama /v1/chat/completions;
 * - legacy shape `{tokens[], token_logprobs[], top_logprobs[{token: logprob}] | null}`: OpenAI and vLLM
 * /v1/completions.
 * Values that mean "not in the top list" (-9999 from OpenAI/vLLM, -3.4e38 from llama.cpp, null, -Infinity) are
 * treated as absent and dropped. Returns null when the structure is not a logprob object at all.
 */

/** -9999 (OpenAI, vLLM) and -3.4028234663852886e+38 (llama.cpp) mean "absent", not a probability. */
export function isAbsentLogprob(x: unknown): boolean {
  return typeof x !== 'number' || !Number.isFinite(x) || x <= -9999;
}

/** log(Σ exp(xᵢ)), stable. */
export function logSumExp(xs: readonly number[]): number {
  const m = Math.max(...xs);
  if (!Number.isFinite(m)) return m;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/**
 * Cleans one top list: drops absent values, merges entries whose token strings coincide (two token ids that decode
 * to the same text: their probabilities add, log-sum-exp), caps at 0 (float noise can give +1e-7), sorts by
 * logprob descending (ties keep server order).
 */
export function normalizeTop(entries: readonly { token: unknown; logprob: unknown }[]): TokenLogprob[] {
  const byToken = new Map<string, number[]>();
  const order: string[] = [];
  for (const e of entries) {
    if (typeof e.token !== 'string' || isAbsentLogprob(e.logprob)) continue;
    const list = byToken.get(e.token);
    if (list) list.push(e.logprob as number);
    else {
      byToken.set(e.token, [e.logprob as number]);
      order.push(e.token);
    }
  }
  const out = order.map((token) => {
    const lps = byToken.get(token)!;
    return { token, logprob: Math.min(0, lps.length === 1 ? lps[0]! : logSumExp(lps)) };
  });
  return out
    .map((e, i) => ({ e, i }))
    .sort((a, b) => b.e.logprob - a.e.logprob || a.i - b.i)
    .map((x) => x.e);
}

function step(token: unknown, logprob: unknown, top: TokenLogprob[]): NextTokensStep | null {
  if (typeof token !== 'string') return null;
  const own = !isAbsentLogprob(logprob) ? { token, logprob: Math.min(0, logprob as number) } : undefined;
  if (own && !top.some((t) => t.token === token)) {
    top = normalizeTop([...top, own]);
  }
  // An entry with neither its own logprob nor alternatives carries no distribution (vLLM's trailing EOS entry).
  if (top.length === 0) return null;
  return { token, top };
}

/** Chat-shape `content[]` (also llama.cpp /v1/completions and Ollama). */
export function parseContentLogprobs(content: unknown): NextTokensStep[] | null {
  if (!Array.isArray(content)) return null;
  const steps: NextTokensStep[] = [];
  for (const entry of content) {
    if (typeof entry !== 'object' || entry === null) return null;
    const e = entry as { token?: unknown; logprob?: unknown; top_logprobs?: unknown };
    const tops = Array.isArray(e.top_logprobs)
      ? (e.top_logprobs as { token: unknown; logprob: unknown }[]).filter((t) => typeof t === 'object' && t !== null)
      : [];
    const s = step(e.token, e.logprob, normalizeTop(tops));
    if (s === null) break; // stop at the first entry without a distribution (end of text)
    steps.push(s);
  }
  return steps;
}

/** Legacy completions shape: parallel arrays, top lists as {token: logprob} dicts (key order means nothing). */
export function parseLegacyLogprobs(lp: unknown): NextTokensStep[] | null {
  if (typeof lp !== 'object' || lp === null) return null;
  const {
    tokens,
    token_logprobs: tokenLps,
    top_logprobs: tops,
  } = lp as { tokens?: unknown; token_logprobs?: unknown; top_logprobs?: unknown };
  if (!Array.isArray(tokens)) return null;
  const steps: NextTokensStep[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const dict: unknown = Array.isArray(tops) ? tops[i] : undefined;
    const entries =
      typeof dict === 'object' && dict !== null
        ? Object.entries(dict as Record<string, unknown>).map(([token, logprob]) => ({ token, logprob }))
        : [];
    const s = step(tokens[i], Array.isArray(tokenLps) ? tokenLps[i] : undefined, normalizeTop(entries));
    if (s === null) break;
    steps.push(s);
  }
  return steps;
}

/**
 * The steps from a choice's `logprobs` field, whatever its shape. null when the field is absent/null or has no
 * entries with alternatives (Ollama's /v1/completions drops logprobs; a reasoning model returns none).
 */
export function parseChoiceLogprobs(logprobs: unknown): NextTokensStep[] | null {
  if (typeof logprobs !== 'object' || logprobs === null) return null;
  const o = logprobs as { content?: unknown; tokens?: unknown };
  if (Array.isArray(o.content)) return parseContentLogprobs(o.content);
  if (Array.isArray(o.tokens)) return parseLegacyLogprobs(o);
  return null;
}

/** Keeps only `candidates` in a top list (when logit_bias cannot enforce them). */
export function restrictTop(top: readonly TokenLogprob[], candidates: readonly string[]): TokenLogprob[] {
  const set = new Set(candidates);
  return top.filter((t) => set.has(t.token));
}

/**
 * How many alternatives the server put on the wire at its widest position (absent values included): what the
 * capability probe measures, so that a cap (Azure's 5) shows while a model with few likely tokens does not.
 */
export function rawTopWidth(logprobs: unknown): number {
  if (typeof logprobs !== 'object' || logprobs === null) return 0;
  const o = logprobs as { content?: unknown; top_logprobs?: unknown };
  let w = 0;
  if (Array.isArray(o.content)) {
    for (const e of o.content) {
      const t = (e as { top_logprobs?: unknown } | null)?.top_logprobs;
      if (Array.isArray(t)) w = Math.max(w, t.length);
    }
  } else if (Array.isArray(o.top_logprobs)) {
    for (const d of o.top_logprobs) if (typeof d === 'object' && d !== null) w = Math.max(w, Object.keys(d).length);
  }
  return w;
}
