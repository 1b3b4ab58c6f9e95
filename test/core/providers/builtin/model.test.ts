import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBuiltinProvider, BUILTIN_MODEL_ID } from '../../../../src/core/providers/builtin';
import { NgramLanguageModel, nextDistribution, prepare } from '../../../../src/core/providers/builtin/model';
import { END_OF_TEXT, tokenize } from '../../../../src/core/providers/builtin/tokenizer';
import { UsageError } from '../../../../src/core/errors';
import type { Provider } from '../../../../src/core/providers/types';
import { requestRandom } from '../../../../src/core/providers/builtin/rng';
import { BACKGROUND_CORPUS } from '../../../../src/core/providers/builtin/corpus';

// Test-authored examples (not from the banking77 data).
const CARD = [
  'My card has not arrived yet.',
  'I need a new card because mine broke.',
  'Why was my card declined at the shop?',
  'Can I freeze my card in the app?',
  'My card expired last month.',
  'The chip on my card stopped working.',
];
const TRAVEL = [
  'I want to book a flight to Rome.',
  'Which hotel is closest to the beach?',
  'My flight was cancelled this morning.',
  'Can I change the date of my trip?',
  'Do I need a visa to visit Japan?',
  'The train to the airport was late.',
];

/** The DP few-shot prompt format: header, quoted text, newline; ends with an open quote for the target. */
function prompt(label: string, examples: string[]): string {
  const body = examples.map((e) => `Label: "${label}"\nText: "${e}"\n`).join('\n');
  return `Given a label, write an example of it.\n\n${body}\nLabel: "${label}"\nText: "`;
}
const cardPrompt = prompt('card', CARD);
const travelPrompt = prompt('travel', TRAVEL);

function fullDistribution(lm: NgramLanguageModel, p: string, continuation: string) {
  const prep = prepare(lm, p, continuation);
  const probs = nextDistribution(lm, prep);
  return { prep, probs, get: (tok: string) => probs[prep.state.id(prep.partial + tok) ?? -1] ?? 0 };
}

function wordsOf(texts: string[]): Set<string> {
  return new Set(texts.flatMap((t) => t.toLowerCase().match(/[a-z]+/g) ?? []));
}

test('every full next-token distribution sums to 1 and the provider top-k is it, sorted', async () => {
  const lm = new NgramLanguageModel();
  const p = createBuiltinProvider();
  const cases: [string, string][] = [
    [cardPrompt, ''],
    [cardPrompt, 'My card'],
    [cardPrompt, 'My card has not arrived yet.'],
    [cardPrompt, 'My ca'], // partial last token
    [cardPrompt, 'I lost my '], // trailing space
    [travelPrompt, 'xyzzy unknown words'],
    ['', ''],
    ['Some text with  double  spaces  ', ''], // ends in a run of spaces the vocabulary knows
  ];
  for (const [pr, cont] of cases) {
    const { probs, prep } = fullDistribution(lm, pr, cont);
    let sum = 0;
    for (const x of probs) {
      assert.ok(x >= 0);
      sum += x;
    }
    assert.ok(Math.abs(sum - 1) < 1e-9, `${JSON.stringify(cont)}: sum ${sum}`);
    const r = await p.nextTokens({ prompt: pr, continuation: cont, topK: 50, positions: 1 });
    const top = r.steps[0]!.top;
    assert.equal(top.length, Math.min(50, probs.filter((x) => x > 0).length));
    assert.ok(top.length >= 10);
    for (let i = 1; i < top.length; i++) assert.ok(top[i - 1]!.logprob >= top[i]!.logprob, 'sorted, most likely first');
    // The top-k are the k largest entries of the full distribution, with the same values.
    const sorted = [...probs].sort((a, b) => b - a);
    for (let i = 0; i < top.length; i++) assert.ok(Math.abs(Math.exp(top[i]!.logprob) - sorted[i]!) < 1e-12);
    for (const t of top)
      assert.ok(Math.abs(Math.log(probs[prep.state.id(prep.partial + t.token)!]!) - t.logprob) < 1e-12);
    assert.equal(r.steps[0]!.token, top[0]!.token);
    // The pointwise probability (used to score fill-in candidates) agrees with the dense distribution.
    const raw = lm.rawDistribution(prep.state, prep.ctx);
    for (let id = 0; id < raw.probs.length; id += 7)
      assert.ok(Math.abs(lm.rawProb(prep.state, prep.ctx, id) - raw.probs[id]!) < 1e-12);
    assert.ok(Math.abs(lm.rawProb(prep.state, prep.ctx, undefined) - raw.unseen) < 1e-15);
  }
});

