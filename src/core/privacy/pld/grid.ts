/**
 * Grid choice for the PLD accountant: spacings that keep the discretisation's added loss variance below ~η² of the
 * variance it is compared with (see ../README.md, "Accountants"). Only the grid depends on these heuristics; the bound
 * holds for every grid.
 */

/** Grid spacing bounds (powers of two so cached pieces are reused across calls); larger for very large losses. */
export const H_MAX = 2 ** -10;
const H_MAX_COARSE = 2 ** -8;
const H_MIN = 2 ** -24;
/**
 * Accuracy knob of the grid rules: connect-the-dots splits each point mass between its two grid neighbours, adding
 * at most h²/4 (≈ h²/6 on average) of variance per discretised factor; the grids keep that below ~η² of the loss
 * variance it is compared with.
 */
const ETA = 0.05;

/** One distinct mechanism of an account: (σ, q) for `steps` steps; q = 1 is a plain Gaussian with μ = 1/σ per step. */
export interface Group {
  sigma: number;
  q: number;
  steps: number;
}

/**
 * Mean (remove direction, i.e. KL(P‖Q) ≥ 0) and variance (the larger of both directions) of one step's privacy loss,
 * by quadrature. Only used to pick grids, never for the bound itself.
 */
export function stepLossMoments(sigma: number, q: number): { mean: number; variance: number } {
  if (q >= 1) return { mean: 1 / (2 * sigma * sigma), variance: 1 / (sigma * sigma) };
  const m = 600; // ≥ 24 points per σ over [−12σ, 1 + 12σ]: ample for a grid heuristic
  const lo = -12 * sigma;
  const hi = 1 + 12 * sigma;
  const dx = (hi - lo) / m;
  const logQ = Math.log(q);
  const ratio = (1 - q) / q;
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    a0 = 0,
    a1 = 0,
    a2 = 0;
  for (let i = 0; i <= m; i++) {
    const x = lo + i * dx;
    const y = (2 * x - 1) / (2 * sigma * sigma);
    const l = y > 30 ? logQ + y + Math.log1p(ratio * Math.exp(-y)) : Math.log1p(q * Math.expm1(y));
    const f0 = Math.exp(-0.5 * (x / sigma) ** 2);
    const f1 = Math.exp(-0.5 * ((x - 1) / sigma) ** 2);
    const end = i === 0 || i === m ? 0.5 : 1;
    const wr = (q * f1 + (1 - q) * f0) * end;
    const wa = f0 * end;
    s0 += wr;
    s1 += wr * l;
    s2 += wr * l * l;
    a0 += wa;
    a1 -= wa * l;
    a2 += wa * l * l;
  }
  const vr = s2 / s0 - (s1 / s0) ** 2;
  const va = a2 / a0 - (a1 / a0) ** 2;
  return { mean: Math.max(0, s1 / s0), variance: Math.max(vr, va, 0) };
}

const momentCache = new Map<string, { mean: number; variance: number }>();
function moments(sigma: number, q: number): { mean: number; variance: number } {
  const key = `${sigma}|${q}`;
  let v = momentCache.get(key);
  if (v === undefined) {
    v = stepLossMoments(sigma, q);
    if (momentCache.size > 10000) momentCache.clear();
    momentCache.set(key, v);
  }
  return v;
}

function pow2Floor(x: number, min: number, max: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return max;
  return Math.min(max, Math.max(min, 2 ** Math.floor(Math.log2(x))));
}

/** Loss scale of an account: total mean plus one standard deviation (what ε is measured against). */
export function lossScale(groups: readonly Group[]): { scale: number; variance: number } {
  let mean = 0;
  let variance = 0;
  for (const g of groups) {
    const m = moments(g.sigma, g.q);
    mean += g.steps * m.mean;
    variance += g.steps * m.variance;
  }
  return { scale: mean + Math.sqrt(variance), variance };
}

/**
 * Largest grid for an account of the given loss scale: 2^−10 (2^−8 on the coarse level), or scale/2000 when the
 * losses are large, so an account with ε in the hundreds does not need millions of grid points (the grid error of ε
 * is at most one spacing, and usually far less).
 */
export function hCap(scale: number, base: number): number {
  return Math.max(base, pow2Floor(scale / 2000, H_MIN, 1));
}

/**
 * Level-1 grid of a group on its own: T steps each add ≤ h²/6 (on average) of variance against T·v of true variance,
 * so h = 2η·sqrt(v) (a power of two) keeps the relative inflation near η². It depends only on (σ, q, T).
 */
export function chooseStepH(sigma: number, q: number, steps = 1): number {
  const cap = hCap(lossScale([{ sigma, q, steps }]).scale, H_MAX);
  return pow2Floor(2 * ETA * Math.sqrt(moments(sigma, q).variance), H_MIN, cap);
}

/**
 * Level-1 grid of a group inside a larger account: the group's T steps may add up to η²·max(V_g, V/F) of variance
 * (V the account's total loss variance, F its number of factors), so a group that is a small part of the account is
 * not resolved more finely than the account needs.
 */
export function chooseGroupH(g: Group, total: { scale: number; variance: number }, factors: number): number {
  const vg = g.steps * moments(g.sigma, g.q).variance;
  const allowance = Math.max(vg, total.variance / Math.max(1, factors));
  return pow2Floor(2 * ETA * Math.sqrt(allowance / g.steps), H_MIN, hCap(total.scale, H_MAX));
}

/**
 * Level-2 grid: F factors each add ≤ h²/4 against the total variance V; at most 2^−8 (more only for very large
 * losses). The level-2 error measured against 16× finer grids stays below 0.15% of ε on heterogeneous ledgers.
 */
export function chooseCoarseH(total: { scale: number; variance: number }, factors: number, finest: number): number {
  const cap = hCap(total.scale, H_MAX_COARSE);
  const h = pow2Floor(2 * ETA * Math.sqrt(total.variance / Math.max(1, factors)), H_MIN, cap);
  return Math.max(h, Math.min(finest, cap));
}

/** Drops the memoised step-loss moments (part of clearPldCaches). */
export function clearMomentCache(): void {
  momentCache.clear();
}
