import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AugPeProgress } from '../../src/core/augpe';
import { SynthProgressBoard } from '../../src/extension/panels/synthProgress';
import { parseHostMessage } from '../../src/shared/protocol';

const ev = (
  phase: AugPeProgress['phase'],
  iteration: number,
  label?: string,
  histograms = 0,
  calls = 1,
): AugPeProgress => ({
  phase,
  iteration,
  iterations: 3,
  ...(label ? { label } : {}),
  histograms,
  completions: 2 * calls,
  calls,
  inputTokens: 10 * calls,
  outputTokens: calls,
  cost: 0.5 * calls,
});

test('progress board: every label moves through embedding, initial population, votes and variations; totals never go back', () => {
  const b = new SynthProgressBoard(
    [
      { label: 'a', count: 2 },
      { label: 'b', count: 3 },
    ],
    3,
  );
  const stages = () => b.snapshot(true).labels.map((r) => `${r.label}:${r.stage}:${r.iteration}`);
  assert.deepEqual(stages(), ['a:waiting:0', 'b:waiting:0']);
  assert.equal(b.snapshot(true).phase, 'starting');
  b.update(ev('embed-private', 0));
  assert.deepEqual(stages(), ['a:embedding:0', 'b:embedding:0']);
  b.update(ev('initial', 0));
  b.update(ev('initial', 0, 'b', 0, 4));
  assert.deepEqual(stages(), ['a:writing:0', 'b:written:0']);
  b.update(ev('initial', 0, 'a', 0, 5));
  b.update(ev('histogram', 1, undefined, 1, 6));
  assert.deepEqual(stages(), ['a:voting:1', 'b:voting:1']);
  b.update(ev('variations', 1, undefined, 1, 6));
  b.update(ev('variations', 1, 'a', 1, 9));
  assert.deepEqual(stages(), ['a:varied:1', 'b:varying:1']);
  // A report that arrives late with smaller totals does not move them back.
  b.update(ev('variations', 1, 'b', 1, 7));
  const m = b.take(true);
  assert.deepEqual(
    [m.phase, m.iteration, m.iterations, m.histograms, m.calls, m.completions, m.inputTokens, m.cost],
    ['variations', 1, 3, 1, 9, 18, 90, 4.5],
  );
  assert.equal(b.pending, false);
  // The message passes the protocol (the webview would reject anything else).
  assert.deepEqual(parseHostMessage(m), m);
  b.update(ev('histogram', 2, undefined, 2, 10));
  assert.equal(b.pending, true);
  b.finish('cancelled');
  assert.deepEqual(stages(), ['a:stopped:2', 'b:stopped:2']);
  const done = new SynthProgressBoard(
    [
      { label: 'a', count: 1 },
      { label: 'b', count: 1 },
    ],
    3,
  );
  done.update(ev('embed-private', 0));
  done.finish('completed');
  assert.deepEqual(
    done.snapshot(false).labels.map((r) => `${r.stage}:${r.iteration}`),
    ['done:3', 'done:3'],
  );
  const never = new SynthProgressBoard([{ label: 'a', count: 1 }], 3);
  never.finish('failed');
  assert.equal(never.snapshot(false).labels[0]!.stage, 'waiting', 'a label that never started is not "stopped"');
});
