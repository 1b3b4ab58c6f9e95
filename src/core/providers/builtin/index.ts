/**
 * The built-in offline provider ("builtin"): a deterministic n-gram language model that conditions on its prompt
 * (model.ts) and a hashed n-gram embedder (embed.ts). No network, no key, no cost. It is for trying the tool, not
 * for results of production quality; everything it produces is marked `offline: true`.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { UsageError } from '../../errors';
import type {
  Capabilities,
  GenerateRequest,
  GenerateResult,
  NextTokensRequest,
  NextTokensResult,
  NextTokensStep,
  Provider,
  TokenLogprob,
  Usage,
} from '../types';
import { DEFAULT_EMBED_DIMENSION, embedText, words } from './embed';
import { fillBlanks, findMaskedSample, flattenMessages, sampleText } from './generate';
import {
  BUILTIN_MODEL_ID,
  NgramLanguageModel,
  extendContext,
  nextDistribution,
  prepare,
  topK,
  type ModelOptions,
  type Prepared,
} from './model';
import { requestRandom } from './rng';
import { END_OF_TEXT, tokenize } from './tokenizer';

export { BUILTIN_MODEL_ID } from './model';
export { END_OF_TEXT, tokenize } from './tokenizer';
export { embedText } from './embed';

/** The largest top-k the built-in model returns per position. */
export const BUILTIN_MAX_TOP_K = 50;

export interface BuiltinProviderOptions extends ModelOptions {
  /** Model name; only the built-in model exists (BUILTIN_MODEL_ID; "builtin" or empty are accepted too). */
  model?: string;
  /** Embedding dimension. Default 512. */
  embedDimension?: number;
  /** Mixed into the seed of every generate request, for callers that want a different but reproducible run. */
  seed?: number;
}

export const BUILTIN_NOTES = [
  `Built-in offline model (${BUILTIN_MODEL_ID}): an n-gram model fitted on each prompt plus a small public corpus, mixed with the prompt's topic (its label names and examples), with a hashed n-gram embedder. It runs with no network and no key.`,
  'It is for trying the tool, not for production quality: use a real model (OpenAI-compatible or Anthropic) for demonstrations or synthetic data you intend to keep.',
];

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min)
    throw new UsageError(
      `${name} must be an integer ≥ ${min}, got ${v}`,
      'This is a bug in the caller: pass a valid request.',
    );
}

