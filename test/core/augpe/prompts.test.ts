import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUGPE_DEFAULTS } from '../../../src/core/augpe/plan';
import {
  PERSONAS,
  STYLES,
  cleanOutput,
  humanizeLabel,
  maskWords,
  randomApiRequest,
  targetLength,
  variationRequest,
  wordsOf,
  type PromptSettings,
} from '../../../src/core/augpe/prompts';
import { seededRandom } from '../../support/rng';

const settings: PromptSettings = {
  temperature: 1,
  maxTokens: 128,
  variation: 'fill-blanks',
  maskProbability: 0.5,
  minWords: 5,
  wordVarScale: 10,
};
const userText = (r: { messages?: { role: string; content: string }[] }) =>
  r
    .messages!.filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join('\n');

test('RANDOM_API: the label as words plus one style and one persona from the public lists, and nothing else', () => {
  const rng = seededRandom('random-api');
  const styles = new Set<string>();
  const personas = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const r = randomApiRequest('card_arrival', settings, rng);
    const u = userText(r);
    assert.ok(u.startsWith('Label: card arrival\n'));
    const style = STYLES.filter((s) => u.includes(`, ${s},`));
    const persona = PERSONAS.filter((p) => u.endsWith(`written by ${p}.`));
    assert.equal(style.length, 1, u);
    assert.equal(persona.length, 1, u);
    styles.add(style[0]!);
    personas.add(persona[0]!);
    assert.equal(r.maxTokens, 128);
    assert.equal(r.temperature, 1);
  }
  assert.equal(styles.size, STYLES.length, 'every style is drawn');
  assert.equal(personas.size, PERSONAS.length, 'every persona is drawn');
  assert.equal(humanizeLabel('lost_or-stolen__card'), 'lost or stolen card');
  assert.equal(humanizeLabel('___'), '___');
});

test('masking by words: each word is masked with probability p, the others stay in place, at least one is masked', () => {
  const rng = seededRandom('mask');
  const text = 'one two three four five six seven eight nine ten';
  let masked = 0;
  const trials = 2000;
  for (let t = 0; t < trials; t++) {
    const m = maskWords(text, 0.3, rng).split(' ');
    assert.equal(m.length, 10);
    m.forEach((w, i) => assert.ok(w === '_' || w === text.split(' ')[i]));
    assert.ok(m.includes('_'));
    masked += m.filter((w) => w === '_').length;
  }
  // E[masked] = 10p plus the forced mask when none was drawn (probability 0.7^10 ≈ 0.028): ≈ 3.028 per text.
  const mean = masked / trials;
  const expected = 10 * 0.3 + 0.7 ** 10;
  const sd = Math.sqrt((10 * 0.3 * 0.7) / trials);
  assert.ok(Math.abs(mean - expected) < 5 * sd, `mean ${mean} vs ${expected}`);
  assert.equal(maskWords('', 0.5, rng), '_');
});

test('adaptive length: target = max(minWords, words + trunc(N(0, p·scale))), unbiased above the floor; tokens capped', () => {
  const rng = seededRandom('length');
  const sample = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
  const draws = Array.from({ length: 4000 }, () => targetLength(sample, settings, rng));
  const mean = draws.reduce((a, d) => a + d.words, 0) / draws.length;
  // std p·scale = 5; trunc() is symmetric about 0, so the mean stays 40.
  assert.ok(Math.abs(mean - 40) < 5 * (5 / Math.sqrt(draws.length)), `mean ${mean}`);
  const sd = Math.sqrt(draws.reduce((a, d) => a + (d.words - 40) ** 2, 0) / draws.length);
  assert.ok(sd > 4 && sd < 6, `sd ${sd}`);
  assert.ok(draws.every((d) => Number.isInteger(d.words) && d.maxTokens === Math.min(128, Math.ceil(2 * d.words) + 8)));
  const short = Array.from({ length: 500 }, () => targetLength('hi there', settings, rng));
  assert.ok(short.every((d) => d.words >= settings.minWords));
});

test('VARIATION_API: fill-blanks puts the masked sample on the Input line; paraphrase quotes the sample', () => {
  const rng = seededRandom('variation');
  const sample = 'When will the new card I ordered last week finally arrive here';
  const r = variationRequest('card_arrival', sample, settings, rng);
  const u = userText(r);
  const input = /\nInput: (.*)$/.exec(u)![1]!;
  assert.equal(wordsOf(input).length, wordsOf(sample).length);
  assert.ok(input.includes('_'));
  assert.match(u, /MUST be exactly \d+ words/);
  assert.ok(STYLES.some((s) => u.includes(`input ${s},`)));
  const p = variationRequest('card_arrival', sample, { ...settings, variation: 'paraphrase' }, rng);
  assert.ok(userText(p).endsWith(`\nText: ${sample}`));
  assert.equal(p.maxTokens, 128);
});

test('output clean-up: "(n words)" notes, quotes and extra whitespace go; an empty answer keeps the fallback', () => {
  assert.equal(cleanOutput('  "My card  has not\narrived." (12 words) ', 'x'), 'My card has not arrived.');
  assert.equal(cleanOutput(' \n ', 'the sample'), 'the sample');
  assert.equal(AUGPE_DEFAULTS.variations, 3);
});
