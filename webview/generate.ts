// The Generate view: a form for a DP few-shot run, the plan preview, progress and the released demonstrations.
// Everything is rendered as text nodes (see dom.ts).
import {
  generateSettingsSchema,
  type GenerateSettings,
  type HostMessage,
  type ProgressRow,
  type ProgressTotals,
} from '../src/shared/protocol';
import { formatDelta } from '../src/shared/format';
import { GENERATE_PRESETS } from '../src/shared/presets';
import {
  budgetView,
  exact,
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
import { GENERATE_GLOSSARY, HELP } from './explain';
import {
  dataFlowView,
  largestFitButton,
  MARGINAL_EXPLAINER,
  marginalView,
  problemArea,
  reveal,
  showEndpointCheck,
  showProblem as showProblemIn,
  showStatus,
} from './feedback';
import { getState, send, setState } from './vscode-api';

type InitMessage = Extract<HostMessage, { type: 'generateInit' }>;
type GenerateHostMessage = Extract<
  HostMessage,
  { type: 'generateInit' | 'plan' | 'progress' | 'result' | 'generateError' | 'notice' | 'budget' | 'endpointCheck' }
>;

let form: { readSettings: () => GenerateSettings; setBusy: (busy: boolean) => void } | undefined;
let budgetEl: HTMLElement | undefined;
let outputEl: HTMLElement | undefined;
let noticeEl: HTMLElement | undefined;
let progressEl: HTMLElement | undefined;
/** Next to the action row: refusals, errors and statuses, without touching the results below. */
let problemEl: HTMLElement | undefined;
/** The plan on display: apart from the result, so previewing again leaves the last result in place. */
let planEl: HTMLElement | undefined;
/** Sets the form's ε and asks for a new plan ("use the largest ε that fits"). */
let useEpsilon: (epsilon: number) => void = () => undefined;

function initView(app: HTMLElement, m: InitMessage): void {
  const picker = labelPicker(m.labels);
  const shots = numberField('shots', 'Shots per label', m.defaults.shots, { min: '1', step: '1' }, HELP.shots);
  const epsilon = numberField(
    'epsilon',
    'ε for this run',
    m.defaults.epsilon,
    { min: '0.01', step: 'any' },
    HELP.epsilon,
  );
  const prompts = numberField('prompts', 'Prompts M', m.defaults.prompts, { min: '1', step: '1' }, HELP.prompts);
  const maxTokens = numberField(
    'max-tokens',
    'Max tokens T_max',
    m.defaults.maxTokens,
    { min: '1', step: '1' },
    HELP.maxTokens,
  );
  const presets = presetRow(GENERATE_PRESETS, (p) => {
    shots.input.value = String(p.values.shots);
    epsilon.input.value = String(p.values.epsilon);
    prompts.input.value = String(p.values.prompts);
    maxTokens.input.value = String(p.values.maxTokens);
    save();
  });
  const previewBtn = h('vscode-button', { id: 'preview', secondary: true }, 'Preview plan');
  const generateBtn = h('vscode-button', { id: 'generate' }, 'Generate');
  const cancelBtn = h('vscode-button', { id: 'cancel', secondary: true, hidden: true }, 'Cancel');

  const readSettings = (): GenerateSettings => ({
    ...picker.read(),
    shots: Math.round(shots.input.valueAsNumber),
    epsilon: epsilon.input.valueAsNumber,
    prompts: Math.round(prompts.input.valueAsNumber),
    maxTokens: Math.round(maxTokens.input.valueAsNumber),
  });
  // Restore the form after a reload (hidden panels are not retained); the state is validated like a message.
  const saved = getState() as { file?: unknown; settings?: unknown } | undefined;
  const restored = saved?.file === m.file ? generateSettingsSchema.safeParse(saved.settings) : undefined;
  if (restored?.success) {
    const r = restored.data;
    picker.restore(r);
    shots.input.value = String(r.shots);
    epsilon.input.value = String(r.epsilon);
    prompts.input.value = String(r.prompts);
    maxTokens.input.value = String(r.maxTokens);
  }
  const save = () => {
    const s = readSettings();
    if (generateSettingsSchema.safeParse(s).success) setState({ file: m.file, settings: s });
  };
  const valid = (s: GenerateSettings): boolean => {
    const ok = [s.shots, s.epsilon, s.prompts, s.maxTokens].every((x) => Number.isFinite(x) && x > 0);
    if (!ok)
      showProblem(
        'Every number must be positive.',
        '“Shots per label”, “Prompts M” and “Max tokens T_max” are whole numbers of 1 or more; “ε for this run” is above 0.',
      );
    return ok;
  };
  previewBtn.addEventListener('click', () => {
    const s = readSettings();
    if (!valid(s)) return;
    showStatus(problemEl, m.provider.offline ? 'Planning…' : 'Checking the endpoint and planning…');
    send({ type: 'preview', settings: s });
  });
  useEpsilon = (x) => {
    epsilon.input.value = String(x);
    save();
    previewBtn.click();
  };
  generateBtn.addEventListener('click', () => {
    const s = readSettings();
    if (!valid(s)) return;
    form?.setBusy(true);
    // Earlier results stay until the run actually starts (a refusal or an error then leaves them in place).
    showStatus(problemEl, 'Reserving the budget…');
    send({ type: 'generate', settings: s });
  });
  cancelBtn.addEventListener('click', () => send({ type: 'cancel' }));
  for (const el of [
    picker.all,
    picker.selectAll,
    ...picker.boxes,
    shots.input,
    epsilon.input,
    prompts.input,
    maxTokens.input,
  ]) {
    for (const ev of ['change', 'input', 'click']) el.addEventListener(ev, save);
  }
  form = {
    readSettings,
    setBusy: (busy) => {
      previewBtn.toggleAttribute('disabled', busy);
      generateBtn.toggleAttribute('disabled', busy);
      cancelBtn.toggleAttribute('hidden', !busy);
    },
  };

  budgetEl = h('div', {}, budgetView(m.budget));
  outputEl = h('section', { class: 'output', 'aria-live': 'polite' });
  noticeEl = h('p', { class: 'muted notice' });
  problemEl = problemArea();
  planEl = h('section', { class: 'plan-area', 'aria-live': 'polite' });
  progressEl = h('section', { class: 'run' });
  progress = undefined;
  app.replaceChildren(
    h('header', {}, h('h1', {}, h('vscode-icon', { name: 'sparkle' }), ' Generate DP demonstrations: ', m.file)),
    h('p', { class: 'provider' }, `Model: ${m.provider.kind}/${m.provider.model}`),
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
    h('div', { class: 'fields' }, shots.el, epsilon.el, prompts.el, maxTokens.el),
    h('div', { class: 'actions' }, previewBtn, generateBtn, cancelBtn),
    problemEl,
    glossary(GENERATE_GLOSSARY),
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
  showProblemIn(problemEl, 'Cannot generate', { message, hint, action, ...extra }, (x) => useEpsilon(x));
}

function planView(m: Extract<HostMessage, { type: 'plan' }>): HTMLElement {
  return h(
    'section',
    { class: 'plan' },
    h('h2', {}, 'Plan (nothing spent or sent)'),
    marginalView(m),
    dataFlowView(m.dataFlow, m.traffic, m.endpointChecked),
    h(
      'p',
      {},
      `This run alone: ε = ${f(m.epsilonRun)} at δ = ${formatDelta(m.delta)}. Budget: spent ${f(m.budget.spent)} of ${f(m.budget.total)}; remaining after this run `,
      exact('remaining-after', Math.max(0, m.remainingAfter)),
      '.',
    ),
    h(
      'p',
      { 'data-testid': 'count-release' },
      `First the label pool sizes are released with Gaussian noise σ_c = ${f(m.countRelease.sigma)} (ε ${f(m.countRelease.epsilon)}: ${f(100 * m.countRelease.share)}% of ε and δ); each label's sampling rate q = M·N/ñ and token noise σ are then set from the noisy count ñ for the rest.`,
    ),
    h(
      'vscode-table',
      { zebra: true, 'bordered-columns': true, columns: JSON.stringify(['70%', '30%']) },
      h(
        'vscode-table-header',
        { slot: 'header' },
        h('vscode-table-header-cell', {}, 'Label'),
        h('vscode-table-header-cell', {}, 'token steps'),
      ),
      h(
        'vscode-table-body',
        { slot: 'body' },
        ...m.labels.map((l) =>
          h(
            'vscode-table-row',
            {},
            h('vscode-table-cell', {}, l.label),
            h('vscode-table-cell', { class: 'num' }, l.steps),
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

function resultView(m: Extract<HostMessage, { type: 'result' }>): HTMLElement {
  // The release (what Copy, Insert and Export… carry), then the ledger's figures; the local diagnostics go last, in
  // their own labelled section.
  const r = m.release;
  return h(
    'section',
    { class: 'result' },
    h('h2', {}, `Demonstrations (${r.demonstrations.length}) — ${r.status}`),
    m.message ? h('p', { class: 'warning' }, m.message) : null,
    h(
      'p',
      { class: 'marginal-sentence', title: MARGINAL_EXPLAINER },
      'This run used ',
      exact('budget-used', m.budgetUsed),
      ` of the ${f(Math.max(0, m.budget.remaining + m.budgetUsed))} that was left; `,
      exact('remaining-now', Math.max(0, m.budget.remaining)),
      ` of ${f(m.budget.total)} remain.`,
    ),
    h(
      'p',
      {},
      `Its own ε: `,
      exact('epsilon-charged', r.privacy.epsilonCharged),
      ` at δ = ${formatDelta(r.privacy.delta)}`,
      r.status === 'completed'
        ? ''
        : ` (planned up to ${f(r.privacy.epsilonPlanned)}; only the started demonstrations are charged)`,
      '.',
    ),
    releaseActions(),
    releasedTexts('demos', 'demo', r.demonstrations),
    localOnlyView(m.localOnlyNotPrivate),
  );
}

/** Renders a Generate panel message into `app`. */
export function renderGenerate(app: HTMLElement, msg: GenerateHostMessage): void {
  switch (msg.type) {
    case 'generateInit':
      initView(app, msg);
      break;
    case 'plan': {
      problemEl?.replaceChildren();
      planEl?.replaceChildren(planView(msg));
      budgetEl?.replaceChildren(budgetView(msg.budget));
      // A refusal is what the user must read first: focus it; else bring the plan into view.
      const refusal = planEl?.querySelector<HTMLElement>('.refusal');
      if (refusal) reveal(refusal);
      else planEl?.scrollIntoView({ block: 'nearest' });
      break;
    }
    case 'progress':
      renderProgress(msg);
      break;
    case 'budget':
      budgetEl?.replaceChildren(budgetView(msg.budget));
      break;
    case 'result':
      problemEl?.replaceChildren();
      planEl?.replaceChildren();
      form?.setBusy(false);
      progress?.finish();
      outputEl?.replaceChildren(resultView(msg));
      budgetEl?.replaceChildren(budgetView(msg.budget));
      outputEl?.scrollIntoView({ block: 'start' });
      break;
    case 'generateError':
      form?.setBusy(false);
      showProblem(msg.message, msg.hint, msg.action, { endpoint: msg.endpoint, largestFit: msg.largestFit });
      if (progress?.rows.size === 0) progressEl?.replaceChildren();
      else progress?.finish();
      break;
    case 'notice':
      noticeEl?.replaceChildren(msg.message);
      break;
    case 'endpointCheck':
      showEndpointCheck(problemEl, msg);
      break;
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
  const n = (id: string, x: number) => h('strong', { 'data-testid': id }, x.toLocaleString('en-US'));
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
    t.inputTokens || t.outputTokens
      ? ` · ${t.inputTokens.toLocaleString('en-US')} prompt and ${t.outputTokens.toLocaleString('en-US')} completion tokens`
      : '',
  ]
    .flat()
    .map((x) => (typeof x === 'string' ? h('span', {}, x) : x));
}

function newProgressView(): ProgressView {
  const list = h('div', { class: 'progress-rows' });
  const totals = h('p', { class: 'progress-totals' });
  const summary = h('summary', {}, 'Progress');
  const details = h('details', { class: 'progress', open: true }, summary, totals, list) as HTMLDetailsElement;
  progressEl?.replaceChildren(details);
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
    if (m.running) {
      outputEl?.replaceChildren();
      planEl?.replaceChildren();
      problemEl?.replaceChildren();
    }
  }
  for (const r of m.rows) upsertRow(progress, r);
  progress.totals.replaceChildren(...totalsView(m.totals, m.running));
  progress.summary.textContent = m.running
    ? 'Progress'
    : `Run details: ${m.totals.done} of ${m.totals.planned} demonstrations`;
  if (m.running) form?.setBusy(true);
  else progress.finish();
}
