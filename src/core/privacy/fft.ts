/**
 * In-place iterative radix-2 complex FFT on split real/imaginary Float64Arrays (length a power of two), with the
 * bit-reversal permutation and per-stage twiddle tables cached per size. Used by the PLD accountant for cyclic
 * convolution. Round-off: ~log2(n)·1e−16 relative to the largest input.
 */

interface Plan {
  n: number;
  rev: Uint32Array;
  /** Twiddles of the stage with half-size m at [m, 2m): cos and sin of 2πk/(2m), k < m (contiguous per stage). */
  cos: Float64Array;
  sin: Float64Array;
}

const plans = new Map<number, Plan>();

function plan(n: number): Plan {
  let p = plans.get(n);
  if (p) return p;
  if (n < 1 || (n & (n - 1)) !== 0) throw new Error(`FFT size must be a power of two; got ${n}`);
  const bits = Math.round(Math.log2(n));
  const rev = new Uint32Array(n);
  for (let i = 1; i < n; i++) rev[i] = (rev[i >> 1]! >> 1) | ((i & 1) << (bits - 1));
  const cos = new Float64Array(Math.max(2, n));
  const sin = new Float64Array(Math.max(2, n));
  for (let m = 1; m < n; m <<= 1) {
    for (let k = 0; k < m; k++) {
      // Each angle computed directly (no recurrence), so every twiddle is correctly rounded.
      const a = (Math.PI * k) / m;
      cos[m + k] = Math.cos(a);
      sin[m + k] = Math.sin(a);
    }
  }
  p = { n, rev, cos, sin };
  if (plans.size > 24) plans.clear();
  plans.set(n, p);
  return p;
}

/**
 * Transforms (re, im) in place. Forward: X_k = Σ_j x_j e^{−2πijk/n}. Inverse (`inverse = true`) uses e^{+2πijk/n}
 * and divides by n.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n) throw new Error('fft: re and im must have the same length');
  if (n <= 1) return;
  const { rev, cos, sin } = plan(n);
  for (let i = 0; i < n; i++) {
    const j = rev[i]!;
    if (j > i) {
      let t = re[i]!;
      re[i] = re[j]!;
      re[j] = t;
      t = im[i]!;
      im[i] = im[j]!;
      im[j] = t;
    }
  }
  // Stage of size 2: twiddle 1.
  for (let a = 0; a < n; a += 2) {
    const b = a + 1;
    const rb = re[b]!;
    const ib = im[b]!;
    re[b] = re[a]! - rb;
    im[b] = im[a]! - ib;
    re[a] = re[a]! + rb;
    im[a] = im[a]! + ib;
  }
  // Stage of size 4: twiddles 1 and ∓i (forward: −i).
  if (n >= 4) {
    const s = inverse ? 1 : -1;
    for (let a = 0; a < n; a += 4) {
      const r0 = re[a]!,
        i0 = im[a]!,
        r1 = re[a + 1]!,
        i1 = im[a + 1]!;
      const r2 = re[a + 2]!,
        i2 = im[a + 2]!,
        r3 = re[a + 3]!,
        i3 = im[a + 3]!;
      re[a] = r0 + r2;
      im[a] = i0 + i2;
      re[a + 2] = r0 - r2;
      im[a + 2] = i0 - i2;
      // (r3 + i·i3)·(s·i) = −s·i3 + i·s·r3
      const xr = -s * i3;
      const xi = s * r3;
      re[a + 1] = r1 + xr;
      im[a + 1] = i1 + xi;
      re[a + 3] = r1 - xr;
      im[a + 3] = i1 - xi;
    }
  }
  const sign = inverse ? 1 : -1;
  // Integer (Smi) indices throughout: a double-typed index makes V8 fall back to slow element access.
  for (let half = 4; half < n; half <<= 1) {
    const size = half << 1;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[half + k]!;
        const wi = sign * sin[half + k]!;
        const a = start + k;
        const b = a + half;
        const rb = re[b]!;
        const ib = im[b]!;
        const xr = rb * wr - ib * wi;
        const xi = rb * wi + ib * wr;
        const ra = re[a]!;
        const ia = im[a]!;
        re[b] = ra - xr;
        im[b] = ia - xi;
        re[a] = ra + xr;
        im[a] = ia + xi;
      }
    }
  }
  if (inverse) {
    const inv = 1 / n;
    for (let i = 0; i < n; i++) {
      re[i] = re[i]! * inv;
      im[i] = im[i]! * inv;
    }
  }
}

export function nextPow2(x: number): number {
  let n = 1;
  while (n < x) n *= 2;
  return n;
}
