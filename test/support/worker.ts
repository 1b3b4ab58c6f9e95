import path from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from './cli';
import { tempDir } from './tmp';

/**
 * The run worker as the extension ships it: core/worker/main.ts bundled by esbuild with the options of its entry in
 * esbuild.config.mjs. A worker thread does not get tsx's require hook, so the TypeScript source cannot run there.
 */
// Made when this module loads: tempDir's clean-up then runs after the test file, not after the first test.
const bundleDir = tempDir('pfs-worker-bundle-');
let bundled: Promise<string> | undefined;
export function runWorkerBundle(): Promise<string> {
  bundled ??= (async () => {
    const out = path.join(bundleDir, 'run-worker.js');
    await build({
      entryPoints: [path.join(repoRoot, 'src', 'core', 'worker', 'main.ts')],
      outfile: out,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node22',
      alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' },
      logLevel: 'silent',
    });
    return out;
  })();
  return bundled;
}
