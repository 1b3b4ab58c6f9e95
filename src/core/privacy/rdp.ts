/**
 * Rényi-DP accountant for the Poisson-subsampled Gaussian: a conservative cross-check and fallback for the PLD.
 *
 * Convention: add/remove neighbours. The RDP of the sampled Gaussian is computed for the pair
 * (P, Q) = (q·N(1, σ²) + (1−q)·N(0, σ²), N(0, σ²)), i.e. D_α(P‖Q); Mironov, Talwar & Zhang (2019), Theorem 5, show
 * D_α(P‖Q) ≥ D_α(Q‖P) for this pair, so one number covers both directions of add/remove.
 */
import { isPoissonGaussian, isVacuous, type MechanismSpec } from './types';
import { logAdd, logBinomAbs, logErfc } from './special';

/** Orders as dp_accounting's RdpAccountant default: 1.1, 1.2, …, 10.9, then 11…63, 128, 256, 512, 1024. */
export const DEFAULT_RDP_ORDERS: readonly number[] = [
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 53 }, (_, i) => 11 + i),
  128,
  256,
  512,
  1024,
];

/**
 * ln A_α for integer α: A_α = Σ_{i=0}^{α} C(α,i) (1−q)^{α−i} q^i exp((i² − i)/(2σ²)).
 * Source: Mironov, Talwar, Zhang, "Rényi differential privacy of the sampled Gaussian mechanism" (2019), §3.2;
 * dp_accounting rdp_privacy_accountant._compute_log_a_int.
 */
function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  const logQ = Math.log(q);
  const log1mq = Math.log1p(-q);
  for (let i = 0; i <= alpha; i++) {
    const s = logBinomAbs(alpha, i) + i * logQ + (alpha - i) * log1mq + (i * i - i) / (2 * sigma * sigma);
    logA = logAdd(logA, s);
  }
  return logA;
}

/**
 * ln A_α for fractional α: the two series of Mironov, Talwar, Zhang (2019), §3.3, split at z0 = σ² ln(1/q − 1) + ½.
 * Every term is added with the absolute value of its generalised binomial coefficient, which can only increase A_α
 * (conservative), exactly as dp_accounting rdp_privacy_accountant._compute_log_a_frac does. Returns +∞ when the
 * series has not converged after 1000 terms, which drops this order (conservative).
 */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const logQ = Math.log(q);
  const log1mq = Math.log1p(-q);
  let lastS0 = -Infinity;
  let lastS1 = -Infinity;
  const s2 = Math.SQRT2 * sigma;
  for (let i = 0; i < 1000; i++) {
    const logCoef = logBinomAbs(alpha, i);
    const j = alpha - i;
    const logT0 = logCoef + i * logQ + j * log1mq;
    const logT1 = logCoef + j * logQ + i * log1mq;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / s2);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / s2);
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    logA0 = logAdd(logA0, logS0);
    logA1 = logAdd(logA1, logS1);
    const total = logAdd(logA0, logA1);
    if (logS0 < lastS0 && logS1 < lastS1 && Math.max(logS0, logS1) < total - 30) return total;
    lastS0 = logS0;
    lastS1 = logS1;
  }
  return Infinity;
}

/** RDP ε_α of one step of the Poisson-subsampled Gaussian (dp_accounting _compute_rdp_poisson_subsampled_gaussian). */
export function rdpPoissonGaussian(q: number, sigma: number, alpha: number): number {
  if (q === 0) return 0;
  if (!Number.isFinite(alpha)) return Infinity;
  // Plain Gaussian: D_α(N(1,σ²)‖N(0,σ²)) = α/(2σ²) (Mironov 2017, Proposition 7).
  if (q === 1) return alpha / (2 * sigma * sigma);
  const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
  return logA / (alpha - 1);
}

const rdpCache = new Map<string, Float64Array>();
/** Order sets whose curves are memoised (the defaults and the budget filter's), by identity. */
const memoisedOrders = new Map<readonly number[], string>([[DEFAULT_RDP_ORDERS, 'd']]);

/** Memoises the per-(σ, q) curves over `orders` (a fixed, frozen order set such as the budget filter's). */
export function memoiseRdpOrders(orders: readonly number[], tag: string): void {
  memoisedOrders.set(orders, tag);
}

/** Drops the memoised per-(σ, q) RDP curves. */
export function clearRdpCache(): void {
  rdpCache.clear();
}

