import type { ProviderKind } from './config';

/** Environment variables the CLI reads keys from, in order of precedence. The tool-specific one wins. */
export const KEY_ENV_VARS: Record<Exclude<ProviderKind, 'builtin'>, readonly string[]> = {
  openai: ['PRIVATE_FEWSHOT_API_KEY', 'OPENAI_API_KEY'],
  azure: ['PRIVATE_FEWSHOT_API_KEY', 'AZURE_OPENAI_API_KEY', 'OPENAI_API_KEY'],
  anthropic: ['PRIVATE_FEWSHOT_API_KEY', 'ANTHROPIC_API_KEY'],
};

/**
 * The API key for `kind` from the environment, or undefined. The value is never logged; callers pass it straight to
 * the provider, which redacts it from every error message.
 */
export function apiKeyFromEnv(
  kind: ProviderKind,
  env: NodeJS.ProcessEnv,
): { key: string; variable: string } | undefined {
  if (kind === 'builtin') return undefined;
  for (const variable of KEY_ENV_VARS[kind]) {
    const v = env[variable]?.trim();
    if (v) return { key: v, variable };
  }
  return undefined;
}

/** What to tell the user when the key is missing or rejected. */
export function keyHint(kind: ProviderKind): string {
  if (kind === 'builtin') return 'The built-in model needs no key.';
  const vars = KEY_ENV_VARS[kind].join(' or ');
  return `CLI: set ${vars}. Editor: run "Private Few-Shot: Set API Key" (the key is kept in SecretStorage).`;
}
