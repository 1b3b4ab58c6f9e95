// The one way numbers are written for people, and the form's own words for CLI flags. Plain TS with no imports: the
// CLI, the extension host and the webview all use it (the webview's bundle may import only src/shared). Machine
// outputs (--json, exports, the ledger) keep full precision and never go through it.
//
// Two roles, one module: the panels show every figure with formatNumber (two decimals, 0.52); the CLI's accountant
// queries and the ledger's messages, which people compare against papers and dp_accounting, keep four significant
// digits (formatEpsilon, 0.5216). δ is written one way everywhere (formatDelta: 1e-6, 1.2e-6).

/**
 * A number as the panels show it: two decimals at 0.1 and above (trailing zeros dropped, thousands grouped: 0.52,
 * 1.48, 24.08, 1,234.5), two significant digits below (0.0062), so a small ε never shows as 0.
 */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 0.1) return x.toLocaleString('en-US', { maximumFractionDigits: 2, useGrouping: true });
  return String(Number(x.toPrecision(2)));
}

/** δ and other tiny probabilities, everywhere: two significant digits in exponent form (1e-5, 1.2e-6). */
export function formatDelta(x: number): string {
  if (!Number.isFinite(x) || x === 0) return String(x);
  return Number(x.toPrecision(2)).toExponential();
}

/** A count with thousands grouped (7,537). */
export function formatCount(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : String(x);
}

/**
 * `digits` significant digits with trailing zeros dropped ("4", "0.3927", "12.35"); below 10⁻³ or from 10⁵ on, the
 * exponent form with `exponentDigits` significant digits, as toExponential writes it ("6.67e-4", "1.000e-5").
 * Infinity and NaN as themselves. For the CLI's accountant figures; the panels use formatNumber.
 */
export function formatSignificant(x: number, digits = 4, exponentDigits = digits - 1): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const rounded = Number(x.toPrecision(digits));
  const a = Math.abs(rounded);
  if (a >= 1e-3 && a < 1e5) return String(rounded);
  return x.toExponential(exponentDigits - 1);
}

/** A privacy loss ε (also σ, μ) in the CLI and the ledger's messages: 4 significant digits, 3 in the exponent form. */
export function formatEpsilon(epsilon: number): string {
  return formatSignificant(epsilon, 4);
}

/** A fraction as a percentage with `decimals` decimals ("12.5%"). */
export function formatPercent(fraction: number, decimals = 1): string {
  return `${(100 * fraction).toFixed(decimals)}%`;
}

/** An estimated cost in US dollars, to 1/100 of a cent ("0.0123"). */
export function formatUsd(cost: number): string {
  return cost.toFixed(4);
}

/**
 * Rounds the long decimals in a message written elsewhere (a refusal says "planned 24.08191678513409"): any decimal
 * with five or more fractional digits is written with formatNumber. Shorter figures (σ = 1.234) are left as written.
 */
export function roundLongNumbers(text: string): string {
  return text.replace(/(?<![\w.])-?\d+\.\d{5,}(?:e[+-]?\d+)?(?![\w.])/gi, (m) => formatNumber(Number(m)));
}

/** Which form a message is shown in. */
export type FormKind = 'generate' | 'synth';

/**
 * The CLI flags that core messages name, as the fields of each form call them (the order matters: longer phrases
 * first). A flag with no field in the form says where it is set instead.
 */
const FIELD_NAMES: Record<FormKind, readonly (readonly [RegExp, string])[]> = {
  generate: [
    [/--prompts or --examples-per-prompt/g, '“Prompts M”'],
    [/--examples-per-prompt/g, 'examples per prompt N (set in the CLI only)'],
    [/--prompts\b/g, '“Prompts M”'],
    [/--shots\b/g, '“Shots per label”'],
    [/--max-tokens\b/g, '“Max tokens T_max”'],
  ],
  synth: [
    [/--count\b/g, '“Records in total”'],
    [/--iterations\b/g, '“Iterations T”'],
    [/--variations\b/g, '“Variations per record (L − 1)”'],
    [/--embedder builtin\b/g, '“Built-in embedder”'],
  ],
};
const COMMON_NAMES: readonly (readonly [RegExp, string])[] = [
  [/--epsilon\b/g, '“ε for this run”'],
  [/--all-labels\b/g, '“Use all labels”'],
  [/--labels\b/g, 'the ticked labels'],
];

/**
 * A message from the planner or the ledger in the form's own words: the CLI flags it names become the form's field
 * names, and long decimals are rounded the panels' way. Applied by the panel host to plan warnings, refusals and
 * errors before they are posted.
 */
export function inFormWords(text: string, kind: FormKind): string {
  let t = text;
  for (const [re, name] of [...FIELD_NAMES[kind], ...COMMON_NAMES]) t = t.replace(re, name);
  return roundLongNumbers(t);
}