export function createBuiltinProvider(options: BuiltinProviderOptions = {}): Provider {
  const model =
    options.model === undefined || options.model === '' || options.model === 'builtin'
      ? BUILTIN_MODEL_ID
      : options.model;
  if (model !== BUILTIN_MODEL_ID) {
    throw new UsageError(
      `unknown built-in model "${model}"`,
      `The built-in provider has one model: leave --model out or use --model ${BUILTIN_MODEL_ID}.`,
    );
  }
  let lm: NgramLanguageModel;
  try {
    lm = new NgramLanguageModel(options);
  } catch (e) {
    throw new UsageError(
      `invalid built-in model option: ${(e as Error).message}`,
      'Use the defaults (order 4, prompt weight 10, topic weight 0.1).',
    );
  }
  const dimension = options.embedDimension ?? DEFAULT_EMBED_DIMENSION;
  checkInt('embedDimension', dimension, 8);
  const seed = options.seed ?? 0;
  const usage: Usage = { calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 };

  const capabilities: Capabilities = {
    nextTokenLogprobs: { maxTopK: BUILTIN_MAX_TOP_K, mode: 'native', logitBias: true },
    generate: true,
    embed: true,
    notes: BUILTIN_NOTES,
    server: 'builtin',
    embedDimensions: dimension,
  };

  return {
    kind: 'builtin',
    model,
    offline: true,

    // Every method is async so that a bad request or an aborted signal rejects the promise instead of throwing.
    async capabilities(signal?: AbortSignal): Promise<Capabilities> {
      signal?.throwIfAborted();
      return { ...capabilities, notes: [...capabilities.notes] };
    },

    async nextTokens(req: NextTokensRequest): Promise<NextTokensResult> {
      req.signal?.throwIfAborted();
      checkInt('topK', req.topK, 1);
      checkInt('positions', req.positions, 1);
      const k = Math.min(req.topK, BUILTIN_MAX_TOP_K);
      let prep: Prepared = prepare(lm, req.prompt, req.continuation);
      const inputTokens = prep.tokenCount;
      const steps: NextTokensStep[] = [];
      for (let pos = 0; pos < req.positions; pos++) {
        if (pos > 0) req.signal?.throwIfAborted();
        let top: TokenLogprob[];
        let greedyFull: string;
        if (pos === 0 && req.candidates !== undefined) {
          ({ top, greedyFull } = restrictToCandidates(lm, prep, req.candidates, k));
        } else {
          const ranked = topK(prep.state, nextDistribution(lm, prep), k, prep.partial);
          top = ranked.map((r) => ({ token: r.token, logprob: Math.log(r.prob) }));
          greedyFull = ranked[0]!.full;
        }
        steps.push({ token: top[0]!.token, top });
        // Nothing meaningful follows the end of the text: stop the lookahead there.
        if (greedyFull === END_OF_TEXT) break;
        prep = {
          state: prep.state,
          ctx: extendContext(prep.state, prep.ctx, greedyFull),
          partial: '',
          tokenCount: prep.tokenCount + 1,
        };
      }
      usage.calls++;
      usage.inputTokens += inputTokens;
      usage.outputTokens += steps.length;
      return { steps };
    },

    async generate(req: GenerateRequest): Promise<GenerateResult> {
      req.signal?.throwIfAborted();
      if ((req.prompt === undefined) === (req.messages === undefined)) {
        throw new UsageError(
          'a generate request needs either `prompt` or `messages`, not both and not neither',
          'This is a bug in the caller.',
        );
      }
      const n = req.n ?? 1;
      checkInt('n', n, 1);
      checkInt('maxTokens', req.maxTokens, 0);
      const temperature = req.temperature ?? 1;
      if (!(temperature >= 0 && Number.isFinite(temperature)))
        throw new UsageError(`temperature must be a finite number ≥ 0, got ${temperature}`);
      const stop = req.stop ?? [];
      const { prompt, prefill } =
        req.messages !== undefined ? flattenMessages(req.messages) : { prompt: req.prompt!, prefill: '' };
      const masked = findMaskedSample(prompt);
      const opts = { maxTokens: req.maxTokens, temperature, stop, signal: req.signal };
      const texts: string[] = [];
      let produced = 0;
      for (let i = 0; i < n; i++) {
        if (i > 0) {
          // Let an abort from elsewhere land between completions.
          await yieldToEventLoop();
          req.signal?.throwIfAborted();
        }
        const rand = requestRandom(
          'builtin-generate',
          BUILTIN_MODEL_ID,
          seed,
          prompt,
          prefill,
          temperature,
          req.maxTokens,
          stop,
          i,
        );
        const g =
          masked !== undefined
            ? await fillBlanks(lm, prompt, masked, opts, rand)
            : await sampleText(lm, prompt, prefill, opts, rand);
        texts.push(g.text);
        produced += g.tokens;
      }
      usage.calls++;
      usage.inputTokens += tokenize(prompt + prefill).length;
      usage.outputTokens += produced;
      return { texts };
    },

    async embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
      signal?.throwIfAborted();
      const out = texts.map((t) => embedText(t, dimension));
      usage.calls++;
      for (const t of texts) usage.inputTokens += words(t).length;
      return out;
    },

    usage(): Usage {
      return { ...usage };
    },
  };
}

/**
 * The first position restricted to `candidates` and renormalised over them (what logit_bias on every candidate does
 * on a real API): each candidate gets its raw model probability, a token the model never saw gets the probability of
 * an unseen token. Ordered like topK; at most k are returned.
 */
function restrictToCandidates(
  lm: NgramLanguageModel,
  prep: Prepared,
  candidates: readonly string[],
  k: number,
): { top: TokenLogprob[]; greedyFull: string } {
  const unique = [...new Set(candidates)];
  if (unique.length === 0)
    throw new UsageError('`candidates` is empty', 'Leave `candidates` out, or give at least one token.');
  const { probs, unseen } = lm.rawDistribution(prep.state, prep.ctx);
  const scored = unique.map((c) => {
    const full = prep.partial + c;
    const id = prep.state.id(full);
    return { token: c, full, p: id === undefined ? unseen : probs[id]! };
  });
  let total = 0;
  for (const s of scored) total += s.p;
  scored.sort((a, b) => b.p - a.p || (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
  const top = scored.slice(0, k).map((s) => ({ token: s.token, logprob: Math.log(s.p / total) }));
  return { top, greedyFull: scored[0]!.full };
}
