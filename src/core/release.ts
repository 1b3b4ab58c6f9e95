/**
 * The release boundary: the one type of what may leave this machine, and the only renderer of files, clipboard text,
 * inserted text and JSON output. See docs/PRIVACY.md, "The release boundary".
 *
 * A release holds two things only:
 *  - the DP outputs: the demonstrations of DP few-shot (Tang et al., ICLR 2024) or the records of Aug-PE (Xie et al.,
 *    ICML 2024), each released through the algorithm's noisy mechanism;
 *  - public parameters: what the user chose (labels, shots, ε asked for, δ, M, N, T_max, T, L, k, …), the model ids,
 *    the noise σ, the steps and ε charged, the algorithm and the tool version.
 * Nothing computed from the private data without noise goes in: no token counts, calls, costs or timings (their
 * sizes depend on the private prompts), no `reused` count (how often the release followed a private prompt's own
 * greedy path), no exact pool or row counts nor sampling rates derived from them, no dataset path or content hash
 * (whoever knows all records but one can test guesses for the last against a hash). Those are local diagnostics
 * (`LocalDiagnostics` below): stderr, the run journal under .private-fewshot/runs/, and panel areas labelled
 * "Local only, not private".
 *
 * Structure that keeps it so: a Release can only be made by `fewShotRelease` / `augPeRelease` (the type carries a
 * brand no other code can produce), which copy every field by name; it is deep-frozen; and `renderRelease` checks the
 * exact key set (RELEASE_KEYS) before it serialises anything. test/core/release.test.ts pins the key set.
 *
 * Plain data, no node built-ins: the host and the CLI use it; the webview gets a release through the protocol.
 */
import { UsageError } from './errors';
import { TOOL_NAME, TOOL_VERSION } from './version';

/** Version of the release layout (the `format` field of every release). */
export const RELEASE_FORMAT = 'private-fewshot-release/1';

/** One released text: a DP few-shot demonstration or an Aug-PE record. */
export interface ReleasedText {
  label: string;
  text: string;
}

export interface PublicModel {
  kind: string;
  model: string;
  offline: boolean;
}

export type RunStatus = 'completed' | 'cancelled' | 'failed';

declare const releaseBrand: unique symbol;
/** Only the builders of this module make values of this type (the brand exists for the type checker alone). */
type Branded<T> = T & { readonly [releaseBrand]: true };

export interface FewShotReleaseBody {
  format: typeof RELEASE_FORMAT;
  tool: string;
  algorithm: 'dp-few-shot';
  /** Set when the built-in offline model wrote the text (for trying the tool, not production quality); else null. */
  notice: string | null;
  /** Completed, cancelled or failed (a stop keeps and charges what was written). */
  status: RunStatus;
  model: PublicModel;
  privacy: {
    /** ε the user asked for (the plan calibrates σ so that the run alone meets it at δ). */
    epsilonRequested: number;
    /** ε of the run as planned (at δ; a completed run is charged this). */
    epsilonPlanned: number;
    /** ε of what ran (started demonstrations × T_max steps), at δ. */
    epsilonCharged: number;
    delta: number;
    accountant: 'pld';
    /** The privacy unit: "row", or the name of the unit column. */
    unit: string;
    /** Per label: the noise multiplier σ and the token steps accounted (shots × T_max). */
    labels: { label: string; sigma: number; steps: number }[];
  };
  parameters: FewShotParameters;
  demonstrations: ReleasedText[];
}

/** The public parameters of a DP few-shot run (the release's and the run report's). */
export interface FewShotParameters {
  labels: string[];
  shots: number;
  prompts: number;
  examplesPerPrompt: number;
  maxTokens: number;
  topK: number;
  lookahead: number;
  shotConcurrency: number;
}

