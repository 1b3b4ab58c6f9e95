// The Synthesize view (Aug-PE): a form, the plan preview, progress per label and the released synthetic records.
// Everything is rendered as text nodes (see dom.ts); the records are DP output but still never HTML. The frame it
// shares with Generate is in runPanel.ts.
import { synthSettingsSchema, type HostMessage, type SynthLabelRow, type SynthSettings } from '../src/shared/protocol';
import { formatDelta, formatNumber } from '../src/shared/format';
import { SYNTH_PRESETS, presetCount, type SynthPresetValues } from '../src/shared/presets';
import { countFigure, dataTable, exact, releasedTexts, tokensText } from './common';
import { fillFields, labelPicker, onEdit, presetRow, readFields, runField } from './form';
import { h } from './dom';
import { FIELDS, SYNTH_GLOSSARY } from './explain';
import { synthOptions } from './synthOptions';
import { planSection, resultSection, runForm, runLayout, runPanel, savedSettings, type RunPanel } from './runPanel';
import { LIMITS } from '../src/shared/limits';
import { send } from './vscode-api';

type InitMessage = Extract<HostMessage, { type: 'synthInit' }>;
type PlanMessage = Extract<HostMessage, { type: 'synthPlan' }>;
type ProgressMessage = Extract<HostMessage, { type: 'synthProgress' }>;
type ResultMessage = Extract<HostMessage, { type: 'synthResult' }>;
type Model = PlanMessage['generator'];

let panel: RunPanel | undefined;
let setResumable: ((run: string | undefined) => void) | undefined;
let setDomain: ((d: { file: string; exists: boolean }) => void) | undefined;

const model = (m: Model) => `${m.kind}/${m.model}`;

