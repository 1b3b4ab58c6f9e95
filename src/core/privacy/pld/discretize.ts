/**
 * Connect-the-dots discretisation of one privacy curve (Doroshenko, Ghazi, Kamath, Kumar, Manurangsi, PETS 2022;
 * dp_accounting's default): the discrete PLD whose curve interpolates the exact δ at the grid points linearly in e^ε.
 * Why this is a dominating pair: ../README.md, "Accountants".
 */
import type { Curve } from './curves';

/** One direction of one step's discrete PLD: mass pmf[k] at loss (offset + k)·h, plus `infMass` at +∞. */
export interface DiscretePld {
  h: number;
  offset: number;
  pmf: Float64Array;
  infMass: number;
}

/** Per-step truncation: infinity mass above the grid, and lower-tail mass lumped onto the first grid point. */
const STEP_TAIL = 1e-22;
/** Upper limit on one step's grid. */
const MAX_STEP_POINTS = 1 << 22;

/**
 * Walks from `start` in direction `dir` in doubling steps until `heavy` is false, then bisects to grid precision h.
 * Returns the outer (light) end: a point within h of a heavy one, so cutting there drops at most the tail bound.
 * Undefined when the walk runs past 1e6.
 */
function tailCut(start: number, h: number, dir: 1 | -1, heavy: (x: number) => boolean): number | undefined {
  let inner = start;
  let step = h;
  let outer = inner + dir * step;
  while (heavy(outer)) {
    inner = outer;
    step *= 2;
    outer = inner + dir * step;
    if (step > 1e6) return undefined;
  }
  while (Math.abs(outer - inner) > h) {
    const mid = 0.5 * (inner + outer);
    if (heavy(mid)) inner = mid;
    else outer = mid;
  }
  return outer;
}

/** The discrete connect-the-dots PLD of `curve` on the grid h, or undefined when it would exceed MAX_STEP_POINTS. */
export function discretize(curve: Curve, h: number): DiscretePld | undefined {
  if (!(h > 0)) throw new RangeError('discretize: h must be positive');
  let iLo: number;
  if (Number.isFinite(curve.lower)) {
    iLo = Math.floor(curve.lower / h);
  } else {
    // Cut where the lower-tail mass is below STEP_TAIL; that mass is moved up to the first grid point (pessimistic).
    const loT = tailCut(Math.min(curve.center ?? 0, curve.upper), h, -1, (x) => curve.cdf(x) > STEP_TAIL);
    if (loT === undefined) return undefined;
    iLo = Math.floor(loT / h);
  }
  let iHi: number;
  if (Number.isFinite(curve.upper)) {
    iHi = Math.ceil(curve.upper / h);
  } else {
    // Cut where the remaining δ above is below STEP_TAIL; that mass goes to the infinity atom (pessimistic).
    const hi = tailCut(Math.max(curve.center ?? 0, iLo * h), h, 1, (x) => curve.delta(x) > STEP_TAIL);
    if (hi === undefined) return undefined;
    iHi = Math.ceil(hi / h);
  }
  if (iHi < iLo + 1) iHi = iLo + 1;
  const n = iHi - iLo + 1;
  if (n > MAX_STEP_POINTS) return undefined;
  const d = new Float64Array(n);
  for (let k = 0; k < n; k++) d[k] = curve.delta((iLo + k) * h);
  // Masses from the slopes of the interpolated curve in x = e^ε (kink at x_k carries mass x_k·(right − left slope)):
  //   m_0 = (D_1 − D_0)/(e^h − 1) + (M − D_0)                  (left slope from the dot (0, M), M the total mass)
  //   m_k = [(D_{k+1} − D_k) − e^h (D_k − D_{k−1})]/(e^h − 1)
  //   m_top = −e^h (D_top − D_{top−1})/(e^h − 1),  infinity mass = D_top (the curve is flat beyond the grid).
  // They sum to 1 exactly (telescoping). The second differences carry rounding noise (~1e−16·D/h per point), which
  // can make a mass slightly negative. Raising those to 0 would add mass (~1e−7 per step on fine grids, compounding
  // over thousands of steps), so instead a negative mass is carried down to the next point below: negative mass moved
  // down is positive mass moved up, so every upper tail sum only grows (the result stochastically dominates the
  // signed measure, hence its δ curve is still ≥ the interpolated exact values) and the total stays ≤ 1.
  const eh = Math.exp(h);
  const em1 = Math.expm1(h);
  const pmf = new Float64Array(n);
  pmf[0] = (d[1]! - d[0]!) / em1 + ((curve.total ?? 1) - d[0]!);
  for (let k = 1; k < n - 1; k++) pmf[k] = (d[k + 1]! - d[k]! - eh * (d[k]! - d[k - 1]!)) / em1;
  pmf[n - 1] = (-eh * (d[n - 1]! - d[n - 2]!)) / em1;
  let debt = 0;
  for (let k = n - 1; k >= 0; k--) {
    const m = pmf[k]! - debt;
    if (m >= 0) {
      pmf[k] = m;
      debt = 0;
    } else {
      pmf[k] = 0;
      debt = Number.isNaN(m) ? 0 : -m;
    }
  }
  return { h, offset: iLo, pmf, infMass: d[n - 1]! };
}
