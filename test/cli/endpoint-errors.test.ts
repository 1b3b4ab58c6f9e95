import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runCli } from '../support/cli';
import { tempDir, writeFile } from '../support/tmp';
import { closedPort } from '../support/ports';

test('demos and doctor name the URL and the failure in one line when the endpoint is unreachable', async () => {
  const dir = tempDir('pfs-cli-endpoint-');
  const data = writeFile(dir, 'data.csv', readFileSync(`${repoRoot}/examples/banking77-sample.csv`));
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}/v1`;
  const line = `cannot reach ${url}: connection refused`;
  const env = { PRIVATE_FEWSHOT_INDEX_DIR: join(dir, 'index') };
  const flags = ['--provider', 'openai', '--model', 'm', '--base-url', url];
  const demos = await runCli(
    ['demos', data, '--labels', 'card_arrival,exchange_rate', '--epsilon', '1', '--shots', '1', ...flags],
    {
      cwd: dir,
      env,
    },
  );
  assert.notEqual(demos.code, 0);
  const first = demos.stderr.split('\n').find((l) => l.startsWith('error: ')) ?? '';
  assert.equal(first, `error: openai (127.0.0.1:${port}): ${line}`);
  assert.match(demos.stderr, /→ Nothing answers at 127\.0\.0\.1:\d+: start the model server, or correct the base URL/);
  // Nothing was reserved: the probe fails before the ledger is touched.
  assert.equal(existsSync(join(dir, '.private-fewshot', 'ledger.jsonl')), false);
  const doctor = await runCli(['doctor', ...flags], { cwd: dir, env });
  assert.notEqual(doctor.code, 0);
  assert.ok(doctor.stderr.includes(line), doctor.stderr);
});
