import { NO_LOGPROBS_FIX } from './classify';
import { ProviderError } from './errors';
import type { Provider } from './types';

/**
 * `nextTokens` and `embed` of a generate-only model (Anthropic's Messages API, the editor's language models): no
 * next-token logprobs for DP few-shot, no embeddings for Aug-PE. `what` words the two refusals for this model.
 */
export function generateOnly(
  provider: string,
  what: () => { logprobs: string; embeddings: string },
): Pick<Provider, 'nextTokens' | 'embed'> {
  return {
    nextTokens: () => Promise.reject(new ProviderError('no-logprobs', what().logprobs, NO_LOGPROBS_FIX, { provider })),
    embed: () =>
      Promise.reject(
        new ProviderError(
          'no-embeddings',
          what().embeddings,
          'For Aug-PE, use an OpenAI-compatible embedding model or the built-in embedder as the embedder.',
          { provider },
        ),
      ),
  };
}
