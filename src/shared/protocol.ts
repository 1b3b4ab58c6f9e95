/**
 * The one message protocol between the extension host and the webview. Both sides validate every message with
 * these zod schemas: the host because a webview is untrusted input, the webview because it should never render
 * something it does not understand. This folder is the only part of src/ that webview code may import (see
 * eslint.config.mjs): it imports zod and nothing from node or vscode.
 *
 * Private text (dataset rows, label counts) may travel host → webview for local display; the webview renders it
 * as text only (textContent), never as HTML. zod/mini keeps the webview bundle small.
 */
import * as z from 'zod/mini';
import { LIMITS } from './limits';

/** A non-negative whole number. */
const count = z.int().check(z.nonnegative());

export const datasetSummarySchema = z.object({
  file: z.string(),
  format: z.string(),
  columns: z.object({
    text: z.string(),
    label: z.string(),
    unit: z.nullable(z.string()),
    available: z.array(z.string()),
    detected: z.object({ text: z.boolean(), label: z.boolean() }),
  }),
  rows: count,
  units: count,
  largestUnit: count,
  labels: z.array(z.object({ label: z.string(), count: count })),
  textLength: z.object({ min: z.number(), max: z.number(), mean: z.number(), median: z.number(), p95: z.number() }),
  duplicateTexts: count,
  duplicatesRemoved: count,
  skipped: z.object({
    count: count,
    first: z.array(z.object({ line: z.int(), column: z.string(), reason: z.string() })),
  }),
  warnings: z.array(z.string()),
  identity: z.object({ path: z.string(), contentSha256: z.string(), bytes: count }),
});
export type DatasetSummaryMessage = z.infer<typeof datasetSummarySchema>;

/** The budget of one dataset as the ledger sees it (ε figures; δ of the total). */
export const budgetSchema = z.object({
  total: z.number(),
  delta: z.number(),
  spent: z.number(),
  remaining: z.number(),
  /** The PLD composition of the same runs as if all had been planned in advance (spent is the budget filter's). */
  asPlanned: z.optional(z.number()),
});
export type BudgetMessage = z.infer<typeof budgetSchema>;

/** Settings of a DP few-shot run chosen in the Generate form. `allLabels` is the explicit acknowledgement that
 * the file's label set becomes public (as the CLI's --all-labels); without it `labels` must name the labels. */
export const generateSettingsSchema = z.object({
  labels: z.array(z.string()),
  allLabels: z.boolean(),
  shots: z.int().check(z.positive()),
  epsilon: z.number().check(z.positive()),
  prompts: z.int().check(z.positive()),
  maxTokens: z.int().check(z.positive()),
});
export type GenerateSettings = z.infer<typeof generateSettingsSchema>;

/** One demonstration of a run: its label and 0-based shot, tokens so far and the text so far (DP output). */
export const progressRowSchema = z.object({
  label: z.string(),
  shot: count,
  tokens: count,
  done: z.boolean(),
  text: z.string(),
});
export type ProgressRow = z.infer<typeof progressRowSchema>;

/** A run's totals: demonstrations planned/started/done, HTTP calls, round trips on the critical path, tokens. */
export const progressTotalsSchema = z.object({
  planned: count,
  started: count,
  done: count,
  calls: count,
  roundTrips: count,
  inputTokens: count,
  outputTokens: count,
});
export type ProgressTotals = z.infer<typeof progressTotalsSchema>;

const problemSchema = z.object({ message: z.string(), hint: z.optional(z.string()) });

/** The domain file the Synthesize panel uses (src/core/augpe/domain.ts), workspace-relative. */
export const domainInfoSchema = z.object({ file: z.string(), exists: z.boolean() });

/** Settings of an Aug-PE run chosen in the Synthesize form (limits as the CLI's `synth` flags). `embedder` 'builtin'
 * embeds the private rows with the built-in embedder on this machine (the CLI's --embedder builtin). */
