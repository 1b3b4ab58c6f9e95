import * as vscode from 'vscode';

/** The tab icon of both panels: a light and a dark SVG in media/icons/ (codicons, CC BY 4.0; see the ATTRIBUTION
 * there). */
export function panelIcon(
  extensionUri: vscode.Uri,
  name: 'inspect' | 'generate',
): { light: vscode.Uri; dark: vscode.Uri } {
  return {
    light: vscode.Uri.joinPath(extensionUri, 'media', 'icons', `${name}-light.svg`),
    dark: vscode.Uri.joinPath(extensionUri, 'media', 'icons', `${name}-dark.svg`),
  };
}