test('deterministic: the same request gives the same answer, from a fresh provider too', async () => {
  const a = createBuiltinProvider();
  const b = createBuiltinProvider();
  const nt = { prompt: cardPrompt, continuation: 'I', topK: 20, positions: 8 };
  assert.deepEqual(await a.nextTokens(nt), await b.nextTokens(nt));
  assert.deepEqual(await a.nextTokens(nt), await a.nextTokens(nt));
  const gen = { prompt: travelPrompt, maxTokens: 30, n: 4, temperature: 1, stop: ['\n'] };
  const g1 = await a.generate(gen);
  assert.deepEqual(g1, await b.generate(gen));
  // The n completions use different seeds, so at temperature 1 they are not all the same.
  assert.ok(new Set(g1.texts).size > 1, JSON.stringify(g1.texts));
  // A different provider seed gives a different but again reproducible run.
  const c = createBuiltinProvider({ seed: 7 });
  const g2 = await c.generate(gen);
  assert.notDeepEqual(g2, g1);
  assert.deepEqual(g2, await createBuiltinProvider({ seed: 7 }).generate(gen));
});

test('the prompt changes the distribution: examples of one label pull the next word toward their words', async () => {
  const lm = new NgramLanguageModel();
  const card = fullDistribution(lm, cardPrompt, 'My');
  const travel = fullDistribution(lm, travelPrompt, 'My');
  assert.ok(card.get(' card') > 10 * travel.get(' card'), `${card.get(' card')} vs ${travel.get(' card')}`);
  assert.ok(travel.get(' flight') > 10 * card.get(' flight'), `${travel.get(' flight')} vs ${card.get(' flight')}`);
  const p = createBuiltinProvider();
  const cardTop = (await p.nextTokens({ prompt: cardPrompt, continuation: 'My', topK: 1, positions: 1 })).steps[0]!
    .token;
  const travelTop = (await p.nextTokens({ prompt: travelPrompt, continuation: 'My', topK: 1, positions: 1 })).steps[0]!
    .token;
  assert.equal(cardTop, ' card');
  assert.equal(travelTop, ' flight');
});

test("generated text shares more words with its own prompt's examples than with the other label's", async () => {
  const p = createBuiltinProvider();
  const cardWords = wordsOf(CARD);
  const travelWords = wordsOf(TRAVEL);
  const only = (a: Set<string>, b: Set<string>) => new Set([...a].filter((w) => !b.has(w)));
  const cardOnly = only(cardWords, travelWords);
  const travelOnly = only(travelWords, cardWords);
  for (const [pr, own, other] of [
    [cardPrompt, cardOnly, travelOnly],
    [travelPrompt, travelOnly, cardOnly],
  ] as const) {
    const g = await p.generate({ prompt: pr, maxTokens: 25, n: 12, temperature: 1, stop: ['\n'] });
    const words = [
      ...g.texts
        .join(' ')
        .toLowerCase()
        .matchAll(/[a-z]+/g),
    ].map((m) => m[0]);
    const ownHits = words.filter((w) => own.has(w)).length;
    const otherHits = words.filter((w) => other.has(w)).length;
    assert.ok(ownHits > 3 * Math.max(otherHits, 1), `own ${ownHits} vs other ${otherHits}: ${JSON.stringify(g.texts)}`);
  }
});

