// A whole Aug-PE run with Anthropic as the generator, against a local server that answers in the recorded shapes of
// the Messages API (test/fixtures/anthropic-messages.fixture.json: the documented response, a captured 529
// overloaded_error and a 429 rate_limit_error with their headers). Anthropic has no embeddings: the run needs another
// embedder (here the built-in one), and asking Anthropic to embed is refused before anything is reserved.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { planAugPe } from '../../../src/core/augpe/plan';
import { runAugPe } from '../../../src/core/augpe/run';
import { loadDataset, summarize } from '../../../src/core/data';
import { Ledger, defaultAccountant } from '../../../src/core/ledger';
import { createProvider } from '../../../src/core/providers';
import { createBuiltinProvider } from '../../../src/core/providers/builtin';
import { repoRoot } from '../../support/cli';
import { seededRandom } from '../../support/rng';
import { tempDir, writeFile } from '../../support/tmp';

const SHAPES = JSON.parse(
  readFileSync(path.join(repoRoot, 'test', 'fixtures', 'anthropic-messages.fixture.json'), 'utf8'),
) as {
  response: { id: string; content: { type: string; text: string }[]; usage: Record<string, number> };
  rateLimit429: { status: number; body: unknown; headers: Record<string, string> };
  overloaded529: { status: number; body: unknown; headers: Record<string, string> };
};
const KEY = 'sk-ant-api03-recorded-shapes-0001';

interface Seen {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: { system?: string; messages: { role: string; content: string }[]; max_tokens: number; model: string };
}

/**
 * Answers POST /v1/messages with the recorded response, replacing only content[0].text, id and usage; requests number
 * 3 and 6 get the recorded 529 and 429 (the run must retry through them). The answer text is built from the prompt's
 * public words so that the run has something to vote on.
 */
async function recordedAnthropic(): Promise<{ origin: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw);
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      n++;
      const fault = n === 3 ? SHAPES.overloaded529 : n === 6 ? SHAPES.rateLimit429 : undefined;
      if (fault) {
        res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
        res.end(JSON.stringify(fault.body));
        return;
      }
      const user = body.messages.at(-1).content as string;
      const label = /Label: ([^\n]+)/.exec(user)?.[1] ?? 'text';
      const text = user.includes('Text: ')
        ? `${user.split('Text: ')[1]} again, ${n % 5} ${label}`
        : `my ${label} question number ${n % 7}`;
      const r = structuredClone(SHAPES.response);
      r.id = `msg_${String(n).padStart(24, '0')}`;
      r.content[0]!.text = text;
      r.usage = { ...r.usage, input_tokens: Math.ceil(raw.length / 4), output_tokens: text.split(' ').length };
      (r as unknown as { model: string }).model = body.model;
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_${n}` });
      res.end(JSON.stringify(r));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function dataset() {
  const root = tempDir('pfs-augpe-anthropic-');
  const rows = ['text,label'];
  for (let i = 0; i < 24; i++) rows.push(`PRIVATE-ROW-${i} my card still has not arrived after ${i} days,card_arrival`);
  for (let i = 0; i < 18; i++) rows.push(`PRIVATE-ROW-${100 + i} what rate do you use for euros ${i},exchange_rate`);
  writeFile(root, 'data.csv', rows.join('\n') + '\n');
  const ds = await loadDataset('data.csv', { root });
  const units = summarize(ds).units;
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  const delta = (await ledger.status({ identity: ds.identity, units })).total.delta;
  return { ds, units, ledger, delta };
}

const servers: { close: () => Promise<void> }[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

test('a whole Aug-PE run through Anthropic (recorded Messages shapes, a 529 and a 429 retried) with the built-in embedder', async () => {
  const srv = await recordedAnthropic();
  servers.push(srv);
  const { ds, units, ledger, delta } = await dataset();
  const plan = planAugPe(ds, {
    labels: ['card_arrival', 'exchange_rate'],
    count: 4,
    epsilon: 3,
    delta,
    iterations: 2,
    variations: 1,
    variation: 'paraphrase',
    lookahead: 1,
  });
  const provider = createProvider({
    kind: 'anthropic',
    model: 'claude-3-5-sonnet-20240620',
    baseURL: srv.origin,
    apiKey: KEY,
    probeCache: new Map(),
    retry: { sleep: async () => {}, random: () => 0 },
  });
  const r = await runAugPe({
    dataset: ds,
    plan,
    provider,
    embedder: createBuiltinProvider(),
    ledger,
    units,
    random: (s) => seededRandom(`anthropic/${s}`),
  });
  assert.equal(r.status, 'completed', r.error?.message);
  assert.equal(r.records.length, 4);
  assert.ok(r.records.every((x) => x.text.length > 0 && !x.text.includes('PRIVATE-ROW')));
  // Every request went to /v1/messages with the Anthropic headers; the private rows never did.
  assert.ok(srv.seen.length > 10);
  for (const s of srv.seen) {
    assert.equal(s.path, '/v1/messages');
    assert.match(String(s.headers['anthropic-version']), /^\d{4}-\d{2}-\d{2}$/, 'the SDK sends its API version');
    assert.ok(s.headers['x-api-key'] === KEY || s.headers.authorization === `Bearer ${KEY}`);
    assert.doesNotMatch(JSON.stringify(s.body), /PRIVATE-ROW/, 'no private text reaches the generator');
  }
  // The 529 and the 429 were retried: one generate call per completion plus the probe plus the two retried requests.
  assert.equal(srv.seen.length, r.report.usage.completions + 1 + 2);
  assert.equal(r.report.usage.completions, plan.estimate.completions);
  // Usage is read from the recorded shape's usage block.
  assert.ok(r.report.usage.inputTokens > 0 && r.report.usage.outputTokens > 0);
  const status = await ledger.status({ identity: ds.identity, units }, { labels: plan.settings.labels });
  assert.ok(Math.abs(status.spent - plan.epsilonRun) < 1e-9, 'the ledger is charged what the plan previewed');
  assert.equal(r.report.embedder.kind, 'builtin');
});

test('Anthropic cannot embed: a run with no other embedder is refused with what to do, before anything is reserved', async () => {
  const srv = await recordedAnthropic();
  servers.push(srv);
  const { ds, units, ledger, delta } = await dataset();
  const plan = planAugPe(ds, { labels: ['card_arrival'], count: 2, epsilon: 1, delta, iterations: 1 });
  const provider = createProvider({
    kind: 'anthropic',
    model: 'claude-3-5-sonnet-20240620',
    baseURL: srv.origin,
    apiKey: KEY,
    probeCache: new Map(),
  });
  await assert.rejects(runAugPe({ dataset: ds, plan, provider, ledger, units }), (e: Error & { hint?: string }) => {
    assert.match(e.message, /anthropic\/claude-3-5-sonnet-20240620 returns no embeddings, which Aug-PE needs/);
    assert.match(e.hint ?? '', /built-in embedder/);
    return true;
  });
  const status = await ledger.status({ identity: ds.identity, units });
  assert.equal(status.runs.length, 0, 'nothing reserved');
  assert.ok(srv.seen.every((s) => !JSON.stringify(s.body).includes('PRIVATE-ROW')));
});
