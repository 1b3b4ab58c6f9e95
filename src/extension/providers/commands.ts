// The provider commands of the palette: Set API Key… and Check Model Endpoint.
import * as vscode from 'vscode';
import { UserError } from '../../core/errors';
import { verdicts } from '../../core/providers/verdicts';
import { promptForApiKey, providerFromSettings } from './settings';

/** Asks which provider the key is for, then for the key (stored in SecretStorage, never in settings). */
export async function setApiKey(context: vscode.ExtensionContext): Promise<void> {
  const kind = (await vscode.window.showQuickPick(['openai', 'azure', 'anthropic'], {
    title: 'Private Few-Shot: which provider is the key for?',
  })) as 'openai' | 'azure' | 'anthropic' | undefined;
  if (!kind) return;
  if (await promptForApiKey(context, kind))
    void vscode.window.showInformationMessage(`Private Few-Shot: the ${kind} key is stored in SecretStorage.`);
}

/** Probes the configured model (fixed public text only) and says what each algorithm can do with it. */
export async function checkEndpoint(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<void> {
  try {
    const provider = await providerFromSettings(context);
    const caps = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Private Few-Shot: probing the model endpoint…' },
      () => provider.capabilities(),
    );
    const v = verdicts(caps, provider.offline);
    log.info(
      `Endpoint check ${provider.kind}/${provider.model}: DP few-shot ${v.dpFewShot.ok ? 'ok' : 'no'}, Aug-PE ${v.augPe.ok ? 'ok' : 'no'}.`,
    );
    void vscode.window.showInformationMessage(
      `${provider.kind}/${provider.model} — DP few-shot: ${v.dpFewShot.detail}. Aug-PE: ${v.augPe.detail}.`,
      { modal: false },
    );
  } catch (e) {
    const msg = e instanceof UserError ? e.describe() : (e as Error).message;
    log.warn(`Endpoint check failed: ${msg}`);
    // The message names the URL and the failure; the button goes where it is fixed.
    void vscode.window.showErrorMessage(`Private Few-Shot: ${msg}`, 'Open Settings').then((pick) => {
      if (pick) void vscode.commands.executeCommand('workbench.action.openSettings', 'privateFewShot.provider');
    });
  }
}