test('after an example ends, the closing quote and then a newline are likely, as in the prompt format', async () => {
  const lm = new NgramLanguageModel();
  const afterText = fullDistribution(lm, cardPrompt, 'My card is bent.');
  assert.ok(afterText.get('"') > 0.5, `P(") = ${afterText.get('"')}`);
  const afterQuote = fullDistribution(lm, cardPrompt, 'My card is bent."');
  assert.ok(afterQuote.get('\n') > 0.5, `P(\\n) = ${afterQuote.get('\n')}`);
  // The end-of-text token is in the vocabulary and the background model ends sentences with it.
  const plain = fullDistribution(lm, '', 'The weather changed three times in one hour.');
  assert.ok(plain.get(END_OF_TEXT) > 0.5, `P(eot) = ${plain.get(END_OF_TEXT)}`);
});

test('after a colon header ("Text:") the first word comes with its leading space, from the examples or the corpus', async () => {
  const p = createBuiltinProvider();
  const colonPrompt = (examples: string[]) =>
    `Given a label, write a short text.\n\n${examples.map((e) => `Label: card\nText: ${e}\n`).join('\n')}\nLabel: card\nText:`;
  // Zero-shot (no examples): the corpus's sentence starts, spaced.
  const zero = await p.nextTokens({ prompt: colonPrompt([]), continuation: '', topK: 10, positions: 6 });
  for (const t of zero.steps[0]!.top) assert.match(t.token, /^ \S/, 'space-led after the colon');
  assert.match(zero.steps.map((s) => s.token).join(''), /^ [A-Z][a-z]* [a-z]+/, 'then an ordinary sentence');
  // With examples, their first words lead, and an example ends with a newline.
  const few = await p.nextTokens({ prompt: colonPrompt(CARD), continuation: '', topK: 5, positions: 12 });
  assert.ok([' My', ' I', ' Why', ' Can', ' The'].includes(few.steps[0]!.token), few.steps[0]!.token);
  const text = few.steps.map((s) => s.token).join('');
  assert.ok(
    CARD.some((e) => text.startsWith(` ${e}\n`)),
    JSON.stringify(text),
  );
});

test('speculative lookahead equals step-by-step calls that append the greedy token', async () => {
  const p = createBuiltinProvider();
  const cases: [string, string, string[] | undefined][] = [
    [cardPrompt, '', undefined],
    [cardPrompt, 'Why', undefined],
    [travelPrompt, 'I want', [' to', ' a', ' the']],
    [cardPrompt, 'My ca', undefined], // starts with a healed partial token
    [cardPrompt, 'I lost my ', undefined],
    ['Notes:\n', 'The', undefined],
  ];
  for (const [pr, cont, candidates] of cases) {
    const P = 12;
    const spec = await p.nextTokens({
      prompt: pr,
      continuation: cont,
      topK: 10,
      positions: P,
      ...(candidates ? { candidates } : {}),
    });
    let text = cont;
    for (let i = 0; i < spec.steps.length; i++) {
      const one = await p.nextTokens({
        prompt: pr,
        continuation: text,
        topK: 10,
        positions: 1,
        ...(i === 0 && candidates ? { candidates } : {}),
      });
      assert.deepEqual(one.steps[0], spec.steps[i], `${JSON.stringify(cont)} step ${i}`);
      text += one.steps[0]!.token;
    }
    // Steps end early only at the end-of-text token.
    assert.ok(spec.steps.length === P || spec.steps[spec.steps.length - 1]!.token === END_OF_TEXT);
    // The emitted tokens keep the text's tokenization: prompt tokens + continuation tokens + emitted tokens.
    const emitted = spec.steps.map((s) => s.token).filter((t) => t !== END_OF_TEXT);
    assert.equal(tokenize(pr + cont + emitted.join('')).join(''), pr + cont + emitted.join(''));
  }
});

test('speculative lookahead equals step-by-step calls on random cuts of corpus text (mid-word and mid-space too)', async () => {
  const p = createBuiltinProvider();
  const rand = requestRandom('spec-cuts');
  const source = [...CARD, ...TRAVEL, ...BACKGROUND_CORPUS.slice(0, 40)];
  for (let n = 0; n < 30; n++) {
    const text = source[Math.floor(rand() * source.length)]!;
    const cut = text.slice(0, Math.floor(rand() * (text.length + 1)));
    const pr = n % 2 ? cardPrompt : travelPrompt;
    const spec = await p.nextTokens({ prompt: pr, continuation: cut, topK: 3, positions: 6 });
    let cont = cut;
    for (const step of spec.steps) {
      const one = await p.nextTokens({ prompt: pr, continuation: cont, topK: 3, positions: 1 });
      assert.deepEqual(one.steps[0], step, JSON.stringify(cut));
      cont += step.token;
    }
  }
});

