/**
 * One table of the run parameters' limits and the forms' starting values, imported by the CLI flags
 * (src/cli/run-flags.ts), the webview protocol (protocol.ts) and the panels. It lives in src/shared because the
 * webview may import nothing else; it holds public constants only (no node, no vscode, no zod).
 * The algorithms' own defaults (AUGPE_DEFAULTS, FEWSHOT_DEFAULTS) stay beside their plans in src/core.
 */

/** A number's allowed range. `integer`: whole numbers only. */
export interface Limit {
  readonly min: number;
  readonly max?: number;
  readonly integer?: boolean;
}

/** Smallest positive double: "> 0" for a flag or a form field. */
const POSITIVE = Number.MIN_VALUE;

export const LIMITS = {
  /** ε of one run (> 0; the ledger refuses what does not fit). */
  epsilon: { min: POSITIVE },
  // DP few-shot (demos, the Generate panel).
  shots: { min: 1, integer: true },
  prompts: { min: 1, max: 1000, integer: true },
  examplesPerPrompt: { min: POSITIVE, max: 1000 },
  demoMaxTokens: { min: 1, max: 4096, integer: true },
  countShare: { min: POSITIVE, max: 0.99 },
  lookahead: { min: 1, max: 64, integer: true },
  shotConcurrency: { min: 1, max: 1000, integer: true },
  // Aug-PE (synth, the Synthesize panel).
  count: { min: 1, max: 1_000_000, integer: true },
  iterations: { min: 1, max: 1000, integer: true },
  variations: { min: 1, max: 100, integer: true },
  neighbours: { min: 1, max: 100, integer: true },
  threshold: { min: 0 },
  maskProbability: { min: POSITIVE, max: 1 },
  temperature: { min: 0, max: 5 },
  recordMaxTokens: { min: 1, max: 8192, integer: true },
} as const satisfies Record<string, Limit>;

/** The forms' starting values where the algorithm has no default of its own (ε, shots, records). */
export const FORM_DEFAULTS = {
  epsilon: 1,
  shots: 2,
  count: 10,
} as const;
