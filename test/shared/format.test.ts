import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatCount,
  formatDelta,
  formatEpsilon,
  formatNumber,
  formatPercent,
  formatUsd,
} from '../../src/shared/format';

test('formatEpsilon: 4 significant digits without trailing zeros; 3 in the exponent form outside [1e-3, 1e5)', () => {
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
  assert.equal(formatNumber(3.14159, 5), '3.1416');
  assert.equal(formatNumber(0.0000123456, 5), '1.235e-5');
  assert.equal(formatNumber(1e-5, 5, 4), '1.000e-5');
});

test('formatDelta, formatCount, formatPercent, formatUsd', () => {
  assert.equal(formatDelta(1e-6), '1.00e-6');
  assert.equal(formatDelta(3.3e-5), '3.30e-5');
  assert.equal(formatCount(1234567), '1,234,567');
  assert.equal(formatPercent(0.125), '12.5%');
  assert.equal(formatPercent(1 / 3, 0), '33%');
  assert.equal(formatUsd(0.012345), '0.0123');
});
