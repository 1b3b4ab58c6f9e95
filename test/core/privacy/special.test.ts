import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  erfc,
  erfcx,
  logErfc,
  logNormalCdf,
  normalCdf,
  logGamma,
  logAdd,
  log1mExp,
} from '../../../src/core/privacy/special';

// Reference values computed with mpmath at 50 significant digits (mp.erfc, mp.ncdf, mp.gamma), rounded to the
// nearest double.
function close(actual: number, expected: number, rel: number, what: string) {
  const err = Math.abs(actual - expected) / Math.abs(expected);
  assert.ok(
    err <= rel,
    `${what}: got ${actual}, expected ${expected} (relative error ${err.toExponential(2)} > ${rel})`,
  );
}

test('erfc matches high-precision values across all of Cody’s intervals, including the far tail', () => {
  const ref: [number, number][] = [
    [-3, 1.9999779095030015],
    [-0.5, 1.5204998778130465],
    [0.1, 0.887537083981715],
    [0.46875, 0.507386526782062],
    [0.5, 0.4795001221869535],
    [1, 0.15729920705028513],
    [2, 0.004677734981047266],
    [3.5, 7.430983723414128e-7],
    [4, 1.541725790028002e-8],
    [6, 2.1519736712498913e-17],
    [10, 2.088487583762545e-45],
    [26, 5.663192408856143e-296],
  ];
  for (const [x, v] of ref) close(erfc(x), v, 2e-15, `erfc(${x})`);
});

test('erfcx and log erfc stay accurate where erfc itself underflows', () => {
  for (const [x, v] of [
    [0.3, 0.7345993345676551],
    [1, 0.427583576155807],
    [5, 0.11070463773306863],
    [30, 0.01879588886141675],
    [1000, 0.0005641893014533876],
  ] as const) {
    close(erfcx(x), v, 2e-15, `erfcx(${x})`);
  }
  assert.equal(erfc(30), 0, 'erfc(30) underflows in double precision…');
  close(logErfc(30), -903.9741171106439, 1e-15, 'log erfc(30)');
  close(logErfc(100), -10005.177585122665, 1e-15, 'log erfc(100)');
  close(logErfc(1e4), -100000009.78270532, 1e-15, 'log erfc(1e4)');
});

test('log Φ is accurate in both tails (no log of an underflowed 0, no loss near Φ = 1)', () => {
  const ref: [number, number][] = [
    [-40, -804.6084420137538],
    [-10, -53.23128515051247],
    [-1, -1.8410216450092636],
    [0, -0.6931471805599453],
    [1.5, -0.06914345561223398],
    [10, -7.619853024160525e-24],
  ];
  for (const [x, v] of ref) close(logNormalCdf(x), v, 1e-13, `log Φ(${x})`);
  assert.ok(Number.isFinite(logNormalCdf(-1e5)));
  close(normalCdf(-1), Math.exp(-1.8410216450092636), 1e-14, 'Φ(−1)');
  close(normalCdf(1.5) + normalCdf(-1.5), 1, 1e-15, 'Φ(x) + Φ(−x)');
});

test('log Γ matches for fractional and negative non-integer arguments (used by the fractional-order RDP series)', () => {
  const ref: [number, number][] = [
    [0.25, 1.2880225246980774],
    [3.5, 1.2009736023470743],
    [10.7, 14.403210596298516],
    [150.3, 601.5119608335364],
    [-0.5, 1.2655121234846454],
    [-2.5, -0.056243716497674054],
  ];
  for (const [x, v] of ref)
    assert.ok(Math.abs(logGamma(x) - v) <= 1e-13 * Math.max(1, Math.abs(v)), `lnΓ(${x}) = ${logGamma(x)} vs ${v}`);
  close(logGamma(5), Math.log(24), 1e-15, 'lnΓ(5)');
});

test('log-space helpers', () => {
  close(logAdd(Math.log(3), Math.log(5)), Math.log(8), 1e-15, 'logAdd');
  assert.equal(logAdd(-Infinity, 2), 2);
  close(logAdd(-1000, -1001), -1000 + Math.log1p(Math.exp(-1)), 1e-15, 'logAdd far below 1e-308');
  close(log1mExp(-1e-20), Math.log(1e-20), 1e-12, 'ln(1 − e^{−1e−20})');
  close(log1mExp(-50), -Math.exp(-50), 1e-12, 'ln(1 − e^{−50})');
});
