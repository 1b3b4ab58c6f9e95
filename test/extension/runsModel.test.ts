// The Runs view's listing (src/extension/views/runsModel.ts) over a ledger written by real CLI runs: the CLI saves
// each run's release beside its checkpoint, the listing reads it back checked against the release key set, and what
// the view inserts or copies is that release's text, never a local diagnostic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { editorReleaseText, localJournalPath } from '../../src/core/release';
import { releaseFilePath } from '../../src/core/release-file';
import {
  describeDatasetBudget,
  describeRun,
  latestRelease,
  readLocalDiagnostics,
  readRuns,
  shortTime,
} from '../../src/extension/views/runsModel';
import { repoRoot, runCli } from '../support/cli';
import { tempDir } from '../support/tmp';

const env = { PRIVATE_FEWSHOT_INDEX_DIR: path.join(repoRoot, '.tools', 'no-index') };

async function demos(ws: string, file: string, labels: string, out?: string) {
  const r = await runCli(
    [
      'demos',
      file,
      '--labels',
      labels,
      '--shots',
      '1',
      '--epsilon',
      '1',
      '--prompts',
      '3',
      '--max-tokens',
      '6',
      '--json',
      ...(out ? ['--out', out] : []),
    ],
    { cwd: ws, env },
  );
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { release: { demonstrations: { label: string; text: string }[] } };
}

/** A workspace with two CLI runs on data.csv and a budget line (no run) for other.csv. */
async function workspace() {
  const ws = tempDir('pfs-runsview-');
  copyFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), path.join(ws, 'data.csv'));
  copyFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), path.join(ws, 'other.csv'));
  const first = await demos(ws, 'data.csv', 'card_arrival');
  const second = await demos(ws, 'data.csv', 'card_arrival,exchange_rate');
  const b = await runCli(['budget', 'other.csv', '--set-total', '3'], { cwd: ws, env });
  assert.equal(b.code, 0, b.stderr);
  return { ws, first, second };
}

