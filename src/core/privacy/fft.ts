/**
 * In-place iterative radix-2 complex FFT on split real/imaginary Float64Arrays (length a power of two), with the
 * twiddle factors and bit-reversal permutation cached per size. Used by the PLD accountant for cyclic convolution.
 */

interface Plan {
  n: number;
  rev: Uint32Array;
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
  const half = n >> 1;
  const cos = new Float64Array(Math.max(1, half));
  const sin = new Float64Array(Math.max(1, half));
  for (let k = 0; k < half; k++) {
    // Exact symmetric values keep the transform accurate: compute each angle directly.
    const a = (2 * Math.PI * k) / n;
    cos[k] = Math.cos(a);
    sin[k] = Math.sin(a);
  }
  p = { n, rev, cos, sin };
  if (plans.size > 16) plans.clear();
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
  const sign = inverse ? 1 : -1;
  // Integer (Smi) indices throughout: a double-typed index (e.g. n / size) makes V8 fall back to slow element access.
  for (let size = 2, step = n >> 1; size <= n; size <<= 1, step >>= 1) {
    const halfSize = size >> 1;
    for (let start = 0; start < n; start += size) {
      for (let k = 0, t = 0; k < halfSize; k++, t += step) {
        const wr = cos[t]!;
        const wi = sign * sin[t]!;
        const a = start + k;
        const b = a + halfSize;
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
