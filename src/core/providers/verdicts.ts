import { NO_LOGPROBS_FIX } from './classify';
import type { Capabilities } from './types';

/** Which algorithms an endpoint can serve, in words a user can act on (shared by `doctor` and the editor). */
export interface AlgorithmVerdicts {
  dpFewShot: { ok: boolean; detail: string };
  augPe: { ok: boolean; generate: boolean; embed: boolean; detail: string };
}

export const CONTINUATION_MODES: Record<string, string> = {
  completions: 'via /v1/completions',
  'assistant-prefill': 'via chat, continuing a partial assistant message',
  'chat-continuation': 'via chat, continuation asked inside the user turn (lower fidelity than prefill)',
  native: 'computed directly by the model',
};

export function verdicts(caps: Capabilities, offline: boolean): AlgorithmVerdicts {
  const lp = caps.nextTokenLogprobs;
  const suffix = offline ? ' (offline model: for trying the tool, not production quality)' : '';
  const dpFewShot = lp
    ? {
        ok: true,
        detail: `works: top-${lp.maxTopK} next-token logprobs ${CONTINUATION_MODES[lp.mode] ?? lp.mode}${suffix}`,
      }
    : { ok: false, detail: `does not work: this model returns no next-token logprobs. ${NO_LOGPROBS_FIX}` };
  let augPe: AlgorithmVerdicts['augPe'];
  if (caps.generate && caps.embed)
    augPe = {
      ok: true,
      generate: true,
      embed: true,
      detail: `works: generation and embeddings on this endpoint${suffix}`,
    };
  else if (caps.generate)
    augPe = {
      ok: true,
      generate: true,
      embed: false,
      detail:
        'works for generation; the embeddings must come from another embedder (--embedding-model, another endpoint, or the built-in embedder)',
    };
  else if (caps.embed)
    augPe = {
      ok: false,
      generate: false,
      embed: true,
      detail: 'can serve only as the embedder; generation needs another model',
    };
  else augPe = { ok: false, generate: false, embed: false, detail: 'does not work: no generation and no embeddings' };
  return { dpFewShot, augPe };
}
