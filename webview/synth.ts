// The Synthesize view (Aug-PE): a form, the plan preview, progress per label and the released synthetic records.
// Everything is rendered as text nodes (see dom.ts); the records are DP output but still never HTML.
import { synthSettingsSchema, type HostMessage, type SynthLabelRow, type SynthSettings } from '../src/shared/protocol';
import { formatDelta } from '../src/shared/format';
import { SYNTH_PRESETS, presetCount, type SynthPresetValues } from '../src/shared/presets';
import {
  budgetView,
  f,
  glossary,
  labelPicker,
  localOnlyView,
  numberField,
  presetRow,
  releaseActions,
  releasedTexts,
  setBudgetButton,
} from './common';
import { h } from './dom';
import { HELP, SYNTH_GLOSSARY } from './explain';
import { synthOptions } from './synthOptions';
import {
  dataFlowView,
  largestFitButton,
  marginalView,
  problemArea,
  reveal,
  showEndpointCheck,
  showProblem as showProblemIn,
  showStatus,
} from './feedback';
import { getState, send, setState } from './vscode-api';
import { LIMITS } from '../src/shared/limits';

type InitMessage = Extract<HostMessage, { type: 'synthInit' }>;
type PlanMessage = Extract<HostMessage, { type: 'synthPlan' }>;
type ProgressMessage = Extract<HostMessage, { type: 'synthProgress' }>;
type ResultMessage = Extract<HostMessage, { type: 'synthResult' }>;
type Model = PlanMessage['generator'];

let form: { setBusy: (busy: boolean) => void; setResumable: (run: string | undefined) => void } | undefined;
let budgetEl: HTMLElement | undefined;
let outputEl: HTMLElement | undefined;
let noticeEl: HTMLElement | undefined;
let progressEl: HTMLElement | undefined;
let setDomain: ((d: { file: string; exists: boolean }) => void) | undefined;
/** Next to the action row: refusals, errors and statuses, without touching the results below. */
let problemEl: HTMLElement | undefined;
/** The plan on display: apart from the result, so previewing again leaves the last result in place. */
let planEl: HTMLElement | undefined;
/** Sets the form's ε and asks for a new plan ("use the largest ε that fits"). */
let useEpsilon: (epsilon: number) => void = () => undefined;

const model = (m: Model) => `${m.kind}/${m.model}`;