export const synthSettingsSchema = z.object({
  labels: z.array(z.string()),
  allLabels: z.boolean(),
  count: z.int().check(z.positive(), z.maximum(LIMITS.count.max)),
  epsilon: z.number().check(z.positive()),
  iterations: z.int().check(z.positive(), z.maximum(LIMITS.iterations.max)),
  variations: z.int().check(z.positive(), z.maximum(LIMITS.variations.max)),
  embedder: z.enum(['same', 'builtin']),
  /** Aug-PE options (docs/AUGPE.md "Options"); absent = the defaults. */
  lookahead: z.optional(z.int().check(z.nonnegative(), z.maximum(16))),
  selection: z.optional(z.enum(['rank', 'prob'])),
  /** DP class fractions: the share of μ² for the label-count release, in (0, 1). */
  dpFractions: z.optional(z.number().check(z.positive(), z.lt(1))),
});
export type SynthSettings = z.infer<typeof synthSettingsSchema>;

const modelSchema = z.object({ kind: z.string(), model: z.string(), offline: z.boolean() });

/**
 * Where an Aug-PE run is, as the core reports it (core/augpe/types.ts AugPeProgress) and the Synthesize view shows it.
 * Also a piece of the worker protocol's progress schema (core/worker/protocol.ts).
 */
export const augPeTotalsShape = {
  iteration: count,
  iterations: count,
  /** Noisy histograms computed so far (what a stop now would charge). */
  histograms: count,
  completions: count,
  calls: count,
  inputTokens: count,
  outputTokens: count,
  cost: z.number(),
};

/** Where one label of an Aug-PE run is (see src/extension/panels/synthProgress.ts for the transitions). */
export const SYNTH_STAGES = [
  'waiting',
  'embedding',
  'writing',
  'written',
  'voting',
  'varying',
  'varied',
  'done',
  'stopped',
] as const;
export const synthLabelRowSchema = z.object({
  label: z.string(),
  count: count,
  stage: z.enum(SYNTH_STAGES),
  iteration: count,
});
export type SynthLabelRow = z.infer<typeof synthLabelRowSchema>;

/**
 * The release (src/core/release.ts: the one type of what may leave the machine) as the webview receives it. Strict
 * objects: a release with any other key (usage, a hash, a path) fails validation and is not shown. Kept equal to the
 * core type by test/core/release.test.ts.
 */
const releasedTextSchema = z.strictObject({ label: z.string(), text: z.string() });
const releaseModelSchema = z.strictObject({ kind: z.string(), model: z.string(), offline: z.boolean() });
const runStatusSchema = z.enum(['completed', 'cancelled', 'failed']);
/** The fields every release starts with (layout, tool, algorithm, offline notice, status, model). */
const releaseHead = <A extends 'dp-few-shot' | 'aug-pe'>(algorithm: A) => ({
  format: z.literal('private-fewshot-release/1'),
  tool: z.string(),
  algorithm: z.literal(algorithm),
  notice: z.nullable(z.string()),
  status: runStatusSchema,
  model: releaseModelSchema,
});
/** The first figures of every release's privacy: ε asked for, planned and charged, at δ. */
const releaseEpsilons = {
  epsilonRequested: z.number(),
  epsilonPlanned: z.number(),
  epsilonCharged: z.number(),
  delta: z.number(),
};
export const fewShotReleaseSchema = z.strictObject({
  ...releaseHead('dp-few-shot'),
  privacy: z.strictObject({
    ...releaseEpsilons,
    accountant: z.literal('pld'),
    unit: z.string(),
    labels: z.array(z.strictObject({ label: z.string(), sigma: z.number(), steps: count })),
  }),
  parameters: z.strictObject({
    labels: z.array(z.string()),
    shots: count,
    prompts: count,
    examplesPerPrompt: z.number(),
    maxTokens: count,
    topK: count,
    lookahead: count,
    shotConcurrency: count,
  }),
  demonstrations: z.array(releasedTextSchema),
});
export const augPeReleaseSchema = z.strictObject({
  ...releaseHead('aug-pe'),
  embedder: releaseModelSchema,
  privacy: z.strictObject({
    ...releaseEpsilons,
    accountant: z.literal('gdp'),
    unit: z.string(),
    sigma: z.number(),
    iterations: count,
    histograms: count,
    sigmaClass: z.nullable(z.number()),
    mu: z.number(),
  }),
  parameters: z.strictObject({
    labels: z.array(z.string()),
    counts: z.array(count),
    fractions: z.array(z.number()),
    classCounts: z.enum(['equal', 'public', 'dp']),
    lookahead: count,
    selection: z.enum(['rank', 'prob']),
    variations: count,
    neighbours: count,
    metric: z.string(),
    threshold: z.number(),
    variation: z.string(),
    maskProbability: z.number(),
    temperature: z.number(),
    maxTokens: count,
  }),
  records: z.array(releasedTextSchema),
});

