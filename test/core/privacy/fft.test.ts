import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fft, nextPow2 } from '../../../src/core/privacy/fft';

test('the FFT matches a direct DFT and inverts exactly (every size up to 512)', () => {
  for (let n = 1; n <= 512; n *= 2) {
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      re[i] = Math.sin(i * 1.3) + 0.01 * i;
      im[i] = Math.cos(i * 0.7);
    }
    const r0 = Float64Array.from(re);
    const i0 = Float64Array.from(im);
    fft(re, im);
    let scale = 0;
    let err = 0;
    for (let k = 0; k < n; k++) {
      let sr = 0;
      let si = 0;
      for (let j = 0; j < n; j++) {
        const a = (-2 * Math.PI * ((j * k) % n)) / n; // reduce the angle so the reference itself is accurate
        sr += r0[j]! * Math.cos(a) - i0[j]! * Math.sin(a);
        si += r0[j]! * Math.sin(a) + i0[j]! * Math.cos(a);
      }
      scale = Math.max(scale, Math.abs(sr), Math.abs(si));
      err = Math.max(err, Math.abs(sr - re[k]!), Math.abs(si - im[k]!));
    }
    assert.ok(err <= 1e-13 * Math.max(1, scale), `n=${n}: error ${err} (scale ${scale})`);
    fft(re, im, true);
    for (let j = 0; j < n; j++) {
      assert.ok(Math.abs(re[j]! - r0[j]!) < 1e-13 && Math.abs(im[j]! - i0[j]!) < 1e-13, `n=${n}: round trip at ${j}`);
    }
  }
  assert.equal(nextPow2(1000), 1024);
  assert.throws(() => fft(new Float64Array(6), new Float64Array(6)), /power of two/);
});