test('a partial last word is completed (token healing); a known word is taken as complete', async () => {
  const p = createBuiltinProvider();
  const healed = await p.nextTokens({ prompt: cardPrompt, continuation: 'Can I freeze my ca', topK: 5, positions: 2 });
  assert.equal(healed.steps[0]!.token, 'rd');
  for (const t of healed.steps[0]!.top) assert.ok(/^\S/.test(t.token), 'remainders glue to the partial word');
  assert.equal(healed.steps[1]!.token, ' in');
  const space = await p.nextTokens({ prompt: cardPrompt, continuation: 'Can I freeze my ', topK: 5, positions: 1 });
  assert.equal(space.steps[0]!.token, 'card');
  const complete = await p.nextTokens({
    prompt: cardPrompt,
    continuation: 'Can I freeze my card',
    topK: 50,
    positions: 1,
  });
  for (const t of complete.steps[0]!.top)
    assert.ok(!/^[a-z]/i.test(t.token), `no glued piece after a known word: ${t.token}`);
});

test("candidates restrict the first position and renormalise, keeping the model's ratios", async () => {
  const lm = new NgramLanguageModel();
  const p = createBuiltinProvider();
  const full = fullDistribution(lm, cardPrompt, 'My card');
  const candidates = [' has', ' expired', ' is', ' zebra-never-seen', ' has'];
  const r = await p.nextTokens({ prompt: cardPrompt, continuation: 'My card', topK: 10, positions: 3, candidates });
  const top = r.steps[0]!.top;
  assert.deepEqual(top.map((t) => t.token).sort(), [' expired', ' has', ' is', ' zebra-never-seen'].sort());
  assert.ok(Math.abs(top.reduce((a, t) => a + Math.exp(t.logprob), 0) - 1) < 1e-12);
  const lp = (tok: string) => top.find((t) => t.token === tok)!.logprob;
  assert.ok(Math.abs(lp(' has') - lp(' is') - Math.log(full.get(' has') / full.get(' is'))) < 1e-9);
  assert.ok(lp(' zebra-never-seen') < lp(' is'));
  assert.ok([' has', ' expired'].includes(r.steps[0]!.token));
  // Later positions are not restricted.
  assert.ok(r.steps[1]!.top.some((t) => !candidates.includes(t.token)));
});

test('generate: temperature 0 is the greedy continuation; stop, maxTokens and end-of-text are honoured', async () => {
  const p = createBuiltinProvider();
  const spec = await p.nextTokens({ prompt: cardPrompt, continuation: '', topK: 1, positions: 40 });
  const greedy = spec.steps.map((s) => s.token);
  const nl = greedy.indexOf('\n');
  const g = await p.generate({ prompt: cardPrompt, maxTokens: 40, temperature: 0, stop: ['\n'] });
  assert.equal(g.texts[0], greedy.slice(0, nl).join(''));
  // maxTokens counts tokens.
  const short = await p.generate({ prompt: cardPrompt, maxTokens: 3, temperature: 0 });
  assert.equal(short.texts[0], greedy.slice(0, 3).join(''));
  // A stop sequence is cut, together with what follows it.
  const cut = await p.generate({ prompt: cardPrompt, maxTokens: 40, temperature: 0, stop: [' not'] });
  assert.equal(cut.texts[0], greedy.join('').split(' not')[0]);
  // Sampled texts never contain a stop sequence and stay within maxTokens.
  const many = await p.generate({ prompt: travelPrompt, maxTokens: 12, n: 10, temperature: 1.3, stop: ['"'] });
  for (const t of many.texts) {
    assert.ok(!t.includes('"'));
    assert.ok(tokenize(t).length <= 12);
  }
  // With no prompt the background model writes a sentence and ends it with end-of-text well before maxTokens.
  const free = await p.generate({ prompt: '', maxTokens: 200, temperature: 0 });
  assert.ok(free.texts[0]!.length > 5 && tokenize(free.texts[0]!).length < 60, JSON.stringify(free.texts[0]));
  assert.ok(!free.texts[0]!.includes(END_OF_TEXT));
});