export interface AugPeReleaseBody {
  format: typeof RELEASE_FORMAT;
  tool: string;
  algorithm: 'aug-pe';
  notice: string | null;
  status: RunStatus;
  /** The generator (it sees only labels and synthetic text). */
  model: PublicModel;
  /** The embedder (the only component that sees private rows). */
  embedder: PublicModel;
  privacy: {
    epsilonRequested: number;
    epsilonPlanned: number;
    /** ε of the histograms that ran, at δ (GDP: μ = √histograms/σ). */
    epsilonCharged: number;
    delta: number;
    accountant: 'gdp';
    unit: string;
    sigma: number;
    iterations: number;
    histograms: number;
    /** σ_c of the DP label-count release (DP class fractions), else null. */
    sigmaClass: number | null;
    mu: number;
  };
  parameters: AugPeParameters;
  records: ReleasedText[];
}

/** The public parameters of an Aug-PE run. */
export interface AugPeParameters {
  labels: string[];
  /**
   * Records per label: from the public count and public fractions, or (classCounts "dp") from the DP release of the
   * label counts; never from the exact private label counts.
   */
  counts: number[];
  fractions: number[];
  /** Where the class sizes came from. */
  classCounts: 'equal' | 'public' | 'dp';
  lookahead: number;
  selection: 'rank' | 'prob';
  variations: number;
  neighbours: number;
  metric: string;
  threshold: number;
  variation: string;
  maskProbability: number;
  temperature: number;
  maxTokens: number;
}

/** The Aug-PE settings a release copies as they were chosen. */
type AugPeChosen =
  | 'lookahead'
  | 'selection'
  | 'variations'
  | 'neighbours'
  | 'metric'
  | 'threshold'
  | 'variation'
  | 'maskProbability'
  | 'temperature'
  | 'maxTokens';

export type FewShotRelease = Branded<Readonly<FewShotReleaseBody>>;
export type AugPeRelease = Branded<Readonly<AugPeReleaseBody>>;
/** What may leave the machine. Make one with fewShotRelease or augPeRelease; render it with renderRelease. */
export type Release = FewShotRelease | AugPeRelease;

/**
 * The exact key set of every object in a release, by path ('' is the top level; '[]' an array element). Any other
 * key is refused by renderRelease. Adding a key here is a privacy decision: it must be a DP output or a public
 * parameter (docs/PRIVACY.md).
 */
export const RELEASE_KEYS = {
  'dp-few-shot': {
    '': ['format', 'tool', 'algorithm', 'notice', 'status', 'model', 'privacy', 'parameters', 'demonstrations'],
    model: ['kind', 'model', 'offline'],
    privacy: ['epsilonRequested', 'epsilonPlanned', 'epsilonCharged', 'delta', 'accountant', 'unit', 'labels'],
    'privacy.labels[]': ['label', 'sigma', 'steps'],
    parameters: [
      'labels',
      'shots',
      'prompts',
      'examplesPerPrompt',
      'maxTokens',
      'topK',
      'lookahead',
      'shotConcurrency',
    ],
    'demonstrations[]': ['label', 'text'],
  },
  'aug-pe': {
    '': ['format', 'tool', 'algorithm', 'notice', 'status', 'model', 'embedder', 'privacy', 'parameters', 'records'],
    model: ['kind', 'model', 'offline'],
    embedder: ['kind', 'model', 'offline'],
    privacy: [
      'epsilonRequested',
      'epsilonPlanned',
      'epsilonCharged',
      'delta',
      'accountant',
      'unit',
      'sigma',
      'iterations',
      'histograms',
      'sigmaClass',
      'mu',
    ],
    parameters: [
      'labels',
      'counts',
      'fractions',
      'classCounts',
      'lookahead',
      'selection',
      'variations',
      'neighbours',
      'metric',
      'threshold',
      'variation',
      'maskProbability',
      'temperature',
      'maxTokens',
    ],
    'records[]': ['label', 'text'],
  },
} as const satisfies Record<Release['algorithm'], Record<string, readonly string[]>>;

function offlineNotice(m: PublicModel): string | null {
  return m.offline
    ? `Written by the built-in offline model (${m.model}), for trying the tool — not production quality.`
    : null;
}

