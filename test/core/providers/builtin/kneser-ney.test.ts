import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOS,
  MergedKneserNey,
  NgramCounts,
  modifiedKneserNeyDiscounts,
  type Discounts,
} from '../../../../src/core/providers/builtin/kneser-ney';
import { requestRandom } from '../../../../src/core/providers/builtin/rng';

test('modified KN discounts follow Chen & Goodman eq. 26, with a fallback when counts-of-counts are missing', () => {
  // n1=10, n2=5, n3=3, n4=2: Y = 10/20 = 0.5; D1 = 1 − 2·0.5·5/10; D2 = 2 − 3·0.5·3/5; D3+ = 3 − 4·0.5·2/3
  const d = modifiedKneserNeyDiscounts(10, 5, 3, 2);
  assert.ok(Math.abs(d[0] - 0.5) < 1e-12);
  assert.ok(Math.abs(d[1] - 1.1) < 1e-12);
  assert.ok(Math.abs(d[2] - (3 - 4 / 3)) < 1e-12);
  // Only singletons (a tiny prompt): Y = 1, D1 would be 1 and the others undefined → 0.5·c fallbacks.
  assert.deepEqual([...modifiedKneserNeyDiscounts(7, 0, 0, 0)], [0.5, 1, 1.5]);
});

/**
 * A brute-force interpolated modified KN written from the textbook definitions, independent of the implementation:
 * it lists every padded n-gram occurrence and recounts for each query.
 */
function reference(seqs: number[][], order: number, discounts: Discounts[], vocab: number) {
  const grams: number[][] = [];
  for (const s of seqs) {
    const p = [...new Array<number>(order - 1).fill(BOS), ...s];
    for (let i = order - 1; i < p.length; i++) grams.push(p.slice(i - order + 1, i + 1));
  }
  const eq = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  // c_k(h, w): raw count at the highest order; continuation count (distinct left tokens) below it.
  const count = (h: number[], w: number): number => {
    const g = [...h, w];
    if (g.length === order) return grams.filter((x) => eq(x, g)).length;
    const lefts = new Set(grams.filter((x) => eq(x.slice(order - g.length), g)).map((x) => x[order - g.length - 1]));
    return lefts.size;
  };
  const D = (k: number, c: number) =>
    c === 0 ? 0 : c === 1 ? discounts[k]![0] : c === 2 ? discounts[k]![1] : discounts[k]![2];
  return (history: number[], w: number): number => {
    const padded = [...new Array<number>(order).fill(BOS), ...history];
    let p = 1 / vocab;
    for (let k = 0; k < order; k++) {
      const h = padded.slice(padded.length - k);
      const cs = Array.from({ length: vocab }, (_, v) => count(h, v));
      const total = cs.reduce((a, b) => a + b, 0);
      if (total === 0) continue;
      const gamma = cs.reduce((a, c) => a + D(k, c), 0) / total;
      p = Math.max(cs[w]! - D(k, cs[w]!), 0) / total + gamma * p;
    }
    return p;
  };
}

function randomCorpus(seed: string, vocab: number, n: number, len: number): number[][] {
  const r = requestRandom(seed);
  // A skewed token distribution so that counts of 2, 3 and 4 occur.
  return Array.from({ length: n }, () =>
    Array.from({ length: 1 + Math.floor(r() * len) }, () => Math.floor(vocab * r() * r())),
  );
}

test('the implementation matches a brute-force textbook modified KN (one corpus, uniform base)', () => {
  for (const order of [2, 3, 4]) {
    const vocab = 9;
    const seqs = randomCorpus(`kn-${order}`, vocab, 12, 10);
    const counts = NgramCounts.fromSequences(seqs, order);
    const discounts = counts.discounts();
    const model = new MergedKneserNey(order, discounts);
    const ref = reference(seqs, order, discounts, vocab);
    const r = requestRandom('histories', order);
    for (let q = 0; q < 25; q++) {
      const history = Array.from({ length: Math.floor(r() * 5) }, () => Math.floor(r() * vocab));
      const sources = [{ counts, history, weight: 1 }];
      const dense = new Float64Array(vocab).fill(1 / vocab);
      model.apply(sources, dense, 1 / vocab);
      let sum = 0;
      for (let w = 0; w < vocab; w++) {
        const expected = ref(history, w);
        assert.ok(
          Math.abs(dense[w]! - expected) < 1e-12,
          `order ${order} history ${history} w ${w}: ${dense[w]} vs ${expected}`,
        );
        assert.ok(Math.abs(model.prob(sources, w, 1 / vocab) - expected) < 1e-12);
        sum += dense[w]!;
      }
      assert.ok(Math.abs(sum - 1) < 1e-12, `sum ${sum}`);
    }
  }
});

test('merged counts: sums to 1, the dense and pointwise forms agree, and minShare gives the corpus its share', () => {
  const vocab = 12;
  const big = NgramCounts.fromSequences(randomCorpus('big', vocab, 60, 12), 3);
  // The small corpus repeats one pattern: after [1, 2] comes 11.
  const small = NgramCounts.fromSequences(
    [
      [1, 2, 11],
      [1, 2, 11, 5],
    ],
    3,
  );
  const model = new MergedKneserNey(3, big.discounts());
  assert.ok(big.stats([1, 2], 2), 'both corpora have seen the context [1, 2], so the share rule applies');
  const base = new Float64Array(vocab).fill(1 / vocab);
  const probs = (weight: number, minShare?: number, history = [1, 2]) => {
    const sources = [
      { counts: big, history, weight: 1 },
      { counts: small, history, weight, ...(minShare === undefined ? {} : { minShare }) },
    ];
    const p = Float64Array.from(base);
    const unseen = model.apply(sources, p, 1 / vocab);
    for (let w = 0; w < vocab; w++) assert.ok(Math.abs(p[w]! - model.prob(sources, w, 1 / vocab)) < 1e-12);
    assert.ok(unseen > 0 && unseen < 1 / vocab);
    return p;
  };
  for (const [w, s] of [
    [0, undefined],
    [1, undefined],
    [10, undefined],
    [1, 0.8],
    [10, 0.95],
  ] as const) {
    const p = probs(w, s);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  }
  // Weighting the small corpus up moves mass to its continuation, monotonically.
  const p0 = probs(0)[11]!;
  const p1 = probs(1)[11]!;
  const p10 = probs(10)[11]!;
  const pShare = probs(1, 0.9)[11]!;
  assert.ok(p0 < p1 && p1 < p10, `${p0} ${p1} ${p10}`);
  assert.ok(pShare > 0.8, `with a 90% share the small corpus's only continuation gets ${pShare}`);
});