/** Local diagnostics of a finished run, for the panel's "Local only, not private" area (never exported). */
export const localRunDiagnosticsSchema = z.object({
  calls: count,
  inputTokens: count,
  outputTokens: count,
  cost: z.number(),
  durationMs: z.number(),
  /** The run journal under .private-fewshot/runs/ (workspace-relative). */
  journal: z.string(),
});
export type LocalRunDiagnostics = z.infer<typeof localRunDiagnosticsSchema>;

/** Where a run's private data goes (src/core/providers/endpoint.ts), said in the plan before anything is sent. */
export const dataFlowSchema = z.object({
  offline: z.boolean(),
  /** The base URL private data is sent to, when remote. */
  endpoint: z.optional(z.string()),
  sentence: z.string(),
});
export type DataFlowMessage = z.infer<typeof dataFlowSchema>;

/** Estimated traffic of a remote run (src/core/traffic.ts): calls and completion tokens are public upper bounds;
 * prompt tokens and cost come from the private texts' mean length (local diagnostic, labelled so). */
export const trafficSchema = z.object({
  calls: count,
  completionTokens: count,
  promptTokens: count,
  cost: z.optional(z.number()),
});
export type TrafficMessage = z.infer<typeof trafficSchema>;

/** Both plans' budget check: the budget, what remains after the run, whether it fits, the refusal and warnings. */
const planCheckShape = {
  budget: budgetSchema,
  remainingAfter: z.number(),
  fits: z.boolean(),
  over: z.number(),
  refusal: z.optional(z.string()),
  warnings: z.array(z.string()),
};

/** The plan's plain-words budget fields (the errors helper's additions to 'plan' and 'synthPlan'). */
const planWordsShape = {
  /** What this run adds to the dataset's spent ε under the ledger's filter (spent after − spent before). */
  marginal: z.optional(z.number()),
  /** On a refusal: the largest ε for this run that the ledger admits (2 significant digits, rounded down). */
  largestFit: z.optional(z.number()),
  dataFlow: z.optional(dataFlowSchema),
  /** Remote providers only. */
  traffic: z.optional(trafficSchema),
  /** Remote providers only: the endpoint answered the capability probe before the plan was shown. */
  endpointChecked: z.optional(z.boolean()),
};

/** An error that a change of endpoint, key or model can fix: the panels offer Open Settings, Check Endpoint and Use
 * the Built-in Model next to it. */
export const endpointProblemSchema = z.object({ code: z.string(), url: z.optional(z.string()) });

/**
 * The Evaluate panel: accuracy per condition with its 95% Wilson interval, measured on private held-out rows
 * without noise (local only, not private; never in a release or an export). Accuracies are null when no row was
 * measured; ε is null for "∞" (real demonstrations) and when unknown.
 */
const accuracyCell = z.object({
  accuracy: z.nullable(z.number()),
  low: z.number(),
  high: z.number(),
  correct: count,
  n: count,
});
export const evaluateConditionSchema = z.object({
  kind: z.string(),
  name: z.string(),
  epsilon: z.nullable(z.number()),
  ...accuracyCell.shape,
  unanswered: count,
  perLabel: z.array(z.object({ label: z.string(), ...accuracyCell.shape })),
});
export type EvaluateCondition = z.infer<typeof evaluateConditionSchema>;

