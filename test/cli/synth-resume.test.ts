import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCli, repoRoot } from '../support/cli';
import { tempDir } from '../support/tmp';

function workspace(): string {
  const dir = tempDir('pfs-resume-cli-');
  copyFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), path.join(dir, 'data.csv'));
  return dir;
}
const flags = ['--labels', 'card_arrival,exchange_rate', '--count', '6', '--epsilon', '2', '--iterations', '4'];
const env = { PRIVATE_FEWSHOT_INDEX_DIR: tempDir('pfs-resume-index-') };

async function spent(ws: string): Promise<number> {
  const r = await runCli(['budget', 'data.csv', '--json'], { cwd: ws, env });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { spent: number }).spent;
}

test('synth --resume continues a run killed between iterations to the same histograms and charge', async () => {
  const whole = workspace();
  const w = await runCli(['synth', 'data.csv', ...flags, '--json'], { cwd: whole, env });
  assert.equal(w.code, 0, w.stderr);
  const uninterrupted = JSON.parse(w.stdout) as { release: { records: unknown[] } };

  const ws = workspace();
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      pathToFileURL(require.resolve('tsx')).href,
      path.join(repoRoot, 'test/support/augpe-crash-child.ts'),
      ws,
    ],
    { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 },
  );
  assert.equal(child.signal, 'SIGKILL', child.stderr);
  const runs = path.join(ws, '.private-fewshot', 'runs');
  const [stateName] = readdirSync(runs).filter((f) => f.endsWith('.state.json'));
  const id = stateName!.replace('.state.json', '');
  const state = JSON.parse(readFileSync(path.join(runs, stateName!), 'utf8')) as { status: string; started: number };
  assert.deepEqual([state.status, state.started], ['running', 2]);
  // The open reservation is charged at its planned size until the resume closes it.
  assert.ok((await spent(ws)) > 0);

  const changed = await runCli(['synth', 'data.csv', ...flags, '--count', '8', '--resume', id], { cwd: ws, env });
  assert.equal(changed.code, 1);
  assert.match(changed.stderr, /cannot resume .*: count was 6, now 8/);

  const r = await runCli(['synth', 'data.csv', ...flags, '--resume', `${id}.jsonl`, '--json'], { cwd: ws, env });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { release: { records: unknown[]; privacy: { histograms: number } } };
  assert.equal(out.release.privacy.histograms, 4);
  assert.equal(out.release.records.length, uninterrupted.release.records.length);
  const a = await spent(ws);
  const b = await spent(whole);
  assert.ok(Math.abs(a - b) <= 1e-9 * b, `resumed spent ${a}, uninterrupted ${b}`);

  const again = await runCli(['synth', 'data.csv', ...flags, '--resume', id], { cwd: ws, env });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /cannot resume .*already resumed as r-/);
});
