import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  callEstimate,
  classificationPrompt,
  classify,
  evaluateInContext,
  maxSteps,
  realDemos,
  type Condition,
} from '../../../src/core/evaluate/incontext';
import { wilson } from '../../../src/core/evaluate/stats';
import { ORACLE_LABELS, oracleProvider } from '../../support/oracle-classifier';
import { seededRandom } from '../../support/rng';

const rows = ORACLE_LABELS.flatMap((label, j) =>
  Array.from({ length: 4 + 3 * j }, (_, i) => ({ label, text: `note ${i} regarding ${label}` })),
); // 4 card_arrival, 7 card_linking, 10 exchange_rate
const demo = (label: string) => ({ label, text: `example regarding ${label}` });

for (const mode of ['logprobs', 'generation'] as const) {
  test(`evaluateInContext (${mode}): accuracy and Wilson intervals on a model with known answers`, async () => {
    const provider = oracleProvider(mode);
    const conditions: Condition[] = [
      { kind: 'zero-shot', name: 'zero', epsilon: 0, demos: [] },
      // Shows card_arrival and card_linking but not exchange_rate (its demonstration is off-topic).
      {
        kind: 'dp',
        name: 'dp',
        epsilon: 2,
        demos: [demo('card_arrival'), demo('card_linking'), { label: 'exchange_rate', text: 'off topic' }],
      },
      { kind: 'real', name: 'real', epsilon: Infinity, demos: ORACLE_LABELS.map(demo) },
    ];
    const r = await evaluateInContext({
      provider,
      mode,
      labels: ORACLE_LABELS,
      conditions,
      rows,
      topK: 20,
      maxCalls: 10_000,
    });
    const [zero, dp, real] = r.conditions;
    assert.deepEqual(
      [zero!.overall.correct, dp!.overall.correct, real!.overall.correct].map((k) => k),
      [4, 11, 21],
    );
    assert.equal(zero!.overall.n, 21);
    assert.deepEqual({ low: dp!.overall.low, high: dp!.overall.high }, wilson(11, 21));
    assert.deepEqual(
      dp!.perLabel.map((l) => [l.label, l.correct, l.n]),
      [
        ['card_arrival', 4, 4],
        ['card_linking', 7, 7],
        ['exchange_rate', 0, 10],
      ],
    );
    assert.equal(r.rowsEvaluated, 21);
    assert.equal(r.calls, provider.calls, 'every call counted');
    if (mode === 'generation') assert.equal(r.calls, 63);
    // logprobs: the tokens " card", "_" are shared, so an answer card_* takes three calls, exchange_rate one.
    // Zero-shot answers card_arrival for all 21, dp for all 21 (exchange_rate rows too), real 11 card_* + 10.
    else assert.equal(r.calls, 21 * 3 + 21 * 3 + (11 * 3 + 10));
  });
}

test('evaluateInContext: never exceeds --max-calls and stops before a row that might', async () => {
  const provider = oracleProvider('logprobs');
  const steps = maxSteps(ORACLE_LABELS);
  const cap = 3 * steps * 5 + 1; // five rows fit, a sixth might not
  const r = await evaluateInContext({
    provider,
    mode: 'logprobs',
    labels: ORACLE_LABELS,
    conditions: [
      { kind: 'zero-shot', name: 'z', demos: [] },
      { kind: 'dp', name: 'd', demos: ORACLE_LABELS.map(demo) },
      { kind: 'real', name: 'r', demos: ORACLE_LABELS.map(demo) },
    ],
    rows,
    topK: 20,
    maxCalls: cap,
  });
  assert.ok(provider.calls <= cap);
  assert.equal(r.stoppedAtCap, true);
  assert.ok(r.rowsEvaluated >= 5 && r.rowsEvaluated < rows.length);
  assert.ok(callEstimate('logprobs', ORACLE_LABELS, rows.length, 3).maxCalls >= 3 * rows.length * 2);
});

test('classify: a model that never names a label leaves the text unanswered', async () => {
  const silent = oracleProvider('logprobs');
  silent.nextTokens = async () => ({ steps: [{ token: ' hello', top: [{ token: ' hello', logprob: -0.1 }] }] });
  const r = await classify(silent, 'logprobs', classificationPrompt(ORACLE_LABELS, [], 'x'), ORACLE_LABELS, {
    topK: 5,
    maxSteps: 4,
  });
  assert.deepEqual(r, { label: undefined, calls: 1 });
});

test('realDemos: k per label from the training rows, without repeats', () => {
  const rng = seededRandom(1);
  const training = rows.map((r, i) => ({ ...r, text: `${r.text} #${i}` }));
  const d = realDemos(training, ORACLE_LABELS, 3, (n) => rng.nextUint32() % n);
  assert.equal(d.length, 9);
  for (const l of ORACLE_LABELS) assert.equal(new Set(d.filter((x) => x.label === l).map((x) => x.text)).size, 3);
  assert.ok(d.every((x) => training.some((t) => t.text === x.text && t.label === x.label)));
});