function initView(app: HTMLElement, m: InitMessage): void {
  const picker = labelPicker(m.labels);
  const count = numberField(
    'count',
    'Records in total',
    m.defaults.count,
    { min: '1', max: String(LIMITS.count.max), step: '1' },
    HELP.count,
  );
  const epsilon = numberField(
    'epsilon',
    'ε for this run',
    m.defaults.epsilon,
    { min: '0.01', step: 'any' },
    HELP.epsilon,
  );
  const iterations = numberField(
    'iterations',
    'Iterations T',
    m.defaults.iterations,
    { min: '1', max: String(LIMITS.iterations.max), step: '1' },
    HELP.iterations,
  );
  const variations = numberField(
    'variations',
    'Variations per record (L − 1)',
    m.defaults.variations,
    { min: '1', max: String(LIMITS.variations.max), step: '1' },
    HELP.variations,
  );
  // A preset's "Records in total" follows the ticked labels until the field is edited by hand.
  let following: SynthPresetValues | undefined;
  const ticked = () => picker.read().labels.length;
  const presets = presetRow(SYNTH_PRESETS, (p) => {
    following = p.values;
    count.input.value = String(presetCount(p.values, ticked()));
    epsilon.input.value = String(p.values.epsilon);
    iterations.input.value = String(p.values.iterations);
    variations.input.value = String(p.values.variations);
    save();
  });
  count.input.addEventListener('input', () => (following = undefined));
  picker.onChange(() => {
    if (following) count.input.value = String(presetCount(following, ticked()));
  });
  const builtinProvider = m.provider.kind === 'builtin';
  const same = h('input', {
    type: 'radio',
    name: 'embedder',
    id: 'embedder-same',
    value: 'same',
    disabled: !m.providerEmbeds,
  }) as HTMLInputElement;
  const builtin = h('input', {
    type: 'radio',
    name: 'embedder',
    id: 'embedder-builtin',
    value: 'builtin',
  }) as HTMLInputElement;
  (m.defaults.embedder === 'same' && m.providerEmbeds ? same : builtin).checked = true;
  const options = synthOptions(m, () => picker.read().labels);
  setDomain = options.setDomain;
  const previewBtn = h('vscode-button', { id: 'preview', secondary: true }, 'Preview plan');
  const runBtn = h('vscode-button', { id: 'synthesize' }, 'Generate records');
  const cancelBtn = h('vscode-button', { id: 'cancel', secondary: true, hidden: true }, 'Cancel');
  // Shown after a cancelled or failed run with histograms left (synthResult.resumable): continues that run.
  const resumeBtn = h(
    'vscode-button',
    {
      id: 'resume',
      secondary: true,
      hidden: true,
      title: 'Continue the stopped run; charges only the histograms left',
    },
    'Resume',
  );

  const readSettings = (): SynthSettings => ({
    ...picker.read(),
    count: Math.round(count.input.valueAsNumber),
    epsilon: epsilon.input.valueAsNumber,
    iterations: Math.round(iterations.input.valueAsNumber),
    variations: Math.round(variations.input.valueAsNumber),
    embedder: builtin.checked || !m.providerEmbeds ? 'builtin' : 'same',
    ...options.read(),
  });
  // Restore the form after a reload (hidden panels are not retained); the state is validated like a message.
  const saved = getState() as { view?: unknown; file?: unknown; settings?: unknown } | undefined;
  const restored =
    saved?.view === 'synth' && saved.file === m.file ? synthSettingsSchema.safeParse(saved.settings) : undefined;
  if (restored?.success) {
    const r = restored.data;
    picker.restore(r);
    count.input.value = String(r.count);
    epsilon.input.value = String(r.epsilon);
    iterations.input.value = String(r.iterations);
    variations.input.value = String(r.variations);
    (r.embedder === 'same' && m.providerEmbeds ? same : builtin).checked = true;
    options.restore(r);
  }
  const save = () => {
    const s = readSettings();
    if (synthSettingsSchema.safeParse(s).success) setState({ view: 'synth', file: m.file, settings: s });
  };
  const valid = (s: SynthSettings): boolean => {
    const ok = synthSettingsSchema.safeParse(s).success;
    if (!ok)
      showProblem(
        'Every number must be positive.',
        `“Records in total”, “Iterations T” and “Variations per record (L − 1)” are whole numbers of 1 or more (T up to ${LIMITS.iterations.max}, variations up to ${LIMITS.variations.max}); “ε for this run” is above 0.`,
      );
    return ok;
  };
  previewBtn.addEventListener('click', () => {
    const s = readSettings();
    if (!valid(s)) return;
    showStatus(problemEl, m.provider.offline ? 'Planning…' : 'Checking the endpoint and planning…');
    send({ type: 'synthPreview', settings: s });
  });
  useEpsilon = (x) => {
    epsilon.input.value = String(x);
    save();
    previewBtn.click();
  };
  runBtn.addEventListener('click', () => {
    const s = readSettings();
    if (!valid(s)) return;
    form?.setBusy(true);
    // Earlier results stay until the run actually starts (a refusal or an error then leaves them in place).
    showStatus(problemEl, 'Reserving the budget…');
    send({ type: 'synthRun', settings: s });
  });
  cancelBtn.addEventListener('click', () => send({ type: 'cancel' }));
  resumeBtn.addEventListener('click', () => {
    const s = readSettings();
    const run = resumeBtn.dataset.run;
    if (!run || !valid(s)) return;
    form?.setBusy(true);
    progressEl?.replaceChildren();
    send({ type: 'synthResume', settings: s, run });
  });
  for (const el of [
    picker.all,
    picker.selectAll,
    ...picker.boxes,
    count.input,
    epsilon.input,
    iterations.input,
    variations.input,
    same,
    builtin,
    ...options.inputs,
  ]) {
    for (const ev of ['change', 'input', 'click']) el.addEventListener(ev, save);
  }
  form = {
    setBusy: (busy) => {
      previewBtn.toggleAttribute('disabled', busy);
      runBtn.toggleAttribute('disabled', busy);
      cancelBtn.toggleAttribute('hidden', !busy);
      if (busy) resumeBtn.toggleAttribute('hidden', true);
    },
    setResumable: (run) => {
      if (run) resumeBtn.dataset.run = run;
      else delete resumeBtn.dataset.run;
      resumeBtn.toggleAttribute('hidden', !run);
    },
  };

  budgetEl = h('div', {}, budgetView(m.budget));
  outputEl = h('section', { class: 'output', 'aria-live': 'polite' });
  noticeEl = h('p', { class: 'muted notice' });
  problemEl = problemArea();
  planEl = h('section', { class: 'plan-area', 'aria-live': 'polite' });
  progressEl = h('section', { class: 'run' });
  const sameText = builtinProvider
    ? "The built-in model's embeddings: private rows stay on this machine"
    : m.providerEmbeds
      ? `${model(m.provider)}'s embeddings: private rows are sent to it`
      : `${model(m.provider)} offers no embeddings`;
  app.replaceChildren(
    h(
      'header',
      {},
      h('h1', {}, h('vscode-icon', { name: 'beaker' }), ' Generate synthetic records (Aug-PE): ', m.file),
    ),
    h('p', { class: 'provider' }, `Generator: ${model(m.provider)}`),
    ...(m.provider.offline
      ? [
          h(
            'p',
            { class: 'warning builtin-notice', role: 'note' },
            h('vscode-icon', { name: 'info' }),
            ' The built-in offline model is for trying the tool, not production quality. Choose a real model in the settings (Private Few-Shot › Provider).',
          ),
        ]
      : []),
    h(
      'p',
      { class: 'private-note' },
      h('vscode-icon', { name: 'lock' }),
      ' The generator sees only the label names and its own synthetic text. Private rows go only to the embedder; their votes for the nearest candidates are released with Gaussian noise.',
    ),
    h('h2', {}, 'Privacy budget of this dataset'),
    h('div', { class: 'budget-row' }, budgetEl, setBudgetButton('set-budget')),
    h('vscode-divider', {}),
    h('h2', {}, `Labels (${m.labels.length})`),
    h(
      'p',
      { class: 'private-note' },
      h('vscode-icon', { name: 'lock' }),
      ' The labels you tick are treated as public: they appear in the prompts and the output.',
    ),
    ...picker.elements,
    presets,
    h('div', { class: 'fields' }, count.el, epsilon.el, iterations.el, variations.el),
    h(
      'fieldset',
      { class: 'embedder' },
      h('legend', {}, 'Embedder (the only part that sees private rows)'),
      h('label', { class: 'check', for: 'embedder-same' }, same, ' ', sameText),
      h(
        'label',
        { class: 'check', for: 'embedder-builtin' },
        builtin,
        ' Built-in embedder: keep private rows on this machine',
      ),
    ),
    options.el,
    h('div', { class: 'actions' }, previewBtn, runBtn, cancelBtn, resumeBtn),
    problemEl,
    glossary(SYNTH_GLOSSARY),
    noticeEl,
    planEl,
    outputEl,
    progressEl,
  );
}

