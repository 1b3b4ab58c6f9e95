import { test } from 'node:test';
import assert from 'node:assert/strict';
import { samplePrompts } from '../../../src/core/fewshot/sample';
import type { PoolUnit } from '../../../src/core/runs/pools';
import { uniformInt, uniform01 } from '../../../src/core/runs/random';
import { testRng } from '../../support/rng';

// Upper 0.999 quantiles of chi-square: df=1 → 10.83, df=9 → 27.88. A correct sampler fails each check with
// probability 0.001 for the fixed seeds below (deterministic), and a biased one fails reliably.
const CHI2_999_DF1 = 10.828;
const CHI2_999_DF9 = 27.877;

const pool: PoolUnit[] = Array.from({ length: 50 }, (_, i) => ({ id: `u${i}`, texts: [`text ${i}`] }));

test('Poisson inclusion: every unit is included with probability q, independently', () => {
  const rng = testRng('poisson');
  const q = 0.3;
  const rounds = 4000;
  const included = new Array<number>(pool.length).fill(0);
  const sizes = new Map<number, number>();
  for (let r = 0; r < rounds; r++) {
    const prompts = samplePrompts(rng, pool, q, 10);
    let size = 0;
    for (const p of prompts)
      for (const t of p) {
        included[Number(t.split(' ')[1])]!++;
        size++;
      }
    sizes.set(size, (sizes.get(size) ?? 0) + 1);
  }
  // Overall inclusion rate: chi-square on included vs excluded over all unit-rounds.
  const n = rounds * pool.length;
  const inc = included.reduce((a, b) => a + b, 0);
  const chi = (inc - n * q) ** 2 / (n * q) + (n - inc - n * (1 - q)) ** 2 / (n * (1 - q));
  assert.ok(chi < CHI2_999_DF1, `inclusion rate ${inc / n} vs q=${q}, chi2=${chi}`);
  // Each unit individually near q (4 standard deviations).
  const sd = Math.sqrt(rounds * q * (1 - q));
  for (const c of included) assert.ok(Math.abs(c - rounds * q) < 4.5 * sd, `unit count ${c}`);
  // Sample sizes vary like Binomial(50, q) (a fixed-size sample would always be 15): variance check.
  let mean = 0;
  for (const [s, c] of sizes) mean += s * c;
  mean /= rounds;
  let variance = 0;
  for (const [s, c] of sizes) variance += c * (s - mean) ** 2;
  variance /= rounds - 1;
  const expected = pool.length * q * (1 - q);
  assert.ok(Math.abs(variance - expected) / expected < 0.15, `size variance ${variance} vs ${expected}`);
});

test('prompt assignment is uniform over the M prompts, and a unit keeps all its rows together', () => {
  const rng = testRng('assign');
  const m = 10;
  const counts = new Array<number>(m).fill(0);
  const multi: PoolUnit[] = [{ id: 'user', texts: ['a1', 'a2', 'a3'] }, ...pool];
  for (let r = 0; r < 3000; r++) {
    const prompts = samplePrompts(rng, multi, 0.5, m);
    prompts.forEach((p, i) => {
      counts[i]! += p.filter((t) => t.startsWith('text')).length;
      const rows = p.filter((t) => t.startsWith('a'));
      assert.ok(rows.length === 0 || rows.length === 3, 'all rows of a unit land in the same prompt');
    });
  }
  const total = counts.reduce((a, b) => a + b, 0);
  const chi = counts.reduce((a, c) => a + (c - total / m) ** 2 / (total / m), 0);
  assert.ok(chi < CHI2_999_DF9, `assignment chi2=${chi} counts=${counts}`);
});

test('adding one unit changes at most one prompt (same random stream)', () => {
  // With the unit appended last, the draws for the other units are identical, so the other prompts are unchanged.
  for (let seed = 0; seed < 200; seed++) {
    const without = samplePrompts(testRng(seed), pool, 0.4, 8);
    const withUnit = samplePrompts(testRng(seed), [...pool, { id: 'extra', texts: ['EXTRA'] }], 0.4, 8);
    const changed = without.filter((p, i) => p.join('|') !== withUnit[i]!.join('|')).length;
    assert.ok(changed <= 1, `seed ${seed}: ${changed} prompts changed`);
  }
});

test('uniform helpers: integers without modulo bias and doubles in [0, 1)', () => {
  const rng = testRng('ints');
  const counts = new Array<number>(3).fill(0);
  for (let i = 0; i < 30000; i++) counts[uniformInt(rng, 3)]!++;
  const chi = counts.reduce((a, c) => a + (c - 10000) ** 2 / 10000, 0);
  assert.ok(chi < 13.8, `chi2=${chi}`);
  // A source that always returns the top value must be rejected, not folded into the range.
  let calls = 0;
  const biased = { nextUint32: () => (++calls < 3 ? 0xffffffff : 7) };
  assert.equal(uniformInt(biased, 3), 1);
  assert.equal(calls, 3);
  for (let i = 0; i < 1000; i++) {
    const u = uniform01(rng);
    assert.ok(u >= 0 && u < 1);
  }
  assert.equal(uniform01({ nextUint32: () => 0xffffffff }) < 1, true);
});
