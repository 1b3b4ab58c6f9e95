// Five bundles: the extension host (CJS, node22, vscode external), its Aug-PE worker thread (CJS, node22), the
// nearest-neighbour worker threads (dist/knn-worker.js, found next to the bundle that starts them), the
// webview (browser ESM + CSS), and the CLI (CJS with a shebang). `node esbuild.config.mjs [--production] [--watch]`.
// First the WebAssembly kernels are assembled from their .wat source (scripts/build-wasm.mjs, wabt from npm).
import * as esbuild from 'esbuild';
import { buildWasm } from './scripts/build-wasm.mjs';
import { copyFileSync, mkdirSync, chmodSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: 'warning',
  legalComments: 'linked',
};

// jsonc-parser's "main" is a UMD wrapper whose require calls esbuild cannot follow: bundle its ES module build.
const alias = { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' };

const builds = [
  {
    ...common,
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    alias,
    external: ['vscode'],
  },
  {
    ...common,
    entryPoints: ['src/core/worker/main.ts'],
    outfile: 'dist/run-worker.js',
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    alias,
  },
  {
    ...common,
    entryPoints: ['src/core/vector/knnWorker.ts'],
    outfile: 'dist/knn-worker.js',
    platform: 'node',
    format: 'cjs',
    target: 'node22',
  },
  {
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    alias,
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    ...common,
    entryPoints: { webview: 'webview/main.ts' },
    outdir: 'dist',
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
  },
];

await buildWasm();
mkdirSync('dist', { recursive: true });
for (const f of ['codicon.css', 'codicon.ttf']) copyFileSync(`node_modules/@vscode/codicons/dist/${f}`, `dist/${f}`);

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  console.log('watching…');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  chmodSync('dist/cli.js', 0o755);
}
