// The webview panels' common set-up (Inspect, Generate, Synthesize, Evaluate): the panel, its options, icon and
// strict-CSP HTML, and the dataset a revived panel's saved state names.
import * as vscode from 'vscode';
import { renderWebviewHtml, type PanelKind } from './html';
import { panelIcon } from './icons';

/**
 * A webview panel showing the shared bundle as `kind`: scripts on, resources only from dist/ and media/, and the
 * strict-CSP HTML with a fresh nonce (html.ts). The shape of microsoft/vscode-extension-samples' webview-sample.
 */
export function createWebviewPanel(
  extensionUri: vscode.Uri,
  o: { viewType: string; tab: string; kind: PanelKind; title: string; dataset?: vscode.Uri },
): vscode.WebviewPanel {
  const panel = vscode.window.createWebviewPanel(
    o.viewType,
    o.tab,
    vscode.ViewColumn.Active,
    webviewOptions(extensionUri),
  );
  setUpWebview(panel, extensionUri, o);
  return panel;
}

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

/**
 * The icon and HTML of a new or revived panel. `dataset` goes into the HTML so that the webview keeps it in its state
 * (webview/vscode-api.ts), which is what the serializer gets back after a window reload.
 */
export function setUpWebview(
  panel: vscode.WebviewPanel,
  extensionUri: vscode.Uri,
  o: { kind: PanelKind; title: string; dataset?: vscode.Uri },
): void {
  panel.iconPath = panelIcon(extensionUri, o.kind === 'inspect' ? 'inspect' : 'generate');
  const webview = panel.webview;
  const asset = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...p)).toString();
  webview.html = renderWebviewHtml({
    panel: o.kind,
    cspSource: webview.cspSource,
    scriptUri: asset('dist', 'webview.js'),
    styleUri: asset('dist', 'webview.css'),
    codiconUri: asset('dist', 'codicon.css'),
    title: o.title,
    ...(o.dataset ? { dataset: o.dataset.toString() } : {}),
  });
}

/** The dataset a run panel's saved webview state names (a file URI), or undefined. */
export function datasetOfState(state: unknown): vscode.Uri | undefined {
  const d = (state as { dataset?: unknown } | undefined)?.dataset;
  if (typeof d !== 'string') return undefined;
  try {
    const uri = vscode.Uri.parse(d, true);
    return uri.scheme === 'file' ? uri : undefined;
  } catch {
    return undefined;
  }
}