/** Per-step RDP curve of one (σ, q) over `orders` (memoised for the default orders). */
export function rdpCurve(q: number, sigma: number, orders: readonly number[] = DEFAULT_RDP_ORDERS): Float64Array {
  const tag = memoisedOrders.get(orders);
  const key = tag === undefined ? undefined : `${tag}|${q}|${sigma}`;
  const hit = key === undefined ? undefined : rdpCache.get(key);
  if (hit) return hit;
  const out = new Float64Array(orders.length);
  for (let i = 0; i < orders.length; i++) out[i] = rdpPoissonGaussian(q, sigma, orders[i]!);
  if (key !== undefined) {
    if (rdpCache.size > 4096) rdpCache.clear();
    rdpCache.set(key, out);
  }
  return out;
}

/** Total RDP of a composition (RDP composes additively, Mironov 2017, Proposition 1). */
export function rdpOfSpecs(
  specs: readonly MechanismSpec[],
  orders: readonly number[] = DEFAULT_RDP_ORDERS,
): Float64Array {
  const total = new Float64Array(orders.length);
  for (const s of specs) {
    if (isVacuous(s)) continue;
    const q = isPoissonGaussian(s) ? s.samplingRate : 1;
    const curve = rdpCurve(q, s.sigma, orders);
    for (let i = 0; i < orders.length; i++) total[i]! += s.steps * curve[i]!;
  }
  return total;
}

/**
 * ε at δ from an RDP curve, with the improved conversion ε = r + ln(1 − 1/α) − ln(δ·α)/(α − 1), plus the KL-based
 * shortcut to ε = 0 when δ² > 1 − e^{−r}.
 * Source: Balle, Barthe, Gaboardi, Hsu, Sato, "Hypothesis testing interpretations and Rényi DP" (AISTATS 2020),
 * Theorem 21; as implemented in dp_accounting rdp_privacy_accountant.compute_epsilon (orders ≤ 1.01 are skipped).
 */
export function rdpToEpsilon(
  orders: readonly number[],
  rdp: ArrayLike<number>,
  delta: number,
): { epsilon: number; order: number } {
  const { value, order } = minOverOrders(orders, rdp, (a, r) => {
    if (Number.isNaN(r) || r === Infinity) return Infinity;
    if (r <= 0) return 0;
    if (delta * delta + Math.expm1(-r) > 0) return 0;
    if (a > 1.01) return r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    return Infinity;
  });
  return { epsilon: Math.max(0, value), order };
}

/**
 * δ at ε from an RDP curve: min over orders of min(√(1 − e^{−r}), exp((α−1)(r − ε + ln(1 − 1/α)) − ln α)).
 * Source: Balle et al. (AISTATS 2020), Theorem 21; dp_accounting rdp_privacy_accountant.compute_delta.
 */
export function rdpToDelta(
  orders: readonly number[],
  rdp: ArrayLike<number>,
  epsilon: number,
): { delta: number; order: number } {
  const { value, order } = minOverOrders(orders, rdp, (a, r) => {
    let logDelta: number;
    if (Number.isNaN(r) || r === Infinity) logDelta = Infinity;
    else if (r <= 0) logDelta = -Infinity;
    else logDelta = 0.5 * Math.log1p(-Math.exp(-r));
    if (a > 1.01 && Number.isFinite(r)) {
      const bound = (a - 1) * (r - epsilon + Math.log1p(-1 / a)) - Math.log(a);
      logDelta = Math.min(logDelta, bound);
    }
    return logDelta;
  });
  return { delta: Math.min(1, Math.exp(value)), order };
}

/** The smallest f(α, r) over the orders, and the first order reaching it (NaN when none is below Infinity). */
function minOverOrders(
  orders: readonly number[],
  rdp: ArrayLike<number>,
  f: (order: number, r: number) => number,
): { value: number; order: number } {
  let best = Infinity;
  let bestOrder = NaN;
  for (let i = 0; i < orders.length; i++) {
    const v = f(orders[i]!, rdp[i]!);
    if (v < best) {
      best = v;
      bestOrder = orders[i]!;
    }
  }
  return { value: best, order: bestOrder };
}

export function rdpEpsilon(specs: readonly MechanismSpec[], delta: number): number {
  return rdpToEpsilon(DEFAULT_RDP_ORDERS, rdpOfSpecs(specs), delta).epsilon;
}

export function rdpDelta(specs: readonly MechanismSpec[], epsilon: number): number {
  return rdpToDelta(DEFAULT_RDP_ORDERS, rdpOfSpecs(specs), epsilon).delta;
}
