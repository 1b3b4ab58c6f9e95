// Pure HTML builder for webview panels (no vscode import, so it is unit-tested in plain Node).
// CSP and nonce pattern from microsoft/vscode-extension-samples (webview-sample, webview-codicons-sample).
import { randomBytes } from 'node:crypto';

/** Which view the shared webview bundle shows: the host says so in the HTML, before any message arrives. */
export type PanelKind = 'inspect' | 'generate' | 'synth' | 'evaluate';

export interface WebviewAssets {
  panel: PanelKind;
  /** `webview.cspSource`. */
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  codiconUri: string;
  title: string;
  /** The run panel's dataset (a file URI): the webview keeps it in its state for the serializer after a reload. */
  dataset?: string;
}

/** A fresh nonce for every render: 128 random bits, base64url. */
export function makeNonce(): string {
  return randomBytes(16).toString('base64url');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    "connect-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
}

function attr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function renderWebviewHtml(assets: WebviewAssets, nonce = makeNonce()): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(assets.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" nonce="${nonce}" href="${attr(assets.codiconUri)}" id="vscode-codicon-stylesheet">
<link rel="stylesheet" nonce="${nonce}" href="${attr(assets.styleUri)}">
<title>${attr(assets.title)}</title>
</head>
<body data-panel="${attr(assets.panel)}"${assets.dataset ? ` data-dataset="${attr(assets.dataset)}"` : ''}>
<main id="app" aria-live="polite"><p class="muted">Loading…</p></main>
<script type="module" nonce="${nonce}" src="${attr(assets.scriptUri)}"></script>
</body>
</html>`;
}
