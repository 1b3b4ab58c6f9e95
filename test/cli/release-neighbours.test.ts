// Neighbouring datasets through the real CLI: dataset A and A plus one (long) record, same public flags. Everything a
// run exports — the --out file in every format, the "release" of --json, stdout — must be identical between the
// two, except the DP text itself (which is random on every run, on A as on A). Before the release boundary the
// export carried input tokens, calls, `reused`, the duration and the dataset's content hash: each of them told the
// two datasets apart on every run. The built-in model is deterministic; the DP noise is the production
// (cryptographic) noise, so the test also shows that no exported field depends on the noise draw except the text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, repoRoot } from '../support/cli';
import { withoutDpText } from '../support/releases';
import { tempDir, writeFile } from '../support/tmp';

const sample = readFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), 'utf8').trim().split('\n');
const header = sample[0]!;
const rowsOf = (label: string, n: number) => sample.filter((l) => l.endsWith(`,${label}`)).slice(0, n);
// Small pools (≤ M·N = 6 units per label at --prompts 3): q = 1 on both datasets, so the plan's σ is the same for A
// and A + 1 — and the added record joins every private prompt, which is what made the token counts differ.
const A = [header, ...rowsOf('card_arrival', 4), ...rowsOf('exchange_rate', 4)].join('\n') + '\n';
const LONG =
  '"' +
  Array.from(
    { length: 12 },
    (_, i) => `My new card number ${i} still has not arrived after many weeks of waiting`,
  ).join(', and ') +
  '",card_arrival';
const A1 = A + LONG + '\n';

/** Two workspaces, one per dataset, with the same file name (the path is not in the release either). */
function workspaces(): { a: string; a1: string } {
  const a = tempDir('pfs-nbr-a-');
  const a1 = tempDir('pfs-nbr-b-');
  writeFile(a, 'data.csv', A);
  writeFile(a1, 'data.csv', A1);
  return { a, a1 };
}

/** Field-by-field comparison with the path of the first difference in the message. */
function assertSameExceptText(a: unknown, b: unknown, what: string): void {
  const diff = (x: unknown, y: unknown, at: string): string | undefined => {
    if (x && y && typeof x === 'object' && typeof y === 'object') {
      const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
      for (const k of keys) {
        const d = diff((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], `${at}.${k}`);
        if (d) return d;
      }
      return undefined;
    }
    return Object.is(x, y) ? undefined : `${at}: ${JSON.stringify(x)} (A) vs ${JSON.stringify(y)} (A + 1)`;
  };
  const d = diff(withoutDpText(a), withoutDpText(b), what);
  assert.equal(d, undefined, `the exports of neighbouring datasets differ at ${d}`);
}

const delta = ['--delta', '1e-3']; // typed by the user: public (as the ledger's default δ is; see the last test)

