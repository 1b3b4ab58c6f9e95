// The user's domain file (src/core/augpe/domain.ts): parsing, one-line errors with file, line and field, the
// published JSON schema, and its use in the RANDOM_API / VARIATION_API prompts and in the plan's declaration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_DOMAIN,
  domainJsonSchema,
  domainTemplate,
  ensureDomainFile,
  loadDomain,
  parseDomain,
} from '../../../src/core/augpe/domain';
import { planAugPe } from '../../../src/core/augpe/plan';
import {
  PERSONAS,
  STYLES,
  randomApiRequest,
  variationRequest,
  type PromptSettings,
} from '../../../src/core/augpe/prompts';
import { loadDataset } from '../../../src/core/data';
import { DataError } from '../../../src/core/errors';
import { repoRoot } from '../../support/cli';
import { seededRandom } from '../../support/rng';
import { tempDir, writeFile } from '../../support/tmp';

const BANK = {
  domain: 'customer messages to a bank',
  personas: ['a pensioner'],
  labels: {
    card_arrival: { keywords: ['a new debit card', 'a replacement card'] },
    exchange_rate: { keywords: ['euros'], personas: ['a tourist'] },
  },
};
const settings = (domain = DEFAULT_DOMAIN): PromptSettings => ({
  temperature: 1,
  maxTokens: 64,
  variation: 'paraphrase',
  maskProbability: 0.5,
  minWords: 5,
  wordVarScale: 10,
  domain,
});

test('a domain file: sentence and personas in every prompt, one of the label keywords as the topic, defaults for the rest', () => {
  const d = parseDomain(JSON.stringify(BANK, null, 2), 'domain.json');
  assert.equal(d.file, 'domain.json');
  assert.deepEqual(d.styles, STYLES, 'styles default to the built-in list');
  const rng = seededRandom('domain-prompts');
  const topics = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const r = randomApiRequest('card_arrival', settings(d), rng);
    const [sys, user] = r.messages!;
    assert.match(sys!.content, /The texts are customer messages to a bank\./);
    const m = /with this label, about (.+?), (.+), as if written by (.+)\.$/.exec(user!.content);
    assert.ok(m, user!.content);
    topics.add(m[1]!);
    assert.ok(STYLES.includes(m[2]!));
    assert.equal(m[3], 'a pensioner', "the file's personas replace the built-in ones");
  }
  assert.deepEqual([...topics].sort(), ['a new debit card', 'a replacement card'], 'every keyword is used, none else');
  const ex = randomApiRequest('exchange_rate', settings(d), rng).messages![1]!.content;
  assert.match(ex, /about euros, .* as if written by a tourist\.$/, 'per-label personas win over the file-wide ones');
  const other = randomApiRequest('lost_card', settings(d), rng).messages![1]!.content;
  assert.doesNotMatch(other, /about/, 'a label without keywords gets no topic');
  const v = variationRequest('card_arrival', 'where is my card', settings(d), rng);
  assert.match(v.messages![0]!.content, /The texts are customer messages to a bank\./);
});

test('without a domain file the prompts and their random draws are the built-in ones', () => {
  const a = seededRandom('same');
  const b = seededRandom('same');
  const noDomain = { ...settings(), domain: undefined };
  for (let i = 0; i < 20; i++)
    assert.deepEqual(randomApiRequest('x', settings(DEFAULT_DOMAIN), a), randomApiRequest('x', noDomain, b));
  const u = randomApiRequest('x', noDomain, a).messages![1]!.content;
  assert.ok(PERSONAS.some((p) => u.endsWith(`written by ${p}.`)));
});

