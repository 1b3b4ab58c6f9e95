import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MIN_RELATED_STEM,
  fieldValues,
  promptTopic,
  stem,
  topicWords,
} from '../../../../src/core/providers/builtin/topic';

const zeroShot = (label: string) =>
  `Given a label, write a short text of that kind, in the style of the examples.\n\nLabel: ${label}\nText:`;

test('field values are the text after "Key:" on a line; the instruction and empty fields are not', () => {
  assert.deepEqual(fieldValues(zeroShot('card_arrival')), [' card_arrival']);
  const fewShot = `Write one.\n\nLabel: pin_blocked\nText: My PIN is blocked.\n\nLabel: pin_blocked\nText:`;
  assert.deepEqual(
    fieldValues(fewShot).map((v) => v.trim()),
    ['pin_blocked', 'My PIN is blocked.', 'pin_blocked'],
  );
  // A line whose text before the colon is a sentence, not a short key, is not a field.
  assert.deepEqual(fieldValues('Given a label, write it: now\nExample (short): fine\r\nInput: a _ b'), [' a _ b']);
  assert.deepEqual(fieldValues(''), []);
});

test('topic words split label names at _, - and camelCase, lower-cased, one-letter words dropped', () => {
  assert.deepEqual(topicWords('card_arrival'), ['card', 'arrival']);
  assert.deepEqual(topicWords('cardArrival'), ['card', 'arrival']);
  assert.deepEqual(topicWords('PINBlocked'), ['pin', 'blocked']);
  assert.deepEqual(topicWords('lost_or_stolen_card'), ['lost', 'or', 'stolen', 'card']);
  assert.deepEqual(topicWords('top-up failed'), ['top', 'up', 'failed']);
  assert.deepEqual(topicWords("I'm 2 days late"), ['days', 'late']);
});

test('stem relates inflected forms of a word and keeps short stems apart', () => {
  for (const w of ['arrived', 'arrive', 'arrives', 'arriving']) assert.equal(stem(w), stem('arrival'), w);
  assert.equal(stem('cards'), 'card');
  assert.equal(stem('stopped'), 'stop');
  assert.equal(stem('charged'), stem('charge'));
  assert.notEqual(stem('card'), stem('care'));
  // "rate" and "rats" share a 3-letter stem, which relates nothing.
  assert.ok(stem('rate').length < MIN_RELATED_STEM);
});

test('the topic of a zero-shot prompt is its label name; content words outweigh function words', () => {
  assert.deepEqual([...promptTopic(zeroShot('card_arrival')).keys()], ['card', 'arrival']);
  const t = promptTopic(zeroShot('top_up_by_card_charge'));
  assert.deepEqual([...t.keys()], ['top', 'up', 'by', 'card', 'charge']);
  assert.ok(t.get('card')! > t.get('by')!, 'card (absent from the background corpus) weighs more than "by"');
  assert.ok(t.get('charge')! > t.get('up')!);
  // A word repeated in the field values counts more, sublinearly.
  const two = promptTopic('Label: card\nText: my card\nLabel: card\nText:');
  assert.ok(two.get('card')! > 2 * promptTopic('Label: card\nText:').get('card')!);
  assert.ok(two.get('card')! < 3 * promptTopic('Label: card\nText:').get('card')!);
  // No fields, no topic: plain text keeps the background model's behaviour.
  assert.equal(promptTopic('The weather changed three times in one hour.').size, 0);
});