test('demos: A and A + one long record export the same bytes apart from the DP text (--out json, --json, jsonl, stdout chat)', async () => {
  const { a, a1 } = workspaces();
  const flags = ['--labels', 'card_arrival,exchange_rate', '--shots', '2', '--epsilon', '1', '--prompts', '3'];
  const run = async (ws: string, extra: string[]) => {
    const r = await runCli(['demos', 'data.csv', ...flags, '--max-tokens', '5', ...delta, ...extra], { cwd: ws });
    assert.equal(r.code, 0, r.stderr);
    return r;
  };
  const [ra, ra1] = [
    await run(a, ['--json', '--format', 'json', '--out', 'out.json']),
    await run(a1, ['--json', '--format', 'json', '--out', 'out.json']),
  ];
  const [ja, ja1] = [JSON.parse(ra.stdout), JSON.parse(ra1.stdout)];
  assert.deepEqual(Object.keys(ja), ['release', 'localOnlyNotPrivate']);
  // The datasets are told apart by the local diagnostics (so the comparison below can fail) ...
  assert.notEqual(ja.localOnlyNotPrivate.dataset.contentSha256, ja1.localOnlyNotPrivate.dataset.contentSha256);
  assert.equal(ja1.localOnlyNotPrivate.pools.length, 2);
  // ... and by nothing in the release.
  assertSameExceptText(ja.release, ja1.release, 'release');
  const [fa, fa1] = [readFileSync(path.join(a, 'out.json'), 'utf8'), readFileSync(path.join(a1, 'out.json'), 'utf8')];
  assert.deepEqual(JSON.parse(fa), ja.release, '--out writes the release that --json prints');
  assertSameExceptText(JSON.parse(fa), JSON.parse(fa1), 'out.json');
  assert.equal(ja.release.demonstrations.length, 4);
  assert.equal(ja.release.status, 'completed');

  const [la, la1] = [
    await run(a, ['--format', 'jsonl', '--out', 'out.jsonl']),
    await run(a1, ['--format', 'jsonl', '--out', 'out.jsonl']),
  ];
  assert.equal(la.stdout, '');
  assert.equal(la1.stdout, '');
  const lines = (ws: string) =>
    readFileSync(path.join(ws, 'out.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
  assertSameExceptText(lines(a), lines(a1), 'out.jsonl');
  // The local diagnostics went to stderr, labelled.
  assert.match(la1.stderr, /local only, not private: \d+ calls/);

  const [ca, ca1] = [await run(a, ['--format', 'chat']), await run(a1, ['--format', 'chat'])];
  assertSameExceptText(JSON.parse(ca.stdout), JSON.parse(ca1.stdout), 'stdout (chat)');
});

test('synth: A and A + one long record export the same bytes apart from the DP text (--out json, --json, jsonl)', async () => {
  const { a, a1 } = workspaces();
  const flags = ['--labels', 'card_arrival,exchange_rate', '--count', '4', '--epsilon', '1', '--iterations', '2'];
  const run = async (ws: string, extra: string[]) => {
    const r = await runCli(['synth', 'data.csv', ...flags, '--max-tokens', '24', ...delta, ...extra], { cwd: ws });
    assert.equal(r.code, 0, r.stderr);
    return r;
  };
  const [ra, ra1] = [
    await run(a, ['--json', '--format', 'json', '--out', 'out.json']),
    await run(a1, ['--json', '--format', 'json', '--out', 'out.json']),
  ];
  const [ja, ja1] = [JSON.parse(ra.stdout), JSON.parse(ra1.stdout)];
  assert.deepEqual(Object.keys(ja), ['release', 'localOnlyNotPrivate']);
  assert.notEqual(ja.localOnlyNotPrivate.dataset.contentSha256, ja1.localOnlyNotPrivate.dataset.contentSha256);
  assert.ok(
    ja1.localOnlyNotPrivate.privateEmbeddingUsage.inputTokens >
      ja.localOnlyNotPrivate.privateEmbeddingUsage.inputTokens,
  );
  assertSameExceptText(ja.release, ja1.release, 'release');
  const [fa, fa1] = [readFileSync(path.join(a, 'out.json'), 'utf8'), readFileSync(path.join(a1, 'out.json'), 'utf8')];
  assert.deepEqual(JSON.parse(fa), ja.release, '--out writes the release that --json prints');
  assertSameExceptText(JSON.parse(fa), JSON.parse(fa1), 'out.json');
  assert.equal(ja.release.records.length, 4);

  const [la, la1] = [
    await run(a, ['--format', 'jsonl', '--out', 'out.jsonl']),
    await run(a1, ['--format', 'jsonl', '--out', 'out.jsonl']),
  ];
  assert.match(la1.stderr, /local only, not private: \d+ completions/);
  assert.equal(la.stdout, '');
  const lines = (ws: string) =>
    readFileSync(path.join(ws, 'out.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
  assertSameExceptText(lines(a), lines(a1), 'out.jsonl');
});

// No --delta and no budget set: the run's δ is the ledger's default, which is a public constant (1e-6), so the release
// states the same δ — and the same everything else apart from the DP text — for A and A + 1. (The earlier default
// 1/(n·ln n) was computed from the exact n and told the two apart by δ alone.)
test('demos and synth without --delta: the default δ and every other release field are the same for A and A + 1', async () => {
  const { a, a1 } = workspaces();
  const demos = ['--labels', 'card_arrival', '--shots', '1', '--epsilon', '1', '--prompts', '3', '--max-tokens', '2'];
  const synth = [
    '--labels',
    'card_arrival',
    '--count',
    '2',
    '--epsilon',
    '1',
    '--iterations',
    '1',
    '--max-tokens',
    '8',
  ];
  const releaseOf = async (ws: string, cmd: string, flags: string[]) => {
    const r = await runCli([cmd, 'data.csv', ...flags, '--json'], { cwd: ws });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /δ is the default/, 'no weak-δ warning for 9 records');
    return JSON.parse(r.stdout) as { release: { privacy: { delta: number } }; localOnlyNotPrivate: unknown };
  };
  for (const [cmd, flags] of [
    ['demos', demos],
    ['synth', synth],
  ] as const) {
    const [ja, ja1] = [await releaseOf(a, cmd, flags), await releaseOf(a1, cmd, flags)];
    assert.equal(ja.release.privacy.delta, 1e-6, `${cmd}: the default δ`);
    assert.equal(ja1.release.privacy.delta, ja.release.privacy.delta, `${cmd}: δ`);
    assertSameExceptText(ja.release, ja1.release, `${cmd} release`);
    assert.notDeepEqual(ja.localOnlyNotPrivate, ja1.localOnlyNotPrivate, `${cmd}: the diagnostics tell them apart`);
  }
});