test('bad domain files: one DataError naming the file, the line and the field, and what to do', () => {
  const cases: [string, RegExp][] = [
    [
      '{\n  "domain": "x",\n  "labels": {\n    "a": { "keywords": ["ok", 3] }\n  }\n}\n',
      /^d\.json:4: field labels\.a\.keywords\[1\]: .*string/,
    ],
    ['{\n  "domain": "x",\n  "colour": "blue"\n}\n', /^d\.json:3: field colour: unknown field/],
    ['{\n  "domain": "x",\n  "personas": []\n}\n', /^d\.json:3: field personas: give at least one persona/],
    ['{\n  "domain": "two\\nlines"\n}\n', /^d\.json:2: field domain: the domain sentence must be one line/],
    ['{\n  "domain": "x",\n}\n', /^d\.json:3: not valid JSON \(/],
    ['{\n  // a comment\n  "domain": "x"\n}\n', /^d\.json:2: not valid JSON/],
    ['', /^d\.json:1: not valid JSON/],
    ['[1, 2]', /^d\.json:1: field \(the whole file\): .*expected object/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseDomain(text, 'd.json'),
      (e: unknown) => {
        assert.ok(e instanceof DataError, String(e));
        assert.match(e.message, re);
        assert.ok(!e.message.includes('\n'), 'one line');
        assert.match(e.hint ?? '', /Fix the file/);
        return true;
      },
      text,
    );
  }
});

test('loadDomain: a missing default file means the defaults; a missing named file is an error', () => {
  const dir = tempDir('pfs-domain-');
  assert.equal(loadDomain(path.join(dir, 'none.json'), false), DEFAULT_DOMAIN);
  assert.throws(() => loadDomain(path.join(dir, 'none.json'), true), /none\.json: no such domain file/);
  const f = writeFile(dir, 'bank.json', JSON.stringify(BANK));
  assert.equal(loadDomain(f, true).sentence, 'customer messages to a bank');
  const t = writeFile(dir, 'template.json', domainTemplate(['card_arrival', 'constructor']));
  const tpl = loadDomain(t, true);
  assert.deepEqual(
    tpl.labels['constructor'],
    { keywords: [] },
    'a label named like an Object member is an ordinary key',
  );
  assert.deepEqual(tpl.personas, PERSONAS);
});

test('the published JSON schema (package.json jsonValidation) is the zod schema', () => {
  const committed = JSON.parse(readFileSync(path.join(repoRoot, 'schemas', 'domain.schema.json'), 'utf8'));
  assert.deepEqual(committed, domainJsonSchema(), 'run: node --import tsx scripts/domain-schema.mts');
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  const v = pkg.contributes.jsonValidation.find((x: { url: string }) => x.url === './schemas/domain.schema.json');
  assert.ok(v.fileMatch.includes('**/.private-fewshot/domain.json'));
});

test('the plan declares the domain file public (it is sent in prompts), or says the built-in lists are used', async () => {
  const root = tempDir('pfs-domain-plan-');
  writeFile(root, 'd.csv', 'text,label\nwhere is my card,card_arrival\nrate today,exchange_rate\n');
  const ds = await loadDataset('d.csv', { root });
  const base = { labels: ['card_arrival'], count: 2, epsilon: 2, delta: 1e-6 };
  assert.match(planAugPe(ds, base).declarations.join('\n'), /no domain file: .*built-in/);
  const d = parseDomain(JSON.stringify(BANK), '.private-fewshot/domain.json');
  const plan = planAugPe(ds, { ...base, domain: d });
  assert.match(
    plan.declarations.join('\n'),
    /domain file \.private-fewshot\/domain\.json is declared public: .*sent in prompts/,
  );
  assert.equal(plan.settings.domain, d);
});

test("ensureDomainFile creates a valid template once and never overwrites the user's file", () => {
  const root = tempDir('pfs-domain-ensure-');
  const a = ensureDomainFile(root, ['card_arrival']);
  assert.equal(a.created, true);
  assert.equal(a.file, path.join(root, '.private-fewshot', 'domain.json'));
  assert.deepEqual(loadDomain(a.file, true).labels['card_arrival'], { keywords: [] });
  writeFile(path.join(root, '.private-fewshot'), 'domain.json', JSON.stringify(BANK));
  const b = ensureDomainFile(root, ['other']);
  assert.equal(b.created, false);
  assert.equal(loadDomain(b.file, true).sentence, 'customer messages to a bank', 'kept');
});
