// The HTML shell of every LeakLint webview: a strict CSP (nonce'd bundle, no inline or remote content), the shared
// stylesheet, and the view and its initial state in data attributes for the one webview bundle.
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';
import { escapeHtml, jsonText } from '../engine';
import type { ViewKind } from '../shared/webviewProtocol';

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, view: ViewKind, title: string, initialState: unknown): string {
  const nonce = randomBytes(16).toString('base64');
  const scriptUri = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js'));
  const styleUri = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'webview.css'));
  const csp = ["default-src 'none'", `img-src ${webview.cspSource} data:`, `style-src ${webview.cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
  // The state carries names from the model file: JSON without raw control characters, then HTML-escaped.
  const state = escapeHtml(jsonText(initialState, undefined, 0));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${styleUri}">
<title>${escapeHtml(title)}</title>
</head>
<body>
<main id="root" data-view="${view}" data-state="${state}"></main>
<script nonce="${nonce}" src="${scriptUri}"></script>
</body>
</html>`;
}

/** Webviews load only the bundles, the stylesheet and (for images) the extension's storage folder. */
export function webviewOptions(extensionUri: vscode.Uri, extra: vscode.Uri[] = []): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media'), ...extra],
  };
}
