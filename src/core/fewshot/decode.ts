import { ProviderError } from '../providers/errors';
import { isRequestRefusal, settleNextTokens } from '../providers/refusal';
import type { NextTokensStep, Provider } from '../providers/types';
import { noisyArgmax, restrictToCandidates } from './aggregate';
import { buildPrompt, endOfDemonstration, publicPrompt, type PromptFormat } from './prompt';
import type { Bits32 } from '../runs/random';
import type { PoolUnit } from '../runs/pools';
import { samplePrompts } from './sample';

export interface DecodeStats {
  /** Prompt distributions requested from the model (several may share one HTTP request when batched). */
  queries: number;
  /** Sequential waves of requests (all requests of a wave run in parallel). */
  roundTrips: number;
  /** Tokens released. */
  tokens: number;
  /** Distributions served from the speculation cache instead of a request. */
  reused: number;
  /**
   * Private prompts that voted the zero vector because the server refused them (or failed on them while it answered
   * the public prompt). Local diagnostic only: it depends on the private data and is never released.
   */
  refused?: number;
}

export interface DecodeOptions {
  provider: Provider;
  format: PromptFormat;
  label: string;
  /** The label's pool of private units. */
  pool: readonly PoolUnit[];
  /** M: prompts per token. */
  prompts: number;
  /** q: Poisson inclusion probability per unit and token. */
  samplingRate: number;
  /** σ: noise multiplier (noise std on the mean is σ·√2/M). */
  sigma: number;
  /** T_max: token budget of one demonstration (accounted in full whatever the realised length). */
  maxTokens: number;
  /** K: size of the public candidate set. */
  topK: number;
  /**
   * Speculative lookahead: each request returns this many positions of its prompt's own greedy continuation; a
   * later step whose prompt text and released prefix follow that path reuses them. 1 = one token at a time. The
   * released text is identical for every value.
   */
  lookahead: number;
  /**
   * How many future steps' prompts (their Poisson samples drawn ahead from the same stream, in the same order) to
   * query in the same wave, at the current prefix. Fewer round trips, more requests: worth it when requests are
   * cheap or batched. Default 0. Never more than lookahead − 1 (a prompt for step t+k needs k+1 positions).
   */
  prefetch?: number;
  /** Randomness for the Poisson samples and prompt assignment (its own stream). */
  sampling: Bits32;
  /** Draws one N(0, std²) value from the noise stream. */
  noise: (std: number) => number;
  signal?: AbortSignal;
  stats: DecodeStats;
  /** Called after each released token with the demonstration so far. */
  onToken?: (text: string, tokens: number) => void;
}

export interface DecodeResult {
  text: string;
  /** Token steps that ran (each one is a privacy step, also the last one that ended the text). */
  steps: number;
  stop: 'end' | 'max-tokens';
}

interface CacheEntry {
  /** The continuation the request was made at. */
  base: string;
  steps: NextTokensStep[];
}

/** Speculation cache: a prompt's greedy path from a base continuation, reusable while the release follows it. */
class Speculation {
  private readonly entries = new Map<string, CacheEntry[]>();

  lookup(prompt: string, continuation: string): NextTokensStep | undefined {
    for (const e of this.entries.get(prompt) ?? []) {
      if (!continuation.startsWith(e.base)) continue;
      let at = e.base;
      for (let k = 0; k < e.steps.length; k++) {
        if (at === continuation) return e.steps[k];
        at += e.steps[k]!.token;
        if (!continuation.startsWith(at)) break;
      }
    }
    return undefined;
  }

  add(prompt: string, base: string, steps: NextTokensStep[]): void {
    const list = this.entries.get(prompt) ?? [];
    list.push({ base, steps });
    this.entries.set(prompt, list);
  }

  /** Drops entries whose greedy path has left `continuation` or ends at it (no position left to serve). */
  prune(continuation: string): void {
    for (const [prompt, list] of this.entries) {
      const keep = list.filter((e) => {
        const full = e.base + e.steps.map((s) => s.token).join('');
        return continuation.startsWith(e.base) && full.startsWith(continuation) && full.length > continuation.length;
      });
      if (keep.length) this.entries.set(prompt, keep);
      else this.entries.delete(prompt);
    }
  }
}

/**
 * Writes one demonstration token by token with the DP aggregator. At each step: a fresh Poisson sample builds M
 * prompts (an empty prompt falls back to the public zero-shot prompt), the public prompt's top-K tokens form the
 * candidate set, each private distribution is restricted to it, and the noisy argmax picks the token.
 */
