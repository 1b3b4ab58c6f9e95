import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { main } from '../../src/cli/main';

export const repoRoot = path.resolve(__dirname, '../..');

/** Runs the CLI in-process and captures its output. */
export async function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    out: (t) => (stdout += t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => (stderr += t.endsWith('\n') ? t : `${t}\n`),
    env: opts.env ?? {},
    cwd: opts.cwd ?? repoRoot,
  });
  return { code, stdout, stderr };
}

/** The node arguments that start the CLI from TypeScript, from any current folder (tsx resolved from the repo). */
export const cliArgs = ['--import', pathToFileURL(require.resolve('tsx')).href, path.join(repoRoot, 'src/cli/main.ts')];

/**
 * Runs the CLI as a real child process (through tsx), to check exit codes and streams end to end. `timeoutMs` kills
 * a child that hangs (the result then has code null and signal set).
 */
export function spawnCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
) {
  const r = spawnSync(process.execPath, [...cliArgs, ...args], {
    cwd: opts.cwd ?? repoRoot,
    // The per-user record index goes to a temporary folder unless a test names one (never the user's own).
    env: { PRIVATE_FEWSHOT_INDEX_DIR: path.join(tmpdir(), 'pfs-test-record-index'), ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: opts.timeoutMs,
    killSignal: 'SIGKILL',
    input: opts.input,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