test('chat messages are flattened; a final assistant message is continued', async () => {
  const p = createBuiltinProvider();
  const fromChat = await p.generate({
    messages: [
      { role: 'system', content: 'You write short examples.' },
      { role: 'user', content: 'Write about a card.' },
    ],
    maxTokens: 20,
    temperature: 0.7,
  });
  const fromPrompt = await p.generate({
    prompt: 'You write short examples.\n\nWrite about a card.\n\n',
    maxTokens: 20,
    temperature: 0.7,
  });
  assert.deepEqual(fromChat, fromPrompt);
  const prefilled = await p.generate({
    messages: [
      { role: 'user', content: cardPrompt.slice(0, -'Text: "'.length) },
      { role: 'assistant', content: 'Text: "Why' },
    ],
    maxTokens: 5,
    temperature: 0,
  });
  const expected = await p.nextTokens({
    prompt: cardPrompt.slice(0, -'Text: "'.length) + '\n\n',
    continuation: 'Text: "Why',
    topK: 1,
    positions: 5,
  });
  assert.equal(prefilled.texts[0], expected.steps.map((s) => s.token).join(''));
});

test('fill in the blanks: blanks are filled from the model, the known text is kept verbatim', async () => {
  const p = createBuiltinProvider();
  const fillPrompt = [
    'You are a helpful, pattern-following assistant.',
    ...CARD.map((e) => `Example: ${e}`),
    'Input: My _ has not _ yet, can you _ it? See snake_case.',
    'Fill-in-Blanks and your answer MUST be exactly 12 words:',
  ].join('\n');
  const g = await p.generate({ prompt: fillPrompt, maxTokens: 60, n: 6, temperature: 1 });
  assert.equal(g.texts.length, 6);
  for (const t of g.texts) {
    const m = /^My (\S+) has not (\S+) yet, can you (\S+) it\? See snake_case\.$/.exec(t);
    assert.ok(m, `kept the known text: ${JSON.stringify(t)}`);
    for (const w of m.slice(1)) assert.ok(!w.includes('_'));
  }
  // Conditioning on the examples: the first blank after "My" is usually the examples' noun.
  const firsts = g.texts.map((t) => t.split(' ')[1]);
  assert.ok(firsts.filter((w) => w === 'card').length >= 3, JSON.stringify(firsts));
  // Greedy filling is deterministic and also keeps the known text.
  const g0 = await p.generate({ prompt: fillPrompt, maxTokens: 60, temperature: 0 });
  assert.deepEqual(g0, await p.generate({ prompt: fillPrompt, maxTokens: 60, temperature: 0 }));
  assert.match(g0.texts[0]!, /^My card has not \S+ yet, can you \S+ it\? See snake_case\.$/);
  // Glued blanks ("I_ my", as a decoded tiktoken mask gives) get a spaced word.
  const glued = await p.generate({ prompt: 'Input: Why was_ card declined?', maxTokens: 20, temperature: 0 });
  assert.match(glued.texts[0]!, /^Why was \S+ card declined\?$/);
});

test('an aborted signal rejects every method, and an abort lands during a long generate', async () => {
  const p = createBuiltinProvider();
  const signal = AbortSignal.abort();
  const isAbort = (e: unknown) => (e as Error).name === 'AbortError';
  await assert.rejects(p.nextTokens({ prompt: 'x', continuation: '', topK: 1, positions: 1, signal }), isAbort);
  await assert.rejects(p.generate({ prompt: 'x', maxTokens: 1, signal }), isAbort);
  await assert.rejects(p.embed(['x'], signal), isAbort);
  await assert.rejects(p.capabilities(signal), isAbort);
  const ctl = new AbortController();
  const run = p.generate({ prompt: travelPrompt, maxTokens: 300, n: 200, temperature: 1.5, signal: ctl.signal });
  setImmediate(() => ctl.abort());
  await assert.rejects(run, isAbort);
});

