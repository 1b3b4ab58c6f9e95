import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ceil4,
  describeBudget,
  editorHint,
  fmt,
  parseTotalEpsilon,
  raiseConfirmation,
} from '../../src/extension/budget';
import { BudgetExceededError, type PlanCheck, type RunPlan } from '../../src/core/ledger';

test('the new total ε: positive finite decimal numbers are accepted as typed', () => {
  const spent = { spent: 0 };
  for (const [text, value] of [
    ['6', 6],
    [' 2.5 ', 2.5],
    ['1e1', 10],
    ['.5', 0.5],
    ['+3', 3],
    ['4.', 4],
    ['1E-3', 0.001],
  ] as const) {
    assert.deepEqual(parseTotalEpsilon(text, spent), { ok: true, epsilon: value }, text);
  }
});

test('the new total ε: anything else is refused with a message (Number() would take several of these)', () => {
  for (const text of [
    '',
    '   ',
    'abc',
    '0',
    '-1',
    '0.0',
    'Infinity',
    '1e400',
    '0x10',
    'NaN',
    '1,5',
    '2 3',
    '1e',
    '--1',
    '٣',
  ]) {
    const r = parseTotalEpsilon(text, { spent: 0 });
    assert.equal(r.ok, false, JSON.stringify(text));
    if (!r.ok) assert.match(r.message, /positive/, text);
  }
});

test('a total below what is already spent is refused, saying how much is spent and which minimum would do', () => {
  const r = parseTotalEpsilon('0.5', { spent: 1.23441 });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.match(r.message, /already spent ε = 1\.23\b/);
  assert.match(r.message, /Enter 1\.235 or more/);
  assert.equal(parseTotalEpsilon('1.234', { spent: 1.23441 }).ok, false);
  assert.deepEqual(parseTotalEpsilon('1.235', { spent: 1.23441 }), { ok: true, epsilon: 1.235 });
  // Exactly the spent amount is allowed (nothing remains).
  assert.deepEqual(parseTotalEpsilon('2', { spent: 2 }), { ok: true, epsilon: 2 });
});

test('the minimum the refusal suggests is always accepted (rounded up, never down)', () => {
  for (const spent of [
    1e-9, 0.000123456, 0.0999999, 0.9997, 1, 1.0000000001, 2.5, 3.14159265, 9.99951, 123.45678, 99999.5,
  ]) {
    const min = ceil4(spent);
    assert.ok(min >= spent, `${min} < ${spent}`);
    assert.ok(min <= spent * 1.001 + 1e-15, `${min} is far above ${spent}`);
    assert.equal(Number(min.toPrecision(4)), min, `${min} has more than 4 significant digits`);
    assert.equal(parseTotalEpsilon(String(min), { spent }).ok, true, `suggested ${min} for spent ${spent} is refused`);
  }
  assert.equal(ceil4(0), 0);
});

test('the input box line and the raise confirmation state the figures', () => {
  assert.equal(
    describeBudget({ total: 4, delta: 6.6e-5, spent: 0.99971, remaining: 3.00029 }),
    'Total ε 4 at δ 6.6e-5; spent 1; remaining 3.',
  );
  assert.match(
    describeBudget({ total: 1, delta: 1e-5, spent: 1.5, remaining: -0.5 }),
    /remaining 0 \(over the total by 0\.5\)\.$/,
  );
  const c = raiseConfirmation('data/train.csv', 4, 8, 6.6e-5);
  assert.match(c.message, /from ε = 4 to ε = 8/);
  assert.match(c.detail, /^The dataset's guarantee becomes ε = 8 for all releases, past and future/);
  assert.equal(c.button, 'Raise to ε = 8');
  assert.equal(fmt(0.123456), '0.12');
});

/** The three refusal hints of the ledger, built by the ledger's own error class. */
function refusals(path: string): string[] {
  const plan: RunPlan = {
    algorithm: 'dp-few-shot',
    charges: [
      { partition: 'label:a', mechanism: { kind: 'poisson-gaussian', sigma: 1, samplingRate: 0.1, steps: 10 } },
    ],
  };
  const base: PlanCheck = {
    fits: false,
    total: { epsilon: 4, delta: 1e-5, source: 'user' },
    spentBefore: 1,
    spentAfter: 5,
    pldBefore: 1,
    pldAfter: 5,
    epsilonRun: 4,
    over: 1,
  };
  return [
    new BudgetExceededError({ ...base, suggestion: { sigmas: [2] } }, path, plan),
    new BudgetExceededError(base, path, plan),
    new BudgetExceededError({ ...base, spentBefore: 4 }, path, plan),
  ].map((e) => e.hint ?? '');
}

test("the ledger's refusal hints point at the Set Privacy Budget… button in the editor", () => {
  const path = 'data/my train.csv';
  for (const hint of refusals(path)) {
    assert.match(hint, /--set-total EPS/, 'the ledger changed how it names the CLI: update editorHint');
    const shown = editorHint(hint, path);
    assert.doesNotMatch(shown, /private-fewshot budget|--set-total/, shown);
    assert.match(shown, /Set Privacy Budget…/);
  }
  // Other text is left alone, and so is a hint for another dataset.
  assert.equal(editorHint('Try a larger σ.', path), 'Try a larger σ.');
  assert.match(editorHint(refusals('other.csv')[0]!, path), /private-fewshot budget other\.csv --set-total EPS/);
});