export async function decodeDemonstration(o: DecodeOptions): Promise<DecodeResult> {
  const pub = publicPrompt(o.format, o.label);
  const cache = new Speculation();
  const lookahead = Math.max(1, Math.floor(o.lookahead));
  const prefetch = Math.min(lookahead - 1, Math.max(0, Math.floor(o.prefetch ?? 0)));
  const samples: string[][] = []; // prompt texts per step, drawn in step order
  const promptsAt = (step: number): string[] => {
    while (samples.length <= step) {
      const groups = samplePrompts(o.sampling, o.pool, o.samplingRate, o.prompts);
      samples.push(groups.map((g) => (g.length ? buildPrompt(o.format, o.label, g) : pub)));
    }
    return samples[step]!;
  };

  let text = '';
  for (let t = 0; t < o.maxTokens; t++) {
    o.signal?.throwIfAborted();
    const needed = new Set([pub, ...promptsAt(t)]);
    const missing = [...needed].filter((p) => !cache.lookup(p, text));
    /** Prompts of this wave that failed with a settleable error (their outcome for this step). */
    const failed = new Map<string, ProviderError>();
    const answeredPub = missing.includes(pub);
    if (missing.length) {
      // One wave: everything this step lacks, plus (with prefetch) the prompts of the next steps, all at the current
      // continuation, each returning `lookahead` positions of its greedy path.
      const wave = new Set(missing);
      for (let s = t + 1; s <= Math.min(o.maxTokens - 1, t + prefetch); s++)
        for (const p of promptsAt(s)) if (!cache.lookup(p, text)) wave.add(p);
      const prompts = [...wave];
      o.stats.roundTrips++;
      o.stats.queries += prompts.length;
      const reqs = prompts.map((prompt) => ({
        prompt,
        continuation: text,
        topK: o.topK,
        positions: lookahead,
        signal: o.signal,
      }));
      const results = await settleNextTokens(o.provider, reqs);
      prompts.forEach((p, i) => {
        const r = results[i]!;
        if (r instanceof ProviderError) failed.set(p, r);
        else cache.add(p, text, r.steps);
      });
    }
    o.stats.reused += needed.size - missing.length;

    // The public prompt holds no private data: its failure stops the run (and names the server, never a prompt).
    const pubFailure = failed.get(pub);
    if (pubFailure) throw publicFailure(pubFailure);
    const pubStep = cache.lookup(pub, text);
    const candidates = dedupeTokens(pubStep?.top.map((x) => x.token) ?? []).slice(0, o.topK);
    if (candidates.length === 0) throw new Error('the public prompt returned no candidate tokens');
    // A private prompt the server refused (or failed on after the retries) votes the zero vector: the mean's L2
    // sensitivity √2/M still holds (see restrictToCandidates), and whether prompt i is refused depends on prompt i
    // alone (a refused list was split until it stood alone), so no other prompt's vote changes with it.
    let serverInDoubt = false;
    const dists = promptsAt(t).map((p) => {
      const step = cache.lookup(p, text);
      if (step) return restrictToCandidates(step.top, candidates);
      const e = failed.get(p);
      if (e && !isRequestRefusal(e)) serverInDoubt = true;
      o.stats.refused = (o.stats.refused ?? 0) + 1;
      return new Float64Array(candidates.length);
    });
    // A timeout or 5xx on private prompts only may be the server going down rather than those prompts: ask the public
    // prompt again (unless it was just answered in this wave); if that fails too, the run stops on its error.
    if (serverInDoubt && !answeredPub) {
      try {
        const r = await o.provider.nextTokens({
          prompt: pub,
          continuation: text,
          topK: o.topK,
          positions: lookahead,
          signal: o.signal,
        });
        o.stats.queries++;
        cache.add(pub, text, r.steps);
      } catch (e) {
        throw e instanceof ProviderError ? publicFailure(e) : e;
      }
    }
    const chosen = candidates[noisyArgmax(dists, o.prompts, o.sigma, o.noise)]!;
    o.stats.tokens++;
    const end = endOfDemonstration(chosen);
    text += end.keep;
    o.onToken?.(text, t + 1);
    if (end.ends) return { text: text.trim(), steps: t + 1, stop: 'end' };
    cache.prune(text);
  }
  return { text: text.trim(), steps: o.maxTokens, stop: 'max-tokens' };
}

/** The public prompt's failure as the run's error (its request holds no private data, so its message may be shown). */
function publicFailure(e: ProviderError): ProviderError {
  return new ProviderError(e.code, `the public prompt's request failed: ${e.message}`, e.hint, e.details);
}

function dedupeTokens(tokens: string[]): string[] {
  return [...new Set(tokens)];
}
