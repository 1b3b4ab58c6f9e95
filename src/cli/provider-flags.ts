import { UsageError } from '../core/errors';
import { apiKeyFromEnv, PROVIDER_KINDS, type ProviderConfig, type ProviderKind } from '../core/providers';
import { numberFlag, stringFlag, type Options, valueFlags } from './args';

/** The provider flags shared by the commands that call a model. */
export const providerOptions: Options = {
  ...valueFlags('provider model base-url timeout-ms concurrency'),
};

export const providerUsage = `  --provider P       builtin (the offline model, default), openai (any OpenAI-compatible server: OpenAI, vLLM,
                     llama.cpp, Ollama ≥ 0.12.11), azure, anthropic
  --model M          the model id (Azure: the deployment). Not needed for builtin
  --base-url URL     e.g. http://127.0.0.1:8000/v1 (vLLM), http://127.0.0.1:11434/v1 (Ollama)
  --timeout-ms N     per-request timeout (default 60000)
  --concurrency N    requests in flight at once (default 4; 16 for a server on this machine)
  Keys come from PRIVATE_FEWSHOT_API_KEY, OPENAI_API_KEY or ANTHROPIC_API_KEY, never from flags.`;

/** Builds a ProviderConfig from flags and the environment (keys only from the environment). */
export function providerConfigFromFlags(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  defaultKind: ProviderKind,
): ProviderConfig {
  const kind = (stringFlag(values, 'provider') ?? defaultKind) as ProviderKind;
  if (!PROVIDER_KINDS.includes(kind))
    throw new UsageError(`--provider must be one of ${PROVIDER_KINDS.join(', ')}; got "${kind}"`);
  const model = stringFlag(values, 'model');
  if (kind !== 'builtin' && !model)
    throw new UsageError(
      `--provider ${kind} needs --model`,
      'Example: --model gpt-4.1-mini, or --model llama3.2 --base-url http://127.0.0.1:11434/v1',
    );
  return {
    kind,
    model,
    baseURL: stringFlag(values, 'base-url'),
    apiKey: apiKeyFromEnv(kind, env)?.key,
    timeoutMs: numberFlag(values, 'timeout-ms', { min: 1, integer: true }),
    concurrency: numberFlag(values, 'concurrency', { min: 1, max: 256, integer: true }),
  };
}
