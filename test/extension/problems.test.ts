// The run panels' error and restore messages without vscode (src/extension/panels/problems.ts, restore.ts): a budget
// refusal offers Set Privacy Budget… and the largest ε that fits; an endpoint problem offers the endpoint buttons;
// anything else is an unexpected error; Check Endpoint says what the model can run; a release shown again carries the
// session's figures when it ran here, else its own ε charged with a note saying so. Every message passes the
// host → webview schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/core/errors';
import { BudgetRefusal } from '../../src/core/ledger';
import { ProviderError } from '../../src/core/providers/errors';
import type { Provider } from '../../src/core/providers/types';
import { augPeRelease, fewShotRelease } from '../../src/core/release';
import { endpointCheckOf, problemOf, withLargestFit } from '../../src/extension/panels/problems';
import { missingJournal, rememberRun, restoredMessage } from '../../src/extension/panels/restore';
import { parseHostMessage } from '../../src/shared/protocol';
import { fakeAugPeInput, fakeFewShotInput } from '../support/releases';

const at = { action: 'Generate', name: 'data.csv', datasetPath: 'data/data.csv', words: (t: string) => `«${t}»` };

test('a budget refusal offers Set Privacy Budget… with the CLI hint turned into the button, and the largest ε that fits', () => {
  const hint = 'lower ε, or raise the total: private-fewshot budget data/data.csv --set-total EPS';
  const plain = problemOf(new BudgetRefusal('over the budget by 0.5', hint), at);
  assert.equal(plain.message.action, 'setBudget');
  assert.equal(plain.message.message, '«over the budget by 0.5»');
  assert.equal(plain.message.hint, '«lower ε, or raise the total: Set Privacy Budget… (the button below)»');
  assert.equal(plain.message.largestFit, undefined);
  assert.deepEqual(plain.log, { level: 'warn', text: 'Generate (data.csv): refused by the budget.' });
  const fitted = problemOf(withLargestFit(new BudgetRefusal('over', hint), 1.25), at);
  assert.equal(fitted.message.largestFit, 1.25);
  assert.ok(parseHostMessage(fitted.message));
  // A plain UserError is not a refusal, even with a largest fit attached.
  assert.equal(problemOf(withLargestFit(new UserError('bad shots', 'use 1–100'), 2), at).message.action, undefined);
});

test('an endpoint problem offers the endpoint buttons; other user errors do not; anything else is unexpected', () => {
  const refused = new ProviderError(
    'connection',
    'cannot reach http://127.0.0.1:9/v1: connection refused',
    'start it',
    {
      url: 'http://127.0.0.1:9/v1',
    },
  );
  const p = problemOf(refused, at);
  assert.deepEqual(p.message.endpoint, { code: 'connection', url: 'http://127.0.0.1:9/v1' });
  assert.equal(p.message.hint, '«start it»');
  assert.ok(parseHostMessage(p.message));
  const user = problemOf(new UserError('shots must be a whole number'), at);
  assert.equal(user.message.endpoint, undefined);
  assert.equal(user.message.action, undefined);
  assert.deepEqual(user.log, { level: 'warn', text: 'Generate (data.csv): shots must be a whole number' });
  const bug = problemOf(new TypeError('x is undefined'), at);
  assert.equal(bug.message.message, 'Unexpected error: x is undefined');
  assert.equal(bug.log.level, 'error');
  assert.equal(problemOf('a string', at).message.message, 'Unexpected error: a string');
});

test('Check Endpoint: what the model can run when it answers; the error and its hint when not', async () => {
  const provider = (capabilities: () => Promise<unknown>) =>
    ({
      kind: 'openai',
      model: 'm',
      offline: false,
      baseUrl: 'http://127.0.0.1:8000/v1',
      capabilities,
    }) as unknown as Provider;
  const ok = await endpointCheckOf(
    provider(() => Promise.resolve({ logprobs: true, topLogprobs: 20, embeddings: false, echo: false })),
  );
  assert.equal(ok.message.ok, true);
  assert.match(ok.message.message, /^openai\/m at .+ answered\. DP few-shot: .+\. Aug-PE: .+\.$/);
  assert.ok(parseHostMessage(ok.message));
  const failed = await endpointCheckOf(
    provider(() => Promise.reject(new ProviderError('auth', 'the key was rejected', 'Set API Key…', {}))),
  );
  assert.deepEqual(failed.message, {
    type: 'endpointCheck',
    ok: false,
    message: 'the key was rejected',
    hint: 'Set API Key…',
  });
  await assert.rejects(endpointCheckOf(provider(() => Promise.reject(new TypeError('bug')))), TypeError);
});

test('a release shown again: the session figures when it ran here, else its own ε charged and a note that says so', () => {
  const budget = { total: 4, delta: 1e-6, spent: 2.5, remaining: 1.5 };
  const local = missingJournal('.private-fewshot/runs/r1.journal');
  assert.match(local.journal, /not found: no local diagnostics/);
  const release = fewShotRelease(fakeFewShotInput());
  const run = { time: '2026-12-06T10:11:12.000Z', checkpoint: '/w/.private-fewshot/runs/r1.json' };
  const before = restoredMessage({ release, run, releaseFile: 'r1.release.json', local, budget });
  assert.equal(before.type, 'result');
  assert.ok(parseHostMessage(before));
  if (before.type !== 'result') return;
  assert.equal(before.budgetUsed, release.privacy.epsilonCharged);
  assert.match(
    before.message ?? '',
    /^Shown again: the release of the run of 2026-12-06 10:11 UTC, kept in r1\.release\.json\./,
  );
  assert.match(before.message ?? '', /shows its own ε charged here/);
  // Run in this session: the rise of the spent budget it caused, and its note.
  rememberRun(run.checkpoint, { ...before, budgetUsed: 0.42, message: 'Cancelled: 1 of 2 written.' });
  const after = restoredMessage({ release, run, releaseFile: 'r1.release.json', local, budget });
  assert.ok(after.type === 'result');
  assert.equal(after.budgetUsed, 0.42);
  assert.match(after.message ?? '', /kept in r1\.release\.json\. Cancelled: 1 of 2 written\.$/);
  // Aug-PE releases come back as Synthesize results.
  const synth = restoredMessage({
    release: augPeRelease(fakeAugPeInput()),
    run: { ...run, checkpoint: '/w/other.json' },
    releaseFile: 'r2.release.json',
    local,
    budget,
  });
  assert.equal(synth.type, 'synthResult');
  assert.ok(parseHostMessage(synth));
});