function showProblem(
  message: string,
  hint?: string,
  action?: 'setBudget',
  extra: Pick<Extract<HostMessage, { type: 'generateError' }>, 'endpoint' | 'largestFit'> = {},
): void {
  showProblemIn(problemEl, 'Cannot generate records', { message, hint, action, ...extra }, (x) => useEpsilon(x));
}

/** A figure with its exact value in `data-value` (the view rounds; tests and screen readers get the full number). */
const figure = (id: string, x: number, text = f(x)) =>
  h('strong', { 'data-testid': id, 'data-value': String(x), title: String(x) }, text);

function planView(m: PlanMessage): HTMLElement {
  const where = (e: Model) => (e.offline ? 'private rows stay on this machine' : 'private rows are sent to it');
  return h(
    'section',
    { class: 'plan' },
    h('h2', {}, 'Plan (nothing spent or sent)'),
    marginalView(m),
    dataFlowView(m.dataFlow, m.traffic, m.endpointChecked),
    h(
      'p',
      {},
      'This run alone: ε = ',
      figure('epsilon-run', m.epsilonRun),
      ` at δ = ${formatDelta(m.delta)}, from `,
      figure('iterations', m.iterations, String(m.iterations)),
      ' noisy histograms of noise σ = ',
      figure('sigma', m.sigma),
      ' (μ = ',
      figure('mu', m.mu),
      ' GDP). Budget: spent ',
      f(m.budget.spent),
      ' of ',
      f(m.budget.total),
      '; remaining after this run ',
      figure('remaining-after', Math.max(0, m.remainingAfter)),
      '.',
    ),
    h(
      'p',
      { class: 'muted' },
      `Generator ${model(m.generator)}; embedder `,
      h('span', { 'data-testid': 'plan-embedder' }, model(m.embedder)),
      ` (${where(m.embedder)}). About ${m.estimate.completions.toLocaleString('en-US')} completions, ${m.estimate.syntheticEmbeddings.toLocaleString('en-US')} synthetic and ${m.estimate.privateEmbeddings.toLocaleString('en-US')} private embeddings.`,
    ),
    m.wholeDataset
      ? h('p', { class: 'muted' }, 'Privacy units span labels: the run is charged to the whole dataset.')
      : null,
    m.sigmaClass !== undefined
      ? h(
          'p',
          { class: 'muted' },
          'DP class fractions: the label counts are released once with noise σ_c = ',
          figure('sigma-class', m.sigmaClass),
          ' (μ includes it: μ² = T/σ² + 1/σ_c²); class sizes follow the noisy counts.',
        )
      : null,
    ...(m.declarations ?? []).map((d) => h('p', { class: 'private-note', 'data-testid': 'plan-declaration' }, d)),
    h(
      'vscode-table',
      { zebra: true, 'bordered-columns': true, columns: JSON.stringify(['40%', '15%', '25%', '20%']) },
      h(
        'vscode-table-header',
        { slot: 'header' },
        h('vscode-table-header-cell', {}, 'Label'),
        h('vscode-table-header-cell', {}, 'records'),
        h('vscode-table-header-cell', {}, 'candidates per iteration'),
        h('vscode-table-header-cell', {}, 'private rows (local)'),
      ),
      h(
        'vscode-table-body',
        { slot: 'body' },
        ...m.labels.map((l) =>
          h(
            'vscode-table-row',
            {},
            h('vscode-table-cell', {}, l.label),
            h('vscode-table-cell', { class: 'num count' }, l.count),
            h('vscode-table-cell', { class: 'num' }, l.population),
            h('vscode-table-cell', { class: 'num' }, l.rows),
          ),
        ),
      ),
    ),
    ...m.warnings.map((w) => h('p', { class: 'warning' }, h('vscode-icon', { name: 'warning' }), ' ', w)),
    m.refusal
      ? h(
          'p',
          { class: 'error refusal', role: 'alert', tabindex: '-1' },
          h('vscode-icon', { name: 'error' }),
          ' Refused: ',
          m.refusal,
        )
      : null,
    m.refusal
      ? h(
          'div',
          { class: 'actions' },
          m.largestFit !== undefined
            ? largestFitButton('refusal-largest-fit', m.largestFit, (x) => useEpsilon(x))
            : null,
          setBudgetButton('refusal-set-budget'),
        )
      : null,
  );
}

