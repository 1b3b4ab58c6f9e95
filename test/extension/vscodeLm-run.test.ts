// A whole Aug-PE run with the editor's language model as the generator (VscodeLmProvider over a chat model with the
// VS Code API's shapes: streamed text fragments, countTokens; test/support/fake-vscode.ts) and the built-in embedder;
// and the clear refusals: no embeddings from the editor's models, and a consent refusal mid-run that stops the run
// with the "auth" error and keeps the charge to what ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planAugPe } from '../../src/core/augpe/plan';
import { runAugPe } from '../../src/core/augpe/run';
import { loadDataset, summarize } from '../../src/core/data';
import { Ledger, defaultAccountant } from '../../src/core/ledger';
import { createBuiltinProvider } from '../../src/core/providers/builtin';
import type { Provider } from '../../src/core/providers/types';
import { fakeChatModel, installFakeVscode, LanguageModelError, type FakeChatMessage } from '../support/fake-vscode';
import { seededRandom } from '../support/rng';
import { tempDir, writeFile } from '../support/tmp';

installFakeVscode();

async function vscodeLm(
  answer: (m: FakeChatMessage[]) => string | Error,
  sent: FakeChatMessage[][],
): Promise<Provider> {
  const { VscodeLmProvider } = await import('../../src/extension/providers/vscodeLm');
  return new VscodeLmProvider(fakeChatModel(answer, sent) as never, { concurrency: 3 });
}

async function dataset() {
  const root = tempDir('pfs-augpe-vscodelm-');
  const rows = ['text,label'];
  for (let i = 0; i < 20; i++) rows.push(`PRIVATE-ROW-${i} my new card is late by ${i} days,card_arrival`);
  writeFile(root, 'data.csv', rows.join('\n') + '\n');
  const ds = await loadDataset('data.csv', { root, textColumn: 'text', labelColumn: 'label' });
  const units = summarize(ds).units;
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  const delta = (await ledger.status({ identity: ds.identity, units })).total.delta;
  return { ds, units, ledger, delta };
}

const answer = (m: FakeChatMessage[]) => {
  const user = m.at(-1)!.content;
  return user.includes('Text: ') ? `${user.split('Text: ')[1]} please` : 'where is the card I ordered last week';
};

test('a whole Aug-PE run through the editor language model (streamed answers) with the built-in embedder', async () => {
  const { ds, units, ledger, delta } = await dataset();
  const plan = planAugPe(ds, {
    labels: ['card_arrival'],
    count: 3,
    epsilon: 2,
    delta,
    iterations: 2,
    variations: 1,
    variation: 'paraphrase',
    selection: 'prob',
  });
  const sent: FakeChatMessage[][] = [];
  const provider = await vscodeLm(answer, sent);
  const r = await runAugPe({
    dataset: ds,
    plan,
    provider,
    embedder: createBuiltinProvider(),
    ledger,
    units,
    random: (s) => seededRandom(`vscode-lm/${s}`),
  });
  assert.equal(r.status, 'completed', r.error?.message);
  assert.equal(r.records.length, 3);
  assert.equal(sent.length, plan.estimate.completions, 'one sendRequest per completion (the API has no n)');
  for (const msgs of sent) {
    // No system role in this API: the system text arrives as a leading user message.
    assert.ok(msgs.every((m) => m.role === 'user' || m.role === 'assistant'));
    assert.doesNotMatch(JSON.stringify(msgs), /PRIVATE-ROW/, 'no private text reaches the editor model');
  }
  assert.equal(r.report.provider.kind, 'vscode-lm');
  assert.ok(r.report.usage.inputTokens > 0, 'tokens counted with countTokens');
  const status = await ledger.status({ identity: ds.identity, units }, { labels: ['card_arrival'] });
  assert.ok(Math.abs(status.spent - plan.epsilonRun) < 1e-9);
});

test("the editor's models cannot embed, and a consent refusal stops the run with what to do", async () => {
  const { ds, units, ledger, delta } = await dataset();
  const plan = planAugPe(ds, { labels: ['card_arrival'], count: 2, epsilon: 1, delta, iterations: 3, variations: 1 });
  const noEmbed = await vscodeLm(answer, []);
  await assert.rejects(
    runAugPe({ dataset: ds, plan, provider: noEmbed, ledger, units }),
    /vscode-lm\/copilot-gpt-4o returns no embeddings, which Aug-PE needs/,
  );
  assert.equal((await ledger.status({ identity: ds.identity, units })).runs.length, 0, 'nothing reserved');
  // Consent withdrawn after a few requests: the run fails with the auth error, and only what ran is charged.
  let calls = 0;
  const refusing = await vscodeLm((m) => (++calls > 4 ? LanguageModelError.NoPermissions('denied') : answer(m)), []);
  const r = await runAugPe({
    dataset: ds,
    plan,
    provider: refusing,
    embedder: createBuiltinProvider(),
    ledger,
    units,
    random: (s) => seededRandom(`refuse/${s}`),
  });
  assert.equal(r.status, 'failed');
  assert.match(r.error!.message, /no permission to use the editor model "copilot-gpt-4o"/);
  assert.ok(r.histograms < plan.settings.iterations);
  const status = await ledger.status({ identity: ds.identity, units });
  assert.equal(status.runs[0]!.charges[0]!.steps, r.histograms, 'charged the histograms that ran');
});
