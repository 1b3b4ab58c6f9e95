import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderWebviewHtml, makeNonce } from '../../src/extension/panels/html';

const assets = {
  cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
  scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview.js',
  styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview.css',
  codiconUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/codicon.css',
  title: 'T <x>',
  panel: 'synth' as const,
};

test('the webview HTML carries a strict CSP bound to a per-render nonce', () => {
  const html = renderWebviewHtml(assets, 'abc123');
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1];
  assert.ok(csp);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-abc123'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  // Every script tag carries the nonce, and no inline script exists.
  const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 1);
  for (const [, attrs, body] of scripts) {
    assert.match(attrs!, /nonce="abc123"/);
    assert.match(attrs!, /src="/);
    assert.equal(body!.trim(), '');
  }
  assert.match(html, /<title>T &lt;x&gt;<\/title>/);
});

test('nonces are fresh and unguessable', () => {
  const seen = new Set(Array.from({ length: 100 }, () => makeNonce()));
  assert.equal(seen.size, 100);
  for (const n of seen) assert.match(n, /^[A-Za-z0-9_-]{22}$/);
  const a = renderWebviewHtml(assets);
  const b = renderWebviewHtml(assets);
  assert.notEqual(/nonce-([^']+)'/.exec(a)?.[1], /nonce-([^']+)'/.exec(b)?.[1]);
});

test('the host tells the webview its panel kind in the HTML, before any message', () => {
  for (const panel of ['inspect', 'generate', 'synth'] as const) {
    const html = renderWebviewHtml({ ...assets, panel }, 'n');
    assert.match(html, new RegExp(`<body data-panel="${panel}">`));
  }
});

test('a run panel names its dataset in the HTML (for the serializer after a reload), escaped as an attribute', () => {
  const dataset = 'file:///ws/a%20b/"x"<y>&.csv';
  const html = renderWebviewHtml({ ...assets, panel: 'generate', dataset }, 'n');
  assert.match(
    html,
    /<body data-panel="generate" data-dataset="file:\/\/\/ws\/a%20b\/&quot;x&quot;&lt;y&gt;&amp;\.csv">/,
  );
  assert.doesNotMatch(renderWebviewHtml(assets, 'n'), /data-dataset/);
});
