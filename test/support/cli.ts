import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

/** Runs the CLI as a real child process (through tsx), to check exit codes and streams end to end. */
export function spawnCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args], {
    cwd: opts.cwd ?? repoRoot,
    // The per-user record index goes to a temporary folder unless a test names one (never the user's own).
    env: { PRIVATE_FEWSHOT_INDEX_DIR: path.join(tmpdir(), 'pfs-test-record-index'), ...process.env, ...opts.env },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
