// The Generate view: a form for a DP few-shot run, the plan preview, progress and the released demonstrations.
// Everything is rendered as text nodes (see dom.ts); the frame it shares with Synthesize is in runPanel.ts.
import {
  generateSettingsSchema,
  type GenerateSettings,
  type HostMessage,
  type ProgressRow,
  type ProgressTotals,
} from '../src/shared/protocol';
import { formatDelta, formatNumber } from '../src/shared/format';
import { GENERATE_PRESETS } from '../src/shared/presets';
import { countFigure, dataTable, exact, releasedTexts, tokensText } from './common';
import { fillFields, labelPicker, onEdit, presetRow, readFields, runField } from './form';
import { h } from './dom';
import { FIELDS, GENERATE_GLOSSARY } from './explain';
import { planSection, resultSection, runForm, runLayout, runPanel, savedSettings, type RunPanel } from './runPanel';

type InitMessage = Extract<HostMessage, { type: 'generateInit' }>;
type GenerateHostMessage = Extract<
  HostMessage,
  { type: 'generateInit' | 'plan' | 'progress' | 'result' | 'generateError' | 'notice' | 'budget' | 'endpointCheck' }
>;

let panel: RunPanel | undefined;

function initView(app: HTMLElement, m: InitMessage): void {
  const p = runPanel('Cannot generate', m.budget);
  panel = p;
  progress = undefined;
  const picker = labelPicker(m.labels);
  const fields = {
    shots: runField(FIELDS.shots, m.defaults.shots),
    epsilon: runField(FIELDS.epsilon, m.defaults.epsilon),
    prompts: runField(FIELDS.prompts, m.defaults.prompts),
    maxTokens: runField(FIELDS.maxTokens, m.defaults.maxTokens),
  };
  const presets = presetRow(GENERATE_PRESETS, (preset) => {
    fillFields(fields, preset.values);
    state.save();
  });
  const readSettings = (): GenerateSettings => ({ ...picker.read(), ...readFields(fields) });
  // Restore the form after a reload (hidden panels are not retained).
  const state = savedSettings({}, m.file, generateSettingsSchema, readSettings);
  if (state.restored) {
    picker.restore(state.restored);
    fillFields(fields, state.restored);
  }
  const buttons = runForm(p, {
    run: { id: 'generate', text: 'Generate' },
    read: readSettings,
    check: (s) => [s.shots, s.epsilon, s.prompts, s.maxTokens].every((x) => Number.isFinite(x) && x > 0),
    hint: '“Shots per label”, “Prompts M” and “Max tokens T_max” are whole numbers of 1 or more; “ε for this run” is above 0.',
    preview: (settings) => ({ type: 'preview', settings }),
    start: (settings) => ({ type: 'generate', settings }),
    epsilon: fields.epsilon.input,
    offline: m.provider.offline,
    save: state.save,
  });
  const inputs = Object.values(fields).map((x) => x.input);
  onEdit([picker.all, picker.selectAll, ...picker.boxes, ...inputs], state.save);

  runLayout(app, p, {
    icon: 'sparkle',
    title: 'Generate DP demonstrations',
    file: m.file,
    provider: `Model: ${m.provider.kind}/${m.provider.model}`,
    offline: m.provider.offline,
    labels: m.labels.length,
    form: [...picker.elements, presets, h('div', { class: 'fields' }, ...Object.values(fields).map((x) => x.el))],
    actions: [buttons.preview, buttons.run, buttons.cancel],
    glossary: GENERATE_GLOSSARY,
  });
}

function planView(m: Extract<HostMessage, { type: 'plan' }>, useEpsilon: (epsilon: number) => void): HTMLElement {
  return planSection(
    m,
    useEpsilon,
    h(
      'p',
      {},
      `This run alone: ε = ${formatNumber(m.epsilonRun)} at δ = ${formatDelta(m.delta)}. Budget: spent ${formatNumber(m.budget.spent)} of ${formatNumber(m.budget.total)}; remaining after this run `,
      exact('remaining-after', Math.max(0, m.remainingAfter)),
      '.',
    ),
    h(
      'p',
      { 'data-testid': 'count-release' },
      `First the label pool sizes are released with Gaussian noise σ_c = ${formatNumber(m.countRelease.sigma)} (ε ${formatNumber(m.countRelease.epsilon)}: ${formatNumber(100 * m.countRelease.share)}% of ε and δ); each label's sampling rate q = M·N/ñ and token noise σ are then set from the noisy count ñ for the rest.`,
    ),
    dataTable(
      [
        { title: 'Label', width: '70%' },
        { title: 'token steps', width: '30%', class: 'num' },
      ],
      m.labels.map((l) => [l.label, l.steps]),
    ),
  );
}

function resultView(m: Extract<HostMessage, { type: 'result' }>): HTMLElement {
  const r = m.release;
  return resultSection(
    m,
    `Demonstrations (${r.demonstrations.length}) — ${r.status}`,
    h(
      'p',
      {},
      `Its own ε: `,
      exact('epsilon-charged', r.privacy.epsilonCharged),
      ` at δ = ${formatDelta(r.privacy.delta)}`,
      r.status === 'completed'
        ? ''
        : ` (planned up to ${formatNumber(r.privacy.epsilonPlanned)}; only the started demonstrations are charged)`,
      '.',
    ),
    releasedTexts('demos', 'demo', r.demonstrations),
  );
}