/** Host → webview. */
export const hostMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('loading'), file: z.string() }),
  z.object({ type: z.literal('summary'), summary: datasetSummarySchema }),
  z.object({
    type: z.literal('error'),
    file: z.string(),
    message: z.string(),
    hint: z.optional(z.string()),
    line: z.optional(z.int()),
  }),
  // The Generate panel. Label names are private-derived and travel only for local display in the form.
  z.object({
    type: z.literal('generateInit'),
    file: z.string(),
    labels: z.array(z.string()),
    provider: z.object({ kind: z.string(), model: z.string(), offline: z.boolean() }),
    budget: budgetSchema,
    defaults: z.object({ shots: count, epsilon: z.number(), prompts: count, maxTokens: count }),
  }),
  z.object({
    type: z.literal('plan'),
    epsilonRun: z.number(),
    delta: z.number(),
    // Public parameters only: the token σ and q are set at the start of the run from the noisy pool counts.
    countRelease: z.object({ sigma: z.number(), epsilon: z.number(), share: z.number() }),
    labels: z.array(z.object({ label: z.string(), steps: count })),
    ...planCheckShape,
    ...planWordsShape,
  }),
  // Run progress: one row per demonstration started (in flight or done). `rows` holds the rows that changed since
  // the last progress message; `reset` says they are the whole set (a new run, or a reloaded webview).
  z.object({
    type: z.literal('progress'),
    running: z.boolean(),
    reset: z.boolean(),
    rows: z.array(progressRowSchema),
    totals: progressTotalsSchema,
  }),
  // A finished DP few-shot run: the release (what Copy, Insert and Export… carry), the ledger's figures and the local
  // diagnostics, kept apart.
  z.object({
    type: z.literal('result'),
    release: fewShotReleaseSchema,
    /** How much the dataset's spent budget rose (a cancelled run settles only its started demonstrations). */
    budgetUsed: z.number(),
    budget: budgetSchema,
    localOnlyNotPrivate: localRunDiagnosticsSchema,
    message: z.optional(z.string()),
  }),
  // `action: 'setBudget'` when raising the dataset's total would fix it (a refused run): the view offers the button.
  z.object({
    type: z.literal('generateError'),
    ...problemSchema.shape,
    action: z.optional(z.literal('setBudget')),
    endpoint: z.optional(endpointProblemSchema),
    largestFit: z.optional(z.number()),
  }),
  // The answer to the panel's Check Endpoint button (the capability probe: fixed public text only).
  z.object({ type: z.literal('endpointCheck'), ok: z.boolean(), message: z.string(), hint: z.optional(z.string()) }),
  z.object({ type: z.literal('notice'), message: z.string() }),
  // The dataset's budget changed (set from the editor, or a ledger write by the CLI or another window).
  z.object({ type: z.literal('budget'), budget: budgetSchema }),
  // The Synthesize panel (Aug-PE). It shares 'generateError', 'notice' and 'budget' with the Generate panel.
  z.object({
    type: z.literal('synthInit'),
    file: z.string(),
    labels: z.array(z.string()),
    provider: modelSchema,
    /** Whether the configured provider has embeddings (else only the built-in embedder can run). */
    providerEmbeds: z.boolean(),
    /** The workspace's domain file (workspace-relative) and whether it exists (else the built-in lists are used). */
    domain: z.optional(domainInfoSchema),
    budget: budgetSchema,
    defaults: z.object({
      count: count,
      epsilon: z.number(),
      iterations: count,
      variations: count,
      embedder: z.enum(['same', 'builtin']),
    }),
  }),
  z.object({
    type: z.literal('synthPlan'),
    epsilonRun: z.number(),
    delta: z.number(),
    sigma: z.number(),
    mu: z.number(),
    iterations: count,
    variations: count,
    /** Private (local display only): rows and units per label. */
    labels: z.array(z.object({ label: z.string(), count: count, population: count, rows: count, units: count })),
    /** True when privacy units span labels: the run is charged to the whole dataset. */
    wholeDataset: z.boolean(),
    estimate: z.object({ completions: count, syntheticEmbeddings: count, privateEmbeddings: count }),
    generator: modelSchema,
    embedder: modelSchema,
    ...planCheckShape,
    /** σ_c of the DP label-count release (DP class fractions). */
    sigmaClass: z.optional(z.number()),
    /** What the user declared public and the run sends (the domain file). */
    declarations: z.optional(z.array(z.string())),
    ...planWordsShape,
  }),
  // The domain file in use changed (created from the panel).
  z.object({ type: z.literal('synthDomain'), domain: domainInfoSchema }),
  // Run progress, the whole state each time (one row per label).
  z.object({
    type: z.literal('synthProgress'),
    running: z.boolean(),
    phase: z.enum(['starting', 'embed-private', 'initial', 'histogram', 'variations']),
    ...augPeTotalsShape,
    labels: z.array(synthLabelRowSchema),
  }),
  z.object({ type: z.literal('evaluatePlan'), file: z.string(), demos: z.string(), lines: z.array(z.string()) }),
  z.object({
    type: z.literal('evaluateResult'),
    file: z.string(),
    demos: z.string(),
    note: z.string(),
    model: z.object({ kind: z.string(), model: z.string(), offline: z.boolean() }),
    mode: z.string(),
    rowsEvaluated: count,
    rowsPlanned: count,
    calls: count,
    stoppedAtCap: z.boolean(),
    conditions: z.array(evaluateConditionSchema),
  }),
  z.object({
    type: z.literal('synthResult'),
    release: augPeReleaseSchema,
    /** How much the dataset's spent budget rose. */
    budgetUsed: z.number(),
    budget: budgetSchema,
    localOnlyNotPrivate: localRunDiagnosticsSchema,
    message: z.optional(z.string()),
    /** A cancelled or failed run with histograms left: its id, for the Resume button (synthResume). */
    resumable: z.optional(z.string()),
  }),
]);
export type HostMessage = z.infer<typeof hostMessageSchema>;

