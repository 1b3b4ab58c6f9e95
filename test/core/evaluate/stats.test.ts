import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wilson } from '../../../src/core/evaluate/stats';

test('wilson: the 95% score interval matches published values (Newcombe 1998, Stat Med 17:857, Table I, method 3)', () => {
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  const cases: [number, number, number, number][] = [
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ];
  for (const [k, n, lo, hi] of cases) {
    const w = wilson(k, n);
    assert.deepEqual([r4(w.low), r4(w.high)], [lo, hi], `${k}/${n}`);
  }
  assert.deepEqual(wilson(0, 0), { low: 0, high: 1 });
  const all = wilson(10, 10);
  assert.equal(all.high, 1);
  assert.ok(all.low > 0.69 && all.low < 0.73);
});
