import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunProgress, Throttle, type Clock, type ProgressEvent } from '../../src/extension/panels/progress';
import { parseHostMessage } from '../../src/shared/protocol';

/** A clock that only moves when the test says so; timers fire in `advance`. */
function fakeClock(): Clock & { advance(ms: number): void; pending(): number } {
  let now = 1_000;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let next = 0;
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++next;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout: (id) => {
      timers = timers.filter((t) => t.id !== id);
    },
    advance(ms) {
      now += ms;
      for (const t of timers.filter((x) => x.at <= now)) {
        timers = timers.filter((x) => x !== t);
        t.fn();
      }
    },
    pending: () => timers.length,
  };
}

const ev = (label: string, shot: number, text: string, done = false, calls = 1): ProgressEvent => ({
  label,
  shot,
  text,
  tokens: text.length,
  done,
  calls,
  roundTrips: calls,
  inputTokens: 10 * calls,
  outputTokens: calls,
});

test('one row per demonstration: concurrent demonstrations of a label and of other labels each keep their own row', () => {
  const p = new RunProgress(4);
  p.update(ev('a', 0, 'x'));
  p.update(ev('a', 1, 'y'));
  p.update(ev('b', 0, 'z'));
  p.update(ev('a', 0, 'xx', false, 2));
  const first = p.take();
  assert.equal(first.reset, true);
  assert.deepEqual(first.rows.map((r) => [r.label, r.shot, r.text]).sort(), [
    ['a', 0, 'xx'],
    ['a', 1, 'y'],
    ['b', 0, 'z'],
  ]);
  assert.deepEqual(first.totals, {
    planned: 4,
    started: 3,
    done: 0,
    calls: 2,
    roundTrips: 2,
    inputTokens: 20,
    outputTokens: 2,
  });
  // Only what changed since the last take.
  p.update(ev('b', 0, 'zz', true, 3));
  const second = p.take();
  assert.equal(second.reset, false);
  assert.deepEqual(second.rows, [{ label: 'b', shot: 0, tokens: 2, done: true, text: 'zz' }]);
  assert.equal(second.totals.done, 1);
  assert.equal(p.pending, false);
  // A late token report never undoes a finished demonstration; usage never goes down.
  p.update(ev('b', 0, 'z', false, 1));
  assert.equal(p.take().rows.length, 0);
  assert.equal(p.totals().calls, 3);
  // A reloaded view gets everything.
  const all = p.snapshot();
  assert.equal(all.reset, true);
  assert.equal(all.rows.length, 3);
  // Every batch is a valid protocol message.
  assert.ok(parseHostMessage({ type: 'progress', running: true, ...all }));
});

test('the throttle posts at most once per interval and the trailing post carries the final state of every demonstration', () => {
  const clock = fakeClock();
  const p = new RunProgress(2);
  const posted: ReturnType<RunProgress['take']>[] = [];
  const t = new Throttle(
    100,
    () => {
      if (p.pending) posted.push(p.take());
    },
    clock,
  );
  const step = (e: ProgressEvent, ms = 10) => {
    p.update(e);
    t.poke();
    clock.advance(ms);
  };
  step(ev('a', 0, 'h'));
  assert.equal(posted.length, 1, 'the first report goes out at once');
  // 9 more reports inside 90 ms, both demonstrations finishing in that quiet interval.
  for (let i = 1; i <= 7; i++) step(ev(i % 2 ? 'b' : 'a', 0, 'h'.repeat(i + 1), false, i));
  step(ev('a', 0, 'hello', true, 8));
  step(ev('b', 0, 'world', true, 9), 0);
  assert.equal(posted.length, 1, 'nothing more within the interval');
  assert.equal(clock.pending(), 1, 'one trailing post is scheduled');
  clock.advance(100);
  assert.equal(posted.length, 2);
  const seen = new Map<string, { text: string; done: boolean }>();
  for (const b of posted) for (const r of b.rows) seen.set(`${r.label}#${r.shot}`, r);
  assert.deepEqual(Object.fromEntries(seen), {
    'a#0': { label: 'a', shot: 0, tokens: 5, done: true, text: 'hello' },
    'b#0': { label: 'b', shot: 0, tokens: 5, done: true, text: 'world' },
  });
  assert.deepEqual(posted.at(-1)!.totals, {
    planned: 2,
    started: 2,
    done: 2,
    calls: 9,
    roundTrips: 9,
    inputTokens: 90,
    outputTokens: 9,
  });
});

test('flushNow posts at once and drops the scheduled trailing post; cancel stops it', () => {
  const clock = fakeClock();
  let posts = 0;
  const t = new Throttle(100, () => posts++, clock);
  t.poke();
  t.poke();
  assert.equal(posts, 1);
  assert.equal(clock.pending(), 1);
  t.flushNow();
  assert.equal(posts, 2);
  assert.equal(clock.pending(), 0);
  t.poke();
  assert.equal(clock.pending(), 1);
  t.cancel();
  clock.advance(1_000);
  assert.equal(posts, 2);
  t.poke();
  assert.equal(posts, 3, 'after a quiet interval a report goes out at once again');
});
