// The panels' one number format and the form's own words (src/shared/format.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatCount,
  formatDelta,
  formatEpsilon,
  formatNumber,
  formatPercent,
  formatSignificant,
  formatUsd,
  inFormWords,
  roundLongNumbers,
} from '../../src/shared/format';

test('numbers: two decimals from 0.1 up, two significant digits below, never 0 for a small ε', () => {
  assert.equal(formatNumber(0.5216), '0.52');
  assert.equal(formatNumber(0.3822), '0.38');
  assert.equal(formatNumber(1.478), '1.48');
  assert.equal(formatNumber(24.08191678513409), '24.08');
  assert.equal(formatNumber(4), '4');
  assert.equal(formatNumber(0.5), '0.5');
  assert.equal(formatNumber(1234.5), '1,234.5');
  assert.equal(formatNumber(0.006), '0.006');
  assert.equal(formatNumber(0.006234), '0.0062');
  assert.equal(formatNumber(0), '0');
  assert.equal(formatNumber(-0.5216), '-0.52');
  assert.equal(formatNumber(Number.POSITIVE_INFINITY), 'Infinity');
  assert.equal(formatDelta(1e-5), '1e-5');
  assert.equal(formatDelta(1.234e-6), '1.2e-6');
  assert.equal(formatCount(7537), '7,537');
});

test('long decimals in a message are rounded; short figures and identifiers stay as written', () => {
  assert.equal(
    roundLongNumbers('the run needs ε 24.08191678513409 but 0.52160001 is left'),
    'the run needs ε 24.08 but 0.52 is left',
  );
  assert.equal(
    roundLongNumbers('σ = 1.234 and version 1.2.34567 and x1.234567'),
    'σ = 1.234 and version 1.2.34567 and x1.234567',
  );
});

test('CLI flags in planner messages become the form’s field names', () => {
  const fewshot =
    'The noisy pool count of "a" (3.0) is below M·N = 20: … Lower --prompts or --examples-per-prompt, or use a larger dataset.';
  assert.equal(
    inFormWords(fewshot, 'generate'),
    'The noisy pool count of "a" (3.0) is below M·N = 20: … Lower “Prompts M”, or use a larger dataset.',
  );
  const synth = 'More ε, fewer iterations, or a smaller --count help. Raise --count or use --epsilon 2.';
  const t = inFormWords(synth, 'synth');
  assert.doesNotMatch(t, /--/);
  assert.match(t, /smaller “Records in total” help/);
  assert.match(t, /“ε for this run” 2/);
  assert.match(inFormWords('Name them with --labels a,b,c, or pass --all-labels', 'synth'), /“Use all labels”/);
});

test('formatEpsilon (CLI, ledger): 4 significant digits without trailing zeros; 3 in the exponent form outside [1e-3, 1e5)', () => {
  const cases: [number, string][] = [
    [4, '4'],
    [0, '0'],
    [3.14159, '3.142'],
    [0.39274, '0.3927'],
    [12.3456, '12.35'],
    [0.001, '0.001'],
    [0.000667, '6.67e-4'],
    [1e-6, '1.00e-6'],
    [99999, '1.00e+5'],
    [123456, '1.23e+5'],
    [-0.25, '-0.25'],
    [Infinity, 'Infinity'],
    [NaN, 'NaN'],
  ];
  for (const [x, s] of cases) assert.equal(formatEpsilon(x), s, String(x));
  assert.equal(formatSignificant(3.14159, 5), '3.1416');
  assert.equal(formatSignificant(0.0000123456, 5), '1.235e-5');
  assert.equal(formatSignificant(1e-5, 5, 4), '1.000e-5');
  assert.equal(formatPercent(0.125), '12.5%');
  assert.equal(formatPercent(1 / 3, 0), '33%');
  assert.equal(formatUsd(0.012345), '0.0123');
});