test('capabilities, identity and exact usage', async () => {
  const p: Provider = createBuiltinProvider();
  assert.equal(p.kind, 'builtin');
  assert.equal(p.model, BUILTIN_MODEL_ID);
  assert.equal(p.offline, true);
  const caps = await p.capabilities();
  assert.deepEqual(caps.nextTokenLogprobs, { maxTopK: 50, mode: 'native', logitBias: true });
  assert.equal(caps.generate, true);
  assert.equal(caps.embed, true);
  assert.equal(caps.embedDimensions, 512);
  assert.ok(caps.notes.some((n) => /not for production/i.test(n)));
  assert.deepEqual(p.usage(), { calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 });

  const r = await p.nextTokens({ prompt: cardPrompt, continuation: 'My', topK: 500, positions: 4 });
  assert.equal(r.steps[0]!.top.length, 50, 'topK is clamped to maxTopK');
  await p.generate({ prompt: cardPrompt, maxTokens: 7, n: 3, temperature: 0 });
  await p.embed(['two words', 'three more words']);
  assert.deepEqual(p.usage(), {
    calls: 3,
    inputTokens: tokenize(cardPrompt + 'My').length + tokenize(cardPrompt).length + 5,
    outputTokens: 4 + 3 * 7,
    cost: 0,
  });
});

test('invalid requests and options are usage errors', async () => {
  assert.throws(() => createBuiltinProvider({ model: 'gpt-4o' }), UsageError);
  assert.equal(createBuiltinProvider({ model: 'builtin' }).model, BUILTIN_MODEL_ID);
  assert.throws(() => createBuiltinProvider({ order: 9 }), UsageError);
  const p = createBuiltinProvider();
  await assert.rejects(p.nextTokens({ prompt: 'x', continuation: '', topK: 0, positions: 1 }), UsageError);
  await assert.rejects(
    p.nextTokens({ prompt: 'x', continuation: '', topK: 1, positions: 1, candidates: [] }),
    UsageError,
  );
  await assert.rejects(p.generate({ maxTokens: 3 }), UsageError);
  await assert.rejects(p.generate({ prompt: 'x', maxTokens: 3, temperature: -1 }), UsageError);
});

// The DP few-shot prompts (src/core/fewshot/prompt.ts DEFAULT_FORMAT), written out here.
const INSTRUCTION = 'Given a label, write a short text of that kind, in the style of the examples.';
const zeroShot = (label: string) => `${INSTRUCTION}\n\nLabel: ${label}\nText:`;
const fewShot = (label: string, examples: string[]) =>
  `${INSTRUCTION}\n\n${examples.map((e) => `Label: ${label}\nText: ${e}\n\n`).join('')}Label: ${label}\nText:`;

test('topic: the label name of a zero-shot prompt reaches its top-50 where the n-gram model alone never proposes it', async () => {
  const withTopic = createBuiltinProvider();
  const without = createBuiltinProvider({ topicWeight: 0 });
  const top = async (p: Provider, pr: string, cont: string) =>
    (await p.nextTokens({ prompt: pr, continuation: cont, topK: 50, positions: 1 })).steps[0]!.top.map((t) => t.token);
  for (const [label, words] of [
    ['card_arrival', [' card', ' arrival', ' arrived']],
    ['cardArrival', [' card', ' arrival', ' arrived']],
    ['pin-blocked', [' pin', ' blocked']],
  ] as const) {
    for (const cont of [' I have not received my', ' Where is the', ' Can I']) {
      const a = await top(withTopic, zeroShot(label), cont);
      const b = await top(without, zeroShot(label), cont);
      for (const w of words) {
        assert.ok(a.includes(w), `${label} ${JSON.stringify(cont)}: ${w} in the top-50 with the topic`);
        assert.ok(!b.includes(w), `${label} ${JSON.stringify(cont)}: ${w} not in the top-50 without it`);
      }
    }
  }
  // Another label's words get nothing from this prompt's topic.
  assert.ok(!(await top(withTopic, zeroShot('pin_blocked'), ' I have not received my')).includes(' card'));
});