/** Renders a Generate panel message into `app`. */
export function renderGenerate(app: HTMLElement, msg: GenerateHostMessage): void {
  switch (msg.type) {
    case 'generateInit':
      initView(app, msg);
      break;
    case 'plan':
      panel?.showPlan(msg, planView);
      break;
    case 'progress':
      renderProgress(msg);
      break;
    case 'result':
      panel?.showResult(resultView(msg), msg.budget);
      progress?.finish();
      break;
    case 'generateError':
      panel?.handle(msg);
      // A run that failed before any demonstration started leaves no progress to show.
      if (progress?.rows.size === 0) panel?.progress.replaceChildren();
      else progress?.finish();
      break;
    default:
      panel?.handle(msg);
  }
}

/**
 * The run's progress: totals, and one row per demonstration started (label, shot, tokens, the text so far as text).
 * Rows are kept by (label, shot) and updated in place, so concurrent demonstrations do not flicker; after the run
 * the rows stay, folded, under the result.
 */
interface ProgressView {
  rows: Map<string, { el: HTMLElement; icon: HTMLElement; tokens: HTMLElement; text: HTMLElement }>;
  list: HTMLElement;
  totals: HTMLElement;
  summary: HTMLElement;
  details: HTMLDetailsElement;
  finish: () => void;
}
let progress: ProgressView | undefined;

const rowKey = (label: string, shot: number) => `${label}\u0000${shot}`;
const rowOrder = (a: HTMLElement, b: { label: string; shot: number }) =>
  (a.dataset.label ?? '').localeCompare(b.label) || Number(a.dataset.shot) - b.shot;

function totalsView(t: ProgressTotals, running: boolean): HTMLElement[] {
  const n = countFigure;
  return [
    n('progress-done', t.done),
    ` of ${t.planned} demonstrations done`,
    running ? [', ', n('progress-in-flight', t.started - t.done), ' in flight'] : [],
    // Calls, round trips and tokens follow the private prompts: local only (never in an export).
    ' · local only, not private: ',
    n('progress-calls', t.calls),
    ' model calls · ',
    n('progress-round-trips', t.roundTrips),
    ' round trips',
    tokensText(t.inputTokens, t.outputTokens),
  ]
    .flat()
    .map((x) => (typeof x === 'string' ? h('span', {}, x) : x));
}

function newProgressView(): ProgressView {
  const list = h('div', { class: 'progress-rows' });
  const totals = h('p', { class: 'progress-totals' });
  const summary = h('summary', {}, 'Progress');
  const details = h('details', { class: 'progress', open: true }, summary, totals, list) as HTMLDetailsElement;
  panel?.progress.replaceChildren(details);
  const view: ProgressView = {
    rows: new Map(),
    list,
    totals,
    summary,
    details,
    finish: () => {
      details.open = false;
      for (const r of view.rows.values()) {
        if (r.el.dataset.state === 'running') {
          r.el.dataset.state = 'stopped';
          r.icon.setAttribute('name', 'circle-slash');
          r.icon.removeAttribute('spin');
        }
      }
    },
  };
  return view;
}

function upsertRow(view: ProgressView, r: ProgressRow): void {
  const k = rowKey(r.label, r.shot);
  let row = view.rows.get(k);
  if (!row) {
    const icon = h('vscode-icon', { name: 'loading', spin: true, class: 'progress-icon' });
    const tokens = h('span', { class: 'progress-tokens num' });
    const text = h('div', { class: 'progress-text' });
    const el = h(
      'div',
      { class: 'progress-row', 'data-label': r.label, 'data-shot': r.shot },
      icon,
      h('span', { class: 'progress-label', title: r.label }, r.label),
      h('span', { class: 'progress-shot' }, `#${r.shot + 1}`),
      tokens,
      text,
    );
    row = { el, icon, tokens, text };
    view.rows.set(k, row);
    const next = [...view.list.children].find((c) => rowOrder(c as HTMLElement, r) > 0);
    view.list.insertBefore(el, next ?? null);
  }
  row.el.dataset.state = r.done ? 'done' : 'running';
  row.icon.setAttribute('name', r.done ? 'pass' : 'loading');
  row.icon.toggleAttribute('spin', !r.done);
  row.tokens.textContent = `${r.tokens} tokens`;
  // The demonstration so far is DP output; still text only.
  row.text.textContent = r.text;
}

function renderProgress(m: Extract<HostMessage, { type: 'progress' }>): void {
  if (m.reset || !progress) {
    progress = newProgressView();
    // A run in flight replaces the plan on display; the final state of a finished run sits under its result.
    if (m.running) panel?.clearForRun();
  }
  for (const r of m.rows) upsertRow(progress, r);
  progress.totals.replaceChildren(...totalsView(m.totals, m.running));
  progress.summary.textContent = m.running
    ? 'Progress'
    : `Run details: ${m.totals.done} of ${m.totals.planned} demonstrations`;
  if (m.running) panel?.setBusy(true);
  else progress.finish();
}
