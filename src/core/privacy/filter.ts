/**
 * The budget filter: a Rényi-DP privacy filter over a fixed set of orders, valid under fully adaptive composition
 * (each run's mechanisms and parameters may be chosen after reading every earlier output).
 *
 * Theorem used (Feldman & Zrnic 2021, "Individual Privacy Accounting via a Rényi Filter", Thm 3.1; multi-order use as
 * in Lécuyer 2021, "Practical Privacy Filters and Odometers with Rényi Differential Privacy"): for one order α, if
 * every adaptively chosen mechanism t is (α, ρ_t(α))-RDP given the past and the interaction only goes on while
 * Σ_t ρ_t(α) ≤ B_α, then E_P[exp((α−1)(L − Σ_t ρ_t(α)))] ≤ 1 for the whole interaction's privacy loss L (the
 * process is a supermartingale, stopped), so the interaction is (α, B_α)-RDP.
 *
 * Several orders Λ: the filter admits a new run when, after it, SOME order α ∈ Λ still has Σ ρ(α) ≤ B_α. We do not
 * rely on halting only when every order is exhausted being valid without a correction (the order that survives is
 * chosen by the outputs); we pay a union bound over the |Λ| orders instead:
 *   δ_total = E_P[(1 − e^{ε−L})_+] ≤ Σ_α E_P[(1 − e^{ε−L})_+ · 1{Σρ(α) ≤ B_α}]
 *          ≤ Σ_α (1/α)(1 − 1/α)^{α−1} e^{(α−1)(B_α − ε)} E_P[e^{(α−1)(L − Σρ(α))}]
 *          ≤ Σ_α (1/α)(1 − 1/α)^{α−1} e^{(α−1)(B_α − ε)},
 * using (1 − e^{−x})_+ ≤ (1/α)(1 − 1/α)^{α−1} e^{(α−1)x} for all x (its maximum over x ≥ 0 is at e^{−x} = 1 − 1/α).
 * Each term is δ/|Λ| exactly when ε = B_α + ln(1 − 1/α) − ln(α·δ/|Λ|)/(α − 1): the improved RDP → (ε, δ) conversion
 * of Balle, Barthe, Gaboardi, Hsu & Sato (AISTATS 2020, Thm 21) at δ/|Λ|. So "filter ε of an RDP curve R" is
 *   ε_F(R) = min over α ∈ Λ of R(α) + ln(1 − 1/α) − ln(α·δ/|Λ|)/(α − 1),
 * and a run is admitted when ε_F of the composition with it stays ≤ the total. docs/PRIVACY.md has the argument.
 */
import { memoiseRdpOrders, rdpOfSpecs } from './rdp';
import type { MechanismSpec } from './types';

/**
 * The filter's orders. Fixed: the set is part of the filter's definition and enters the union bound (δ/|Λ|), so it
 * is small. It covers the orders that are optimal for ε between about 0.3 and 20 at δ from 1e-3 to 1e-9 for the
 * subsampled and plain Gaussians this tool runs (test/core/privacy/filter.test.ts checks the loss against all of
 * dp_accounting's default orders).
 */
export const FILTER_ORDERS: readonly number[] = Object.freeze([
  1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 16, 20, 32, 64, 256,
]);
memoiseRdpOrders(FILTER_ORDERS, 'filter');

/** ε certified by the filter for an RDP curve over `orders` at δ (union over the orders: δ/|Λ| each). */
export function filterEpsilonOfRdp(
  rdp: ArrayLike<number>,
  delta: number,
  orders: readonly number[] = FILTER_ORDERS,
): { epsilon: number; order: number } {
  let best = Infinity;
  let bestOrder = NaN;
  let any = false;
  const share = delta / orders.length;
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    // A (rounding-)negative value is 0; NaN or +∞ drops the order (it still counts in |Λ|: conservative).
    const r = Math.max(0, rdp[i]!);
    if (Number.isNaN(rdp[i]!) || r === Infinity || !(a > 1)) continue;
    if (r > 0) any = true;
    const eps = r + Math.log1p(-1 / a) - Math.log(share * a) / (a - 1);
    if (eps < best) {
      best = eps;
      bestOrder = a;
    }
  }
  if (!any && Number.isFinite(best)) return { epsilon: 0, order: NaN };
  return { epsilon: Math.max(0, best), order: bestOrder };
}

/** Filter ε of the composition of `specs` (0 when nothing leaks), at δ. */
export function filterEpsilon(specs: readonly MechanismSpec[], delta: number): number {
  return filterEpsilonOfRdp(rdpOfSpecs(specs, FILTER_ORDERS), delta).epsilon;
}