test('topic: distributions still sum to 1, agree pointwise, and a prompt without fields is unchanged', () => {
  const lm = new NgramLanguageModel();
  const off = new NgramLanguageModel({ topicWeight: 0 });
  for (const [pr, cont] of [
    [zeroShot('lost_or_stolen_card'), ''],
    [zeroShot('lost_or_stolen_card'), ' Someone stole my'],
    [fewShot('card_arrival', ['Where is my new card?', "I haven't received my card."]), ' I'],
    [fewShot('card_arrival', ['Where is my new card?']), ' Where is my ne'], // partial last token
  ] as const) {
    const { probs, prep } = fullDistribution(lm, pr, cont);
    assert.ok(prep.state.topicWeight > 0);
    assert.ok(Math.abs(probs.reduce((a, x) => a + x, 0) - 1) < 1e-9, JSON.stringify(cont));
    const raw = lm.rawDistribution(prep.state, prep.ctx);
    assert.ok(
      Math.abs(raw.probs.reduce((a, x) => a + x, 0) - 1) < 1e-9,
      'the raw mixture sums to 1 over the vocabulary',
    );
    for (let id = 0; id < raw.probs.length; id += 5)
      assert.ok(Math.abs(lm.rawProb(prep.state, prep.ctx, id) - raw.probs[id]!) < 1e-12);
    for (const [id] of prep.state.topic)
      assert.ok(Math.abs(lm.rawProb(prep.state, prep.ctx, id) - raw.probs[id]!) < 1e-12);
    assert.ok(Math.abs(lm.rawProb(prep.state, prep.ctx, undefined) - raw.unseen) < 1e-15);
  }
  for (const [pr, cont] of [
    ['', 'The weather'],
    ['Notes from the trip. We walked to the river.\n', 'We'],
  ] as const) {
    const a = fullDistribution(lm, pr, cont);
    const b = fullDistribution(off, pr, cont);
    assert.equal(a.prep.state.topicWeight, 0);
    assert.deepEqual([...a.probs], [...b.probs]);
  }
});

test("topic: in a private prompt the examples' words gain mass, so its vote leans to them", () => {
  const lm = new NgramLanguageModel();
  const off = new NgramLanguageModel({ topicWeight: 0 });
  const pr = fewShot('card_arrival', [
    'Can I track the delivery of my card?',
    'Is there a tracking number for the card?',
  ]);
  // A context the examples never had: the n-gram model alone gives their words almost nothing.
  const a = fullDistribution(lm, pr, ' I would like to');
  const b = fullDistribution(off, pr, ' I would like to');
  assert.ok(a.get(' track') > 10 * b.get(' track'), `${a.get(' track')} vs ${b.get(' track')}`);
  assert.ok(a.get(' card') > 10 * b.get(' card'));
});

test("topic: a public prompt's answer does not depend on which private prompts the model served before", async () => {
  const fresh = createBuiltinProvider();
  const used = createBuiltinProvider({ cacheSize: 2 });
  for (const e of CARD)
    await used.nextTokens({
      prompt: fewShot('card_arrival', [e, ...TRAVEL]),
      continuation: ' My',
      topK: 50,
      positions: 2,
    });
  const req = { prompt: zeroShot('card_arrival'), continuation: ' My', topK: 50, positions: 4 };
  assert.deepEqual(await used.nextTokens(req), await fresh.nextTokens(req));
});

test('topic weight is validated', () => {
  assert.throws(() => createBuiltinProvider({ topicWeight: 1 }), UsageError);
  assert.throws(() => createBuiltinProvider({ topicWeight: -0.1 }), UsageError);
  assert.throws(() => createBuiltinProvider({ topicWeight: Number.NaN }), UsageError);
  assert.equal(new NgramLanguageModel({ topicWeight: 0 }).topicWeight, 0);
});