/** How Insert at cursor and Copy write a release ('auto': as suits the target file's language). */
export const INSERT_FORMATS = ['auto', 'text', 'json', 'jsonl', 'chat', 'markdown'] as const;
export const insertFormatSchema = z.enum(INSERT_FORMATS);
export type InsertFormat = z.infer<typeof insertFormatSchema>;

/** Webview → host. `ready` is the handshake: the host sends state only after it, and again after every reload. */
export const webviewMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('refresh') }),
  z.object({ type: z.literal('openSource'), line: z.optional(z.int().check(z.positive())) }),
  // The Generate panel.
  z.object({ type: z.literal('preview'), settings: generateSettingsSchema }),
  z.object({ type: z.literal('generate'), settings: generateSettingsSchema }),
  z.object({ type: z.literal('cancel') }),
  z.object({ type: z.literal('insert'), format: z.optional(insertFormatSchema) }),
  z.object({ type: z.literal('export') }),
  z.object({ type: z.literal('copy'), format: z.optional(insertFormatSchema) }),
  // Opens "Set Privacy Budget…" for the panel's dataset (the host asks for the value and the confirmation).
  z.object({ type: z.literal('setBudget') }),
  // The Synthesize panel (Aug-PE); it shares cancel, insert, export, copy and setBudget with the Generate panel.
  z.object({ type: z.literal('synthPreview'), settings: synthSettingsSchema }),
  z.object({ type: z.literal('synthRun'), settings: synthSettingsSchema }),
  /** Continue the stopped run `run` (same settings) from its last histogram; charges only the histograms left. */
  z.object({ type: z.literal('synthResume'), settings: synthSettingsSchema, run: z.string().check(z.minLength(1)) }),
  // One released text of the last result (0-based), inserted at the cursor or copied, in `format`.
  z.object({ type: z.literal('insertItem'), index: count, format: z.optional(insertFormatSchema) }),
  z.object({ type: z.literal('copyItem'), index: count, format: z.optional(insertFormatSchema) }),
  // Create (from a template naming these labels) or open the workspace's domain file in an editor.
  z.object({ type: z.literal('synthEditDomain'), labels: z.array(z.string()) }),
  // The endpoint buttons next to a connection error (both run panels).
  z.object({ type: z.literal('openSettings') }),
  z.object({ type: z.literal('checkEndpoint') }),
  // Sets privateFewShot.provider.kind = builtin for this workspace (switching TO the built-in model, never a URL).
  z.object({ type: z.literal('useBuiltinModel') }),
]);
export type WebviewMessage = z.infer<typeof webviewMessageSchema>;

/** Parses an incoming message; returns undefined (and never throws) for anything that does not match. */
export function parseHostMessage(data: unknown): HostMessage | undefined {
  const r = hostMessageSchema.safeParse(data);
  return r.success ? r.data : undefined;
}

export function parseWebviewMessage(data: unknown): WebviewMessage | undefined {
  const r = webviewMessageSchema.safeParse(data);
  return r.success ? r.data : undefined;
}
