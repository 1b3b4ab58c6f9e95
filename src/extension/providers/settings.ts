import * as vscode from 'vscode';
import { UsageError } from '../../core/errors';
import {
  createProvider,
  PROVIDER_KINDS,
  type Provider,
  type ProviderConfig,
  type ProviderKind,
} from '../../core/providers';
import { createVscodeLmProvider } from './vscodeLm';

/**
 * Builds the configured Provider in the editor. Settings (contributed in package.json under privateFewShot.provider.*):
 *   kind            openai | azure | anthropic | builtin | vscode-lm   (default builtin)
 *   model           model id / Azure deployment / vscode.lm family
 *   baseUrl         scope "application": read ONLY from user/application settings, never from a workspace, so a
 *                   cloned repository cannot redirect the key and the private data to another server
 *   embeddingModel  model for embeddings when it differs
 *   concurrency     requests at once
 * Keys live in SecretStorage under `privateFewShot.apiKey.<kind>`; never in settings, never logged.
 */
export type EditorProviderKind = ProviderKind | 'vscode-lm';
const SECTION = 'privateFewShot.provider';

export function secretName(kind: ProviderKind): string {
  return `privateFewShot.apiKey.${kind}`;
}

/** The base URL from user (global) settings only; workspace and folder values are ignored on purpose. */
export function trustedBaseUrl(cfg: vscode.WorkspaceConfiguration): string | undefined {
  const v = cfg.inspect<string>('baseUrl')?.globalValue?.trim();
  return v ? v : undefined;
}

/**
 * The configured provider as plain data: a core ProviderConfig (key included), or the editor's language models,
 * which only exist in the extension host. Aug-PE's worker thread builds its provider from this.
 */
export async function providerConfigFromSettings(
  context: vscode.ExtensionContext,
): Promise<ProviderConfig | { kind: 'vscode-lm'; model?: string }> {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const kind = cfg.get<string>('kind', 'builtin') as EditorProviderKind;
  const model = cfg.get<string>('model')?.trim() || undefined;
  if (kind === 'vscode-lm') return { kind, model };
  if (!PROVIDER_KINDS.includes(kind))
    throw new UsageError(
      `setting ${SECTION}.kind has an unknown value "${kind}"`,
      `Use one of: ${[...PROVIDER_KINDS, 'vscode-lm'].join(', ')}.`,
    );
  const apiKey = kind === 'builtin' ? undefined : await context.secrets.get(secretName(kind));
  return {
    kind,
    model,
    baseURL: trustedBaseUrl(cfg),
    apiKey: apiKey || undefined,
    embeddingModel: cfg.get<string>('embeddingModel')?.trim() || undefined,
    concurrency: cfg.get<number>('concurrency') || undefined,
  };
}

export async function providerFromSettings(context: vscode.ExtensionContext): Promise<Provider> {
  const config = await providerConfigFromSettings(context);
  if (config.kind === 'vscode-lm') {
    return createVscodeLmProvider({
      selector: config.model ? { family: config.model } : undefined,
      access: context.languageModelAccessInformation,
    });
  }
  return createProvider(config);
}

/** Asks for a key (masked input) and stores it in SecretStorage. Returns false when the user cancels. */
export async function promptForApiKey(context: vscode.ExtensionContext, kind: ProviderKind): Promise<boolean> {
  if (kind === 'builtin') return false;
  const key = await vscode.window.showInputBox({
    title: `API key for ${kind}`,
    prompt: 'Stored in VS Code SecretStorage (the OS keychain), never in settings. Leave empty to remove it.',
    password: true,
    ignoreFocusOut: true,
  });
  if (key === undefined) return false;
  if (key.trim() === '') await context.secrets.delete(secretName(kind));
  else await context.secrets.store(secretName(kind), key.trim());
  return true;
}
