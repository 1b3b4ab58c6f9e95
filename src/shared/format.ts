/**
 * One way to write numbers for people, in the CLI, the editor and the webview (this module is imported by all three,
 * so it uses nothing but the language). Machine outputs (--json, exports, the ledger) keep full precision and never
 * go through it.
 */

/**
 * `digits` significant digits with trailing zeros dropped ("4", "0.3927", "12.35"); below 10⁻³ or from 10⁵ on, the
 * exponent form with `exponentDigits` significant digits, as toExponential writes it ("6.67e-4", "1.000e-5").
 * Infinity and NaN as themselves.
 */
export function formatNumber(x: number, digits = 4, exponentDigits = digits - 1): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const rounded = Number(x.toPrecision(digits));
  const a = Math.abs(rounded);
  if (a >= 1e-3 && a < 1e5) return String(rounded);
  return x.toExponential(exponentDigits - 1);
}

/** A privacy loss ε (also σ, μ and other accountant outputs): 4 significant digits, 3 in the exponent form. */
export function formatEpsilon(epsilon: number): string {
  return formatNumber(epsilon, 4);
}

/** A δ: always the exponent form with 3 significant digits ("1.00e-6"), so δs line up and compare at a glance. */
export function formatDelta(delta: number): string {
  return Number.isFinite(delta) ? delta.toExponential(2) : String(delta);
}

/** A count with thousands separators ("12,345"). */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** A fraction as a percentage with `decimals` decimals ("12.5%"). */
export function formatPercent(fraction: number, decimals = 1): string {
  return `${(100 * fraction).toFixed(decimals)}%`;
}

/** An estimated cost in US dollars, to 1/100 of a cent ("0.0123"). */
export function formatUsd(cost: number): string {
  return cost.toFixed(4);
}