function resultView(m: ResultMessage): HTMLElement {
  // The release (what Copy, Insert and Export… carry), then the ledger's figures; the local diagnostics go last, in
  // their own labelled section.
  const r = m.release;
  return h(
    'section',
    { class: 'result' },
    h('h2', {}, `Synthetic records (${r.records.length}) — ${r.status}`),
    m.message ? h('p', { class: 'warning' }, m.message) : null,
    h(
      'p',
      {},
      'ε charged ',
      figure('epsilon-charged', r.privacy.epsilonCharged),
      ` at δ = ${formatDelta(r.privacy.delta)} for `,
      figure('histograms', r.privacy.histograms, String(r.privacy.histograms)),
      ` of ${r.privacy.iterations} histogram(s)`,
      r.status === 'completed' ? '' : ` (planned ${f(r.privacy.epsilonPlanned)})`,
      '. This run used ',
      figure('budget-used', m.budgetUsed),
      ` of the ${f(Math.max(0, m.budget.remaining + m.budgetUsed))} that was left; `,
      figure('remaining-now', Math.max(0, m.budget.remaining)),
      ` of ${f(m.budget.total)} remain.`,
    ),
    releaseActions(),
    releasedTexts('records', 'record', r.records),
    localOnlyView(m.localOnlyNotPrivate),
  );
}

const STAGE_TEXT: Record<SynthLabelRow['stage'], (r: SynthLabelRow, T: number) => string> = {
  waiting: () => 'waiting',
  embedding: () => 'embedding the private rows',
  writing: () => 'writing the initial population',
  written: () => 'initial population written',
  voting: (r, T) => `iteration ${r.iteration} of ${T}: private votes (noisy histogram)`,
  varying: (r, T) => `iteration ${r.iteration} of ${T}: ${r.count} selected; writing variations`,
  varied: (r, T) => `iteration ${r.iteration} of ${T}: variations written`,
  done: (r) => `done: ${r.count} record(s) selected`,
  stopped: (r, T) => `stopped in iteration ${r.iteration} of ${T}`,
};
const STAGE_ICON: Record<SynthLabelRow['stage'], string> = {
  waiting: 'circle-outline',
  embedding: 'loading',
  writing: 'loading',
  written: 'loading',
  voting: 'loading',
  varying: 'loading',
  varied: 'loading',
  done: 'pass',
  stopped: 'circle-slash',
};

