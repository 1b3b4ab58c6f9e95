import { AnthropicProvider } from './anthropic';
import { createBuiltinProvider } from './builtin';
import { checkConfig, type ProviderConfig } from './config';
import { OpenAICompatibleProvider } from './openai';
import type { Provider } from './types';
import { yieldingProvider } from './yielding';

export type * from './types';
export {
  type ProviderConfig,
  type ProviderKind,
  PROVIDER_KINDS,
  DEFAULTS,
  checkConfig,
  isHostedOpenAI,
} from './config';
export { ProviderError, isAbortError, type ProviderErrorCode } from './errors';
export { apiKeyFromEnv, keyHint, KEY_ENV_VARS } from './keys';
export { DEFAULT_PRICES, loadPriceTable, priceFor, type Price, type PriceTable } from './usage';
export { defaultProbeCache, type ProbeCache } from './probe';
export { NO_LOGPROBS_FIX } from './classify';
export { OpenAICompatibleProvider } from './openai';
export { AnthropicProvider } from './anthropic';

/**
 * The one way to get a Provider. `openai` covers every OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama,
 * LM Studio: set `baseURL`), `azure` the Azure OpenAI service, `anthropic` the Messages API, `builtin` the offline
 * model. Validates the config (UsageError naming the field) but sends nothing: the first request or
 * `capabilities()` talks to the server.
 */
export function createProvider(config: ProviderConfig): Provider {
  checkConfig(config);
  switch (config.kind) {
    case 'openai':
    case 'azure':
      return new OpenAICompatibleProvider(config);
    case 'anthropic':
      return new AnthropicProvider(config);
    case 'builtin':
      // In-process and synchronous: yield to the event loop before each call, so Cancel and SIGINT are handled.
      return yieldingProvider(createBuiltinProvider({ model: config.model }));
  }
}