function initView(app: HTMLElement, m: InitMessage): void {
  const p = runPanel('Cannot generate records', m.budget);
  panel = p;
  const picker = labelPicker(m.labels);
  const count = runField(FIELDS.count, m.defaults.count);
  const fields = {
    epsilon: runField(FIELDS.epsilon, m.defaults.epsilon),
    iterations: runField(FIELDS.iterations, m.defaults.iterations),
    variations: runField(FIELDS.variations, m.defaults.variations),
  };
  // A preset's "Records in total" follows the ticked labels until the field is edited by hand.
  let following: SynthPresetValues | undefined;
  const ticked = () => picker.read().labels.length;
  const presets = presetRow(SYNTH_PRESETS, (preset) => {
    following = preset.values;
    count.input.value = String(presetCount(preset.values, ticked()));
    fillFields(fields, preset.values);
    state.save();
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

  const readSettings = (): SynthSettings => ({
    ...picker.read(),
    count: count.read(),
    ...readFields(fields),
    embedder: builtin.checked || !m.providerEmbeds ? 'builtin' : 'same',
    ...options.read(),
  });
  // Restore the form after a reload (hidden panels are not retained).
  const state = savedSettings({ view: 'synth' }, m.file, synthSettingsSchema, readSettings);
  if (state.restored) {
    const r = state.restored;
    picker.restore(r);
    count.input.value = String(r.count);
    fillFields(fields, r);
    (r.embedder === 'same' && m.providerEmbeds ? same : builtin).checked = true;
    options.restore(r);
  }
  const buttons = runForm(p, {
    run: { id: 'synthesize', text: 'Generate records' },
    read: readSettings,
    check: (s) => synthSettingsSchema.safeParse(s).success,
    hint: `“Records in total”, “Iterations T” and “Variations per record (L − 1)” are whole numbers of 1 or more (T up to ${LIMITS.iterations.max}, variations up to ${LIMITS.variations.max}); “ε for this run” is above 0.`,
    preview: (settings) => ({ type: 'synthPreview', settings }),
    start: (settings) => ({ type: 'synthRun', settings }),
    epsilon: fields.epsilon.input,
    offline: m.provider.offline,
    save: state.save,
  });
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
  resumeBtn.addEventListener('click', () => {
    const s = readSettings();
    const run = resumeBtn.dataset.run;
    if (!run || !buttons.valid(s)) return;
    p.setBusy(true);
    p.progress.replaceChildren();
    send({ type: 'synthResume', settings: s, run });
  });
  const setBusy = p.setBusy;
  p.setBusy = (busy) => {
    setBusy(busy);
    if (busy) resumeBtn.toggleAttribute('hidden', true);
  };
  setResumable = (run) => {
    if (run) resumeBtn.dataset.run = run;
    else delete resumeBtn.dataset.run;
    resumeBtn.toggleAttribute('hidden', !run);
  };
  const inputs = [count.input, ...Object.values(fields).map((x) => x.input), same, builtin, ...options.inputs];
  onEdit([picker.all, picker.selectAll, ...picker.boxes, ...inputs], state.save);

  const sameText = builtinProvider
    ? "The built-in model's embeddings: private rows stay on this machine"
    : m.providerEmbeds
      ? `${model(m.provider)}'s embeddings: private rows are sent to it`
      : `${model(m.provider)} offers no embeddings`;
  runLayout(app, p, {
    icon: 'beaker',
    title: 'Generate synthetic records (Aug-PE)',
    file: m.file,
    provider: `Generator: ${model(m.provider)}`,
    offline: m.provider.offline,
    note: h(
      'p',
      { class: 'private-note' },
      h('vscode-icon', { name: 'lock' }),
      ' The generator sees only the label names and its own synthetic text. Private rows go only to the embedder; their votes for the nearest candidates are released with Gaussian noise.',
    ),
    labels: m.labels.length,
    form: [
      ...picker.elements,
      presets,
      h('div', { class: 'fields' }, count.el, ...Object.values(fields).map((x) => x.el)),
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
    ],
    actions: [buttons.preview, buttons.run, buttons.cancel, resumeBtn],
    glossary: SYNTH_GLOSSARY,
  });
}

function planView(m: PlanMessage, useEpsilon: (epsilon: number) => void): HTMLElement {
  const where = (e: Model) => (e.offline ? 'private rows stay on this machine' : 'private rows are sent to it');
  return planSection(
    m,
    useEpsilon,
    h(
      'p',
      {},
      'This run alone: ε = ',
      exact('epsilon-run', m.epsilonRun),
      ` at δ = ${formatDelta(m.delta)}, from `,
      exact('iterations', m.iterations, String(m.iterations)),
      ' noisy histograms of noise σ = ',
      exact('sigma', m.sigma),
      ' (μ = ',
      exact('mu', m.mu),
      ' GDP). Budget: spent ',
      formatNumber(m.budget.spent),
      ' of ',
      formatNumber(m.budget.total),
      '; remaining after this run ',
      exact('remaining-after', Math.max(0, m.remainingAfter)),
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
          exact('sigma-class', m.sigmaClass),
          ' (μ includes it: μ² = T/σ² + 1/σ_c²); class sizes follow the noisy counts.',
        )
      : null,
    ...(m.declarations ?? []).map((d) => h('p', { class: 'private-note', 'data-testid': 'plan-declaration' }, d)),
    dataTable(
      [
        { title: 'Label', width: '40%' },
        { title: 'records', width: '15%', class: 'num count' },
        { title: 'candidates per iteration', width: '25%', class: 'num' },
        { title: 'private rows (local)', width: '20%', class: 'num' },
      ],
      m.labels.map((l) => [l.label, l.count, l.population, l.rows]),
    ),
  );
}

function resultView(m: ResultMessage): HTMLElement {
  const r = m.release;
  return resultSection(
    m,
    `Synthetic records (${r.records.length}) — ${r.status}`,
    h(
      'p',
      {},
      'Its own ε: ',
      exact('epsilon-charged', r.privacy.epsilonCharged),
      ` at δ = ${formatDelta(r.privacy.delta)}, for `,
      exact('histograms', r.privacy.histograms, String(r.privacy.histograms)),
      ` of ${r.privacy.iterations} histogram(s)`,
      r.status === 'completed' ? '' : ` (planned ${formatNumber(r.privacy.epsilonPlanned)})`,
      '.',
    ),
    releasedTexts('records', 'record', r.records),
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
  if (!panel) return;
  if (m.running) {
    panel.setBusy(true);
    panel.clearForRun();
  }
  const n = countFigure;
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
    tokensText(m.inputTokens, m.outputTokens),
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
  panel.progress.replaceChildren(details);
}

/** Renders a Synthesize panel message into `app` (messages of other views are ignored). */
export function renderSynth(app: HTMLElement, msg: HostMessage): void {
  switch (msg.type) {
    case 'synthInit':
      initView(app, msg);
      break;
    case 'synthPlan':
      panel?.showPlan(msg, planView);
      break;
    case 'synthProgress':
      renderProgress(msg);
      break;
    case 'synthResult':
      panel?.showResult(resultView(msg), msg.budget);
      setResumable?.(msg.resumable);
      break;
    case 'synthDomain':
      setDomain?.(msg.domain);
      break;
    default:
      panel?.handle(msg);
  }
}