/** The run's progress: totals and one row per label, replaced as a whole (a few rows; the state is small). */
function renderProgress(m: ProgressMessage): void {
  if (!progressEl) return;
  if (m.running) {
    form?.setBusy(true);
    // A run in flight replaces the plan and the earlier result on display, and the "Reserving the budget…" status.
    outputEl?.replaceChildren();
    planEl?.replaceChildren();
    problemEl?.replaceChildren();
  }
  const n = (id: string, x: number) => h('strong', { 'data-testid': id }, x.toLocaleString('en-US'));
  const totals = h(
    'p',
    { class: 'progress-totals' },
    'Iteration ',
    n('progress-iteration', m.iteration),
    ` of ${m.iterations} · `,
    n('progress-histograms', m.histograms),
    ' histogram(s) · ',
    n('progress-completions', m.completions),
    // Calls, tokens and cost follow the private data: local only (never in an export).
    ' completions · local only, not private: ',
    n('progress-calls', m.calls),
    ' model calls',
    m.inputTokens || m.outputTokens
      ? ` · ${m.inputTokens.toLocaleString('en-US')} prompt and ${m.outputTokens.toLocaleString('en-US')} completion tokens`
      : '',
    ' · cost $',
    h('span', { 'data-testid': 'progress-cost' }, m.cost.toFixed(4)),
  );
  const rows = h(
    'div',
    { class: 'progress-rows' },
    ...m.labels.map((r) => {
      const busy = STAGE_ICON[r.stage] === 'loading';
      return h(
        'div',
        { class: 'synth-row', 'data-label': r.label, 'data-stage': r.stage, 'data-iteration': r.iteration },
        h('vscode-icon', {
          name: busy && !m.running ? 'circle-slash' : STAGE_ICON[r.stage],
          spin: busy && m.running,
          class: 'progress-icon',
        }),
        h('span', { class: 'progress-label', title: r.label }, r.label),
        h('span', { class: 'progress-count num' }, `${r.count} record(s)`),
        h('span', { class: 'synth-stage' }, STAGE_TEXT[r.stage](r, m.iterations)),
      );
    }),
  );
  const details = h(
    'details',
    { class: 'progress', open: m.running },
    h('summary', {}, m.running ? 'Progress' : `Run details: ${m.histograms} of ${m.iterations} histogram(s)`),
    totals,
    rows,
  );
  progressEl.replaceChildren(details);
}

/** Renders a Synthesize panel message into `app` (messages of other views are ignored). */
export function renderSynth(app: HTMLElement, msg: HostMessage): void {
  switch (msg.type) {
    case 'synthInit':
      initView(app, msg);
      break;
    case 'synthPlan': {
      problemEl?.replaceChildren();
      planEl?.replaceChildren(planView(msg));
      budgetEl?.replaceChildren(budgetView(msg.budget));
      // A refusal is what the user must read first: focus it; else bring the plan into view.
      const refusal = planEl?.querySelector<HTMLElement>('.refusal');
      if (refusal) reveal(refusal);
      else planEl?.scrollIntoView({ block: 'nearest' });
      break;
    }
    case 'synthProgress':
      renderProgress(msg);
      break;
    case 'synthResult':
      problemEl?.replaceChildren();
      planEl?.replaceChildren();
      form?.setBusy(false);
      form?.setResumable(msg.resumable);
      outputEl?.replaceChildren(resultView(msg));
      budgetEl?.replaceChildren(budgetView(msg.budget));
      outputEl?.scrollIntoView({ block: 'start' });
      break;
    case 'budget':
      budgetEl?.replaceChildren(budgetView(msg.budget));
      break;
    case 'generateError':
      form?.setBusy(false);
      showProblem(msg.message, msg.hint, msg.action, { endpoint: msg.endpoint, largestFit: msg.largestFit });
      break;
    case 'endpointCheck':
      showEndpointCheck(problemEl, msg);
      break;
    case 'notice':
      noticeEl?.replaceChildren(msg.message);
      break;
    case 'synthDomain':
      setDomain?.(msg.domain);
      break;
    default:
      break;
  }
}