const model = (m: PublicModel): PublicModel => ({ kind: m.kind, model: m.model, offline: m.offline });
const texts = (xs: readonly ReleasedText[]): ReleasedText[] => xs.map((x) => ({ label: x.label, text: x.text }));

/** The fields every release starts with: layout, tool, algorithm, offline notice, status and model. */
function head<A extends Release['algorithm']>(
  algorithm: A,
  result: { status: RunStatus; report: { provider: PublicModel } },
): Pick<FewShotReleaseBody, 'format' | 'tool' | 'notice' | 'status' | 'model'> & { algorithm: A } {
  return {
    format: RELEASE_FORMAT,
    tool: `${TOOL_NAME} ${TOOL_VERSION}`,
    algorithm,
    notice: offlineNotice(result.report.provider),
    status: result.status,
    model: model(result.report.provider),
  };
}

/** ε asked for, as planned (the run alone at its δ) and as charged: the first figures of every release's privacy. */
function epsilons(
  plan: { settings: { epsilon: number }; epsilonRun: number },
  result: { epsilonCharged: number },
): Pick<FewShotReleaseBody['privacy'], 'epsilonRequested' | 'epsilonPlanned' | 'epsilonCharged'> {
  return {
    epsilonRequested: plan.settings.epsilon,
    epsilonPlanned: plan.epsilonRun,
    epsilonCharged: result.epsilonCharged,
  };
}

