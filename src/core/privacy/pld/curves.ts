/**
 * Exact privacy curves of one step, for the PLD accountant's discretisation (see ../README.md, "Accountants").
 *
 * Closed forms: for the remove pair δ(ε) = q·δ_G(z) with z = ln(1 + (e^ε − 1)/q) and δ_G the Gaussian curve of
 * gaussian.ts; for the add pair δ(ε) = (1 − (1−q)e^ε)·δ_G(−ln(1 + (e^{−ε} − 1)/q)); both follow from
 * H_{e^ε}(P‖Q) = P(L > ε) − e^ε·Q(L > ε) with the loss CDF of the subsampled Gaussian (derivation in
 * docs/BACKGROUND.md §3.2; Koskela, Jälkö, Honkela, AISTATS 2020, §6).
 */
import { gaussianDelta } from '../gaussian';
import { normalCdf } from '../special';

/** Exact privacy curve of one ordered pair, for building its discrete PLD. */
export interface Curve {
  /** δ(ε) = H_{e^ε}(P‖Q), for every real ε. */
  delta(eps: number): number;
  /** The loss is ≥ lower (−∞ when unbounded). */
  lower: number;
  /** The loss is ≤ upper (+∞ when unbounded). */
  upper: number;
  /** P(L ≤ t), used to cut the lower tail when `lower` is −∞. */
  cdf(t: number): number;
  /** lim δ(ε) as ε → −∞: the total mass (1 for a probability pair; composed discrete curves can exceed it by
   * round-off). */
  total?: number;
  /** A loss value inside the bulk of the distribution, where the searches for the grid ends start (default 0). */
  center?: number;
}

/**
 * Remove pair (q·N(1,σ²) + (1−q)·N(0,σ²) vs N(0,σ²)): δ(ε) = q·δ_G(ln(1 + (e^ε − 1)/q)) for ε > ln(1−q), else 1 − e^ε.
 * Source: H_{e^ε}(P‖Q) = P(L > ε) − e^ε·Q(L > ε) with the loss CDF of docs/BACKGROUND.md §3.2; the same identity as the
 * amplification-by-Poisson-subsampling bound of Balle, Barthe, Gaboardi (NeurIPS 2018), tight for the Gaussian.
 */
export function removeCurve(sigma: number, q: number): Curve {
  const mu = 1 / sigma;
  const lower = Math.log1p(-q);
  return {
    lower,
    upper: Infinity,
    delta(eps) {
      if (eps <= lower) return -Math.expm1(eps);
      const z = Math.log1p(Math.expm1(eps) / q);
      return q * gaussianDelta(z, mu);
    },
    cdf(t) {
      if (t <= lower) return 0;
      const z = Math.log1p(Math.expm1(t) / q);
      return q * normalCdf(sigma * z - mu / 2) + (1 - q) * normalCdf(sigma * z + mu / 2);
    },
  };
}

/**
 * Add pair (N(0,σ²) vs q·N(1,σ²) + (1−q)·N(0,σ²)): δ(ε) = (1 − (1−q)e^ε)·δ_G(−ln(1 + (e^{−ε} − 1)/q)) for
 * ε < −ln(1−q), else 0. Source: same derivation with the roles swapped; equals 1 − e^ε + e^ε·δ_remove(−ε) (tested).
 */
export function addCurve(sigma: number, q: number): Curve {
  const mu = 1 / sigma;
  const upper = -Math.log1p(-q);
  const log1mq = Math.log1p(-q);
  return {
    lower: -Infinity,
    upper,
    delta(eps) {
      if (eps >= upper) return 0;
      const pref = -Math.expm1(eps + log1mq); // 1 − (1−q)e^ε
      const z = -Math.log1p(Math.expm1(-eps) / q);
      return Math.min(1, pref * gaussianDelta(z, mu));
    },
    cdf(t) {
      if (t >= upper) return 1;
      const z = Math.log1p(Math.expm1(-t) / q);
      return normalCdf(-sigma * z - mu / 2);
    },
  };
}

/** Gaussian pair N(μ,1) vs N(0,1): δ(ε) of Balle & Wang (2018, Thm 8); the loss is N(μ²/2, μ²). */
export function gaussianCurve(mu: number): Curve {
  return {
    lower: -Infinity,
    upper: Infinity,
    delta: (eps) => gaussianDelta(eps, mu),
    cdf: (t) => normalCdf((t - (mu * mu) / 2) / mu),
    center: (mu * mu) / 2,
  };
}