test('the listing shows each dataset the ledger names, and its runs newest first with their saved releases', async () => {
  const { ws, first, second } = await workspace();
  const all = await readRuns(ws);
  assert.deepEqual(
    all.map((d) => [d.dataset, d.runs.length]),
    [
      ['data.csv', 2],
      ['other.csv', 0],
    ],
  );
  const [newest, oldest] = all[0]!.runs;
  assert.ok(newest!.time >= oldest!.time);
  assert.equal(newest!.status, 'settled');
  assert.equal(newest!.algorithm, 'dp-few-shot');
  assert.equal(newest!.problem, undefined);
  // What was released, read back from the saved file, is what the CLI printed (DP few-shot's pool-count reservation
  // is the first half of the same run, not a run of its own).
  assert.deepEqual(
    newest!.release?.algorithm === 'dp-few-shot' && newest!.release.demonstrations,
    second.release.demonstrations,
  );
  assert.deepEqual(
    oldest!.release?.algorithm === 'dp-few-shot' && oldest!.release.demonstrations,
    first.release.demonstrations,
  );

  const d = describeRun(newest!);
  assert.equal(d.label, 'DP few-shot · 2 demonstrations');
  assert.match(d.description, /^\d{4}-\d\d-\d\d \d\d:\d\d UTC · ε 1 · builtin\//);
  assert.match(d.tooltip, /ε charged: 1 at δ 1\.00e-6/);

  const latest = await latestRelease(ws, 'data.csv', 'dp-few-shot');
  assert.equal(latest?.id, newest!.id);
  assert.equal(await latestRelease(ws, 'data.csv', 'aug-pe'), undefined);
  assert.equal(await latestRelease(ws, 'other.csv', 'dp-few-shot'), undefined);
});

test('Insert and Copy carry the saved release only; the local diagnostics stay in their journal', async () => {
  const { ws } = await workspace();
  const run = (await readRuns(ws))[0]!.runs[0]!;
  const text = editorReleaseText(run.release!);
  for (const d of run.release!.algorithm === 'dp-few-shot' ? run.release!.demonstrations : [])
    assert.ok(text.includes(d.text));
  const journal = JSON.parse(readFileSync(localJournalPath(run.checkpoint), 'utf8')) as {
    usage: { calls: number; inputTokens: number };
  };
  assert.ok(journal.usage.calls > 0);
  assert.doesNotMatch(text, /calls|inputTokens|contentSha256|local-diagnostics|data\.csv/);
  const saved = readFileSync(releaseFilePath(run.checkpoint), 'utf8');
  assert.doesNotMatch(saved, /calls|inputTokens|contentSha256|data\.csv/);
  // The panel that shows the run again gets its local diagnostics from the journal, labelled with its name.
  const local = await readLocalDiagnostics(run.checkpoint, 'journal.json');
  assert.deepEqual(local && [local.calls, local.inputTokens, local.journal], [
    journal.usage.calls,
    journal.usage.inputTokens,
    'journal.json',
  ]);
});

test('a saved release with anything but the release keys is not offered; a run without one says so', async () => {
  const { ws } = await workspace();
  const [newest, oldest] = (await readRuns(ws))[0]!.runs;
  const file = releaseFilePath(newest!.checkpoint);
  const tampered = { ...JSON.parse(readFileSync(file, 'utf8')), usage: { calls: 9 } };
  writeFileSync(file, JSON.stringify(tampered));
  rmSync(releaseFilePath(oldest!.checkpoint));
  const [a, b] = (await readRuns(ws))[0]!.runs;
  assert.equal(a!.release, undefined);
  assert.match(a!.problem ?? '', /could not be read: .*unexpected key\(s\) usage/);
  assert.equal(b!.release, undefined);
  assert.match(b!.problem ?? '', /no saved release/);
  assert.match(describeRun(b!).label, /^DP few-shot · \d{4}-/);
  assert.match(describeRun(b!).description, /^settled · ε 1 planned$/);
  // Neither is the newest release of the dataset any more.
  assert.equal(await latestRelease(ws, 'data.csv', 'dp-few-shot'), undefined);
});

test('no ledger, no datasets; budgets and times are rounded one way', async () => {
  assert.deepEqual(await readRuns(tempDir('pfs-runsview-empty-')), []);
  assert.equal(
    describeDatasetBudget({ total: 4, delta: 1e-6, spent: 1.23456, remaining: 2.76544 }),
    'ε 1.23 spent · 2.77 left of 4',
  );
  assert.equal(
    describeDatasetBudget({ total: 1, delta: 1e-6, spent: 1.5, remaining: -0.5 }),
    'ε 1.5 spent · 0 left of 1 (over by 0.5)',
  );
  assert.equal(shortTime('2026-12-06T05:41:44.327Z'), '2026-12-06 05:41 UTC');
});

test('an Aug-PE run is listed with its records, generator and embedder, and is the latest aug-pe release', async () => {
  const ws = tempDir('pfs-runsview-synth-');
  copyFileSync(path.join(repoRoot, 'examples/banking77-sample.csv'), path.join(ws, 'data.csv'));
  const r = await runCli(
    [
      'synth',
      'data.csv',
      '--labels',
      'card_arrival',
      '--count',
      '2',
      '--epsilon',
      '0.5',
      '--iterations',
      '1',
      '--embedder',
      'builtin',
      '--json',
    ],
    { cwd: ws, env },
  );
  assert.equal(r.code, 0, r.stderr);
  const printed = JSON.parse(r.stdout) as { release: { records: unknown[] } };
  const [entry] = await readRuns(ws);
  const run = entry!.runs[0]!;
  assert.equal(run.algorithm, 'aug-pe');
  assert.deepEqual(run.release?.algorithm === 'aug-pe' && run.release.records, printed.release.records);
  const d = describeRun(run);
  assert.equal(d.label, 'Aug-PE · 2 records');
  assert.match(d.description, / · ε 0\.5 · builtin\//);
  assert.match(d.tooltip, /; embedder builtin\//);
  assert.equal((await latestRelease(ws, 'data.csv', 'aug-pe'))?.id, run.id);
  assert.equal(await latestRelease(ws, 'data.csv', 'dp-few-shot'), undefined);
});