function deepFreeze<T>(x: T): T {
  if (x && typeof x === 'object') {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

/** What fewShotRelease reads: the plan's public figures and the run's outcome (structurally: a FewShotPlan and a
 * FewShotResult fit). Only the fields named in the body below are copied. */
export interface FewShotReleaseInput {
  plan: {
    settings: Pick<FewShotParameters, 'shots' | 'prompts' | 'examplesPerPrompt' | 'maxTokens'> & {
      labels: readonly string[];
      epsilon: number;
      delta: number;
    };
    labels: readonly { label: string; steps: number }[];
    /** ε of the run alone at the run's δ. (Not the reservation's figure: the ledger states it at the ledger's δ,
     * which can differ, and on ledgers that pinned the earlier default 1/(n·ln n) follows the record count.) */
    epsilonRun: number;
  };
  result: {
    status: RunStatus;
    demonstrations: readonly ReleasedText[];
    epsilonCharged: number;
    /** Each label's mechanism as run: σ calibrated from the noisy pool counts (a DP release), so public. */
    labels: readonly { label: string; sigma: number }[];
    report: {
      provider: PublicModel;
      privacy: { unit: string };
      parameters: { topK: number; lookahead: number; shotConcurrency: number };
    };
  };
}

/** The release of a DP few-shot run: its demonstrations and public parameters, each field picked by name. */
export function fewShotRelease({ plan, result }: FewShotReleaseInput): FewShotRelease {
  const s = plan.settings;
  const p = result.report.parameters;
  const body: FewShotReleaseBody = {
    ...head('dp-few-shot', result),
    privacy: {
      ...epsilons(plan, result),
      delta: s.delta,
      accountant: 'pld',
      unit: result.report.privacy.unit,
      labels: plan.labels.map((l) => ({
        label: l.label,
        sigma: result.labels.find((r) => r.label === l.label)?.sigma ?? Number.NaN,
        steps: l.steps,
      })),
    },
    parameters: {
      labels: [...s.labels],
      shots: s.shots,
      prompts: s.prompts,
      examplesPerPrompt: s.examplesPerPrompt,
      maxTokens: s.maxTokens,
      topK: p.topK,
      lookahead: p.lookahead,
      shotConcurrency: p.shotConcurrency,
    },
    demonstrations: texts(result.demonstrations),
  };
  return deepFreeze(body) as FewShotRelease;
}

/** What augPeRelease reads (structurally: an AugPePlan and an AugPeResult, or the editor worker's result, fit). */
export interface AugPeReleaseInput {
  plan: {
    settings: Pick<AugPeParameters, AugPeChosen> & {
      labels: readonly string[];
      epsilon: number;
      delta: number;
      iterations: number;
      fractions: readonly number[];
    };
    labels: readonly { count: number }[];
    sigma: number;
    sigmaClass?: number;
    classCounts: 'equal' | 'public' | 'dp';
    /** ε of the run alone at the run's δ (not the reservation's figure, see FewShotReleaseInput). */
    epsilonRun: number;
  };
  result: {
    status: RunStatus;
    records: readonly ReleasedText[];
    histograms: number;
    epsilonCharged: number;
    report: {
      provider: PublicModel;
      embedder: PublicModel;
      privacy: { unit: string; mu: number };
      parameters: { counts: readonly number[] };
    };
  };
}

/** The release of an Aug-PE run: its synthetic records and public parameters, each field picked by name. */
export function augPeRelease({ plan, result }: AugPeReleaseInput): AugPeRelease {
  const s = plan.settings;
  const body: AugPeReleaseBody = {
    ...head('aug-pe', result),
    embedder: model(result.report.embedder),
    privacy: {
      ...epsilons(plan, result),
      delta: s.delta,
      accountant: 'gdp',
      unit: result.report.privacy.unit,
      sigma: plan.sigma,
      iterations: s.iterations,
      histograms: result.histograms,
      sigmaClass: plan.sigmaClass ?? null,
      mu: result.report.privacy.mu,
    },
    parameters: {
      labels: [...s.labels],
      // The run's sizes: with DP class fractions they come from the DP count release (AugPeReport.parameters.counts).
      counts: [...result.report.parameters.counts],
      fractions: [...s.fractions],
      classCounts: plan.classCounts,
      lookahead: s.lookahead,
      selection: s.selection,
      variations: s.variations,
      neighbours: s.neighbours,
      metric: s.metric,
      threshold: s.threshold,
      variation: s.variation,
      maskProbability: s.maskProbability,
      temperature: s.temperature,
      maxTokens: s.maxTokens,
    },
    records: texts(result.records),
  };
  return deepFreeze(body) as AugPeRelease;
}

/**
 * A release read back from its saved file (src/core/release-file.ts): the only Release not made by the two builders
 * above. It must be exactly what a builder makes: the release format, a known algorithm, the exact key set of
 * RELEASE_KEYS, and texts that are strings; anything else (a key a hand edit or another tool added) is refused with
 * an Error, so a saved file can never carry more than a release out through Insert, Copy or Export.
 */
export function savedRelease(x: unknown): Release {
  const o = x as { format?: unknown; algorithm?: unknown } | null;
  if (!o || typeof o !== 'object' || o.format !== RELEASE_FORMAT)
    throw new Error(`not a release: the format is not ${RELEASE_FORMAT}`);
  if (o.algorithm !== 'dp-few-shot' && o.algorithm !== 'aug-pe') throw new Error('not a release: unknown algorithm');
  const r = structuredClone(o) as Release;
  checkReleaseKeys(r);
  const items: unknown = r.algorithm === 'dp-few-shot' ? r.demonstrations : r.records;
  if (
    !Array.isArray(items) ||
    !items.every((t: ReleasedText) => typeof t.label === 'string' && typeof t.text === 'string')
  )
    throw new Error('not a release: its texts are not label/text strings');
  return deepFreeze(r);
}

/** The released texts of either algorithm. */
export function releasedTexts(r: Release): readonly ReleasedText[] {
  return r.algorithm === 'dp-few-shot' ? r.demonstrations : r.records;
}

/**
 * Throws when any object of `r` has a key outside RELEASE_KEYS or lacks one (a bug: something computed from private
 * data must not ride along). Called by renderRelease before anything is serialised.
 */
export function checkReleaseKeys(r: Release): void {
  const spec: Record<string, readonly string[]> = RELEASE_KEYS[r.algorithm];
  const check = (where: string, o: unknown) => {
    const want = spec[where];
    if (!want || !o || typeof o !== 'object' || Array.isArray(o))
      throw new Error(`release boundary: unexpected value at "${where}"`);
    const have = Object.keys(o);
    const extra = have.filter((k) => !want.includes(k));
    const missing = want.filter((k) => !have.includes(k));
    if (extra.length || missing.length)
      throw new Error(
        `release boundary: "${where || 'release'}" has ${extra.length ? `unexpected key(s) ${extra.join(', ')}` : ''}${extra.length && missing.length ? ' and ' : ''}${missing.length ? `missing key(s) ${missing.join(', ')}` : ''}`,
      );
    for (const k of have) {
      const v = (o as Record<string, unknown>)[k];
      const path = where ? `${where}.${k}` : k;
      if (Array.isArray(v)) {
        for (const x of v) if (x && typeof x === 'object') check(`${path}[]`, x);
      } else if (v && typeof v === 'object') check(path, v);
    }
  };
  check('', r);
}

export type ReleaseFormat = 'json' | 'jsonl' | 'chat' | 'text';
export const RELEASE_FORMATS: readonly ReleaseFormat[] = ['json', 'jsonl', 'chat', 'text'];
export const DEFAULT_TEMPLATE = 'Text: {text}\nLabel: {label}';

/**
 * Renders a release for a file, stdout, the clipboard or the editor. Pure: no I/O. 'json' is the whole release;
 * 'jsonl', 'chat' and 'text' carry the released texts (and the offline notice) only.
 */
export function renderRelease(r: Release, o: { format: ReleaseFormat; template?: string }): string {
  checkReleaseKeys(r);
  const items = releasedTexts(r);
  const notice = r.notice;
  switch (o.format) {
    case 'json':
      return `${JSON.stringify(r, null, 2)}\n`;
    case 'jsonl':
      return (
        items
          .map((d) =>
            JSON.stringify(notice ? { label: d.label, text: d.text, offline: true } : { label: d.label, text: d.text }),
          )
          .join('\n') + '\n'
      );
    case 'chat': {
      // OpenAI chat messages: each text as a user turn answered by an assistant turn (the label).
      const messages = items.flatMap((d) => [
        { role: 'user', content: d.text },
        { role: 'assistant', content: d.label },
      ]);
      return `${JSON.stringify(notice ? { notice, messages } : messages, null, 2)}\n`;
    }
    case 'text': {
      const template = o.template ?? DEFAULT_TEMPLATE;
      checkTemplate(template);
      const body = items
        .map((d) => template.replace(/\{(text|label)\}/g, (_, k: 'text' | 'label') => d[k]))
        .join('\n\n');
      return `${notice ? `# ${notice}\n\n` : ''}${body}\n`;
    }
  }
}

/** The editor's Copy and Insert at cursor: the released texts in the default text template. */
export function editorReleaseText(r: Release): string {
  return renderRelease(r, { format: 'text', template: DEFAULT_TEMPLATE });
}

/** The editor's Export…: the format follows the file's extension (.json: the release, or chat messages if chosen). */
export function editorExportFormat(fileName: string, json: 'release' | 'chat' = 'release'): ReleaseFormat {
  const ext = fileName.split('.').pop()?.toLowerCase();
  return ext === 'json' ? (json === 'chat' ? 'chat' : 'json') : ext === 'jsonl' ? 'jsonl' : 'text';
}

/** The editor's Export… file content. */
export function editorExportText(r: Release, format: ReleaseFormat): string {
  return renderRelease(r, { format, template: DEFAULT_TEMPLATE });
}

/** A template must use {text} and may use {label}; any other {placeholder} is a mistake worth reporting. */
export function checkTemplate(template: string): void {
  const unknown = [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]).filter((k) => k !== 'text' && k !== 'label');
  if (unknown.length)
    throw new UsageError(
      `the template has unknown placeholder(s): ${unknown.map((k) => `{${k}}`).join(', ')}`,
      'Use {text} and {label}, e.g. "Text: {text}\\nLabel: {label}".',
    );
  if (!template.includes('{text}'))
    throw new UsageError('the template has no {text} placeholder', 'Example: "Text: {text}\\nLabel: {label}".');
}

// ---------------------------------------------------------------------------------------------------------------
// Local diagnostics: computed from the private data without noise. They stay on this machine.

/** The label every local-diagnostics object carries, so a copy pasted somewhere still says what it is. */
export const LOCAL_ONLY_NOTE =
  'Local only, not private: computed from the private data without noise (sizes, timings, counts, hashes). Do not share.';

export interface FewShotLocalDiagnostics {
  note: typeof LOCAL_ONLY_NOTE;
  dataset: { path: string; contentSha256: string };
  /** The noisy pool counts ñ (a DP release) and the sampling rates q̃ = min(1, M·N/ñ) derived from them. */
  pools: { label: string; noisyPoolCount: number; samplingRate: number }[];
  usage: Record<string, number>;
  durationMs: number;
  /** The run journal of local diagnostics under .private-fewshot/runs/. */
  journal: string;
}

export interface AugPeLocalDiagnostics {
  note: typeof LOCAL_ONLY_NOTE;
  dataset: { path: string; contentSha256: string };
  /** Exact private rows and units per label. */
  labels: { label: string; rows: number; units: number }[];
  usage: Record<string, number>;
  /** The embedder's use for the private rows (its size follows the private data). */
  privateEmbeddingUsage: Record<string, number>;
  durationMs: number;
  journal: string;
}

export type LocalDiagnostics = FewShotLocalDiagnostics | AugPeLocalDiagnostics;

export function fewShotDiagnostics(
  result: {
    labels: readonly { label: string; samplingRate: number }[];
    counts: { noisy: readonly number[] };
    report: { dataset: { path: string; contentSha256: string }; usage: object; durationMs: number };
  },
  journal: string,
): FewShotLocalDiagnostics {
  return {
    note: LOCAL_ONLY_NOTE,
    dataset: { ...result.report.dataset },
    pools: result.labels.map((l, i) => ({
      label: l.label,
      noisyPoolCount: result.counts.noisy[i] ?? Number.NaN,
      samplingRate: l.samplingRate,
    })),
    usage: { ...(result.report.usage as Record<string, number>) },
    durationMs: result.report.durationMs,
    journal,
  };
}

export function augPeDiagnostics(
  plan: { labels: readonly { label: string; rows: number; units: number }[] },
  result: {
    report: { dataset: { path: string; contentSha256: string }; usage: object; durationMs: number };
    privateEmbeddingUsage: object;
  },
  journal: string,
): AugPeLocalDiagnostics {
  return {
    note: LOCAL_ONLY_NOTE,
    dataset: { ...result.report.dataset },
    labels: plan.labels.map((l) => ({ label: l.label, rows: l.rows, units: l.units })),
    usage: { ...(result.report.usage as Record<string, number>) },
    privateEmbeddingUsage: { ...(result.privateEmbeddingUsage as Record<string, number>) },
    durationMs: result.report.durationMs,
    journal,
  };
}

/** The run journal of local diagnostics: a file beside the run's checkpoint (.private-fewshot/runs/<id>.jsonl). */
export function localJournalPath(checkpoint: string): string {
  return checkpoint.replace(/(\.jsonl)?$/, '.local-diagnostics.json');
}

/** What the run journal holds: the local diagnostics of a run. */
export function journalDiagnostics(report: {
  dataset: { path: string; contentSha256: string };
  usage: object;
  durationMs: number;
}): { type: 'local-diagnostics'; note: typeof LOCAL_ONLY_NOTE; dataset: object; usage: object; durationMs: number } {
  return {
    type: 'local-diagnostics',
    note: LOCAL_ONLY_NOTE,
    dataset: { ...report.dataset },
    usage: { ...report.usage },
    durationMs: report.durationMs,
  };
}
