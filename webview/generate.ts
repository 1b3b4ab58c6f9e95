// The Generate view: a form for a DP few-shot run, the plan preview, progress and the released demonstrations.
// Everything is rendered as text nodes (see dom.ts).
import { generateSettingsSchema, type BudgetMessage, type GenerateSettings, type HostMessage } from '../src/shared/protocol';
import { h } from './dom';
import { getState, send, setState } from './vscode-api';

type InitMessage = Extract<HostMessage, { type: 'generateInit' }>;
type GenerateHostMessage = Extract<HostMessage, { type: 'generateInit' | 'plan' | 'progress' | 'result' | 'generateError' | 'notice' }>;

const f = (x: number) => String(Number(x.toPrecision(4)));

let form: { readSettings: () => GenerateSettings; setBusy: (busy: boolean) => void } | undefined;
let budgetEl: HTMLElement | undefined;
let outputEl: HTMLElement | undefined;
let noticeEl: HTMLElement | undefined;

function budgetView(b: BudgetMessage): HTMLElement {
  return h('div', { class: 'stats budget' },
    h('div', { class: 'stat' }, h('div', { class: 'stat-value', 'data-testid': 'budget-total' }, f(b.total)), h('div', { class: 'stat-label' }, 'total ε')),
    h('div', { class: 'stat' }, h('div', { class: 'stat-value', 'data-testid': 'budget-spent' }, f(b.spent)), h('div', { class: 'stat-label' }, 'spent')),
    h('div', { class: 'stat' }, h('div', { class: 'stat-value', 'data-testid': 'budget-remaining' }, f(Math.max(0, b.remaining))), h('div', { class: 'stat-label' }, 'remaining')),
  );
}

function numberField(id: string, label: string, value: number, attrs: Record<string, string>): { el: HTMLElement; input: HTMLInputElement } {
  const input = h('input', { id, type: 'number', value: String(value), required: true, ...attrs }) as HTMLInputElement;
  return { el: h('label', { class: 'field', for: id }, h('span', {}, label), input), input };
}

function initView(app: HTMLElement, m: InitMessage): void {
  const boxes = m.labels.map((label) => h('input', { type: 'checkbox', value: label }) as HTMLInputElement);
  const all = h('input', { type: 'checkbox', id: 'all-labels' }) as HTMLInputElement;
  const selectAll = h('vscode-button', { id: 'select-all', secondary: true, disabled: true }, 'Select all');
  const shots = numberField('shots', 'Shots per label', m.defaults.shots, { min: '1', step: '1' });
  const epsilon = numberField('epsilon', 'ε for this run', m.defaults.epsilon, { min: '0.01', step: 'any' });
  const prompts = numberField('prompts', 'Prompts M', m.defaults.prompts, { min: '1', step: '1' });
  const maxTokens = numberField('max-tokens', 'Max tokens T_max', m.defaults.maxTokens, { min: '1', step: '1' });
  const previewBtn = h('vscode-button', { id: 'preview', secondary: true }, 'Preview plan');
  const generateBtn = h('vscode-button', { id: 'generate' }, 'Generate');
  const cancelBtn = h('vscode-button', { id: 'cancel', secondary: true, hidden: true }, 'Cancel');

  all.addEventListener('change', () => {
    selectAll.toggleAttribute('disabled', !all.checked);
    // Ticking selects every label; withdrawing the acknowledgement withdraws that selection too.
    for (const b of boxes) {
      b.checked = all.checked;
      b.disabled = all.checked;
    }
  });
  selectAll.addEventListener('click', () => {
    if (!all.checked) return;
    for (const b of boxes) b.checked = true;
  });
  const readSettings = (): GenerateSettings => ({
    labels: boxes.filter((b) => b.checked).map((b) => b.value),
    allLabels: all.checked,
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
    all.checked = r.allLabels;
    selectAll.toggleAttribute('disabled', !r.allLabels);
    for (const b of boxes) {
      b.checked = r.allLabels || r.labels.includes(b.value);
      b.disabled = r.allLabels;
    }
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
    if (!ok) showProblem('Every number must be positive.', 'Shots, prompts and T_max are whole numbers ≥ 1; ε > 0.');
    return ok;
  };
  previewBtn.addEventListener('click', () => {
    const s = readSettings();
    if (valid(s)) send({ type: 'preview', settings: s });
  });
  generateBtn.addEventListener('click', () => {
    const s = readSettings();
    if (!valid(s)) return;
    form?.setBusy(true);
    outputEl?.replaceChildren(h('p', { class: 'muted' }, h('vscode-icon', { name: 'loading', spin: true }), ' Generating…'));
    send({ type: 'generate', settings: s });
  });
  cancelBtn.addEventListener('click', () => send({ type: 'cancel' }));
  for (const el of [all, selectAll, ...boxes, shots.input, epsilon.input, prompts.input, maxTokens.input]) {
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
  app.replaceChildren(
    h('header', {}, h('h1', {}, h('vscode-icon', { name: 'sparkle' }), ' Generate DP demonstrations: ', m.file)),
    h('p', { class: 'provider' }, `Model: ${m.provider.kind}/${m.provider.model}`),
    ...(m.provider.offline
      ? [h('p', { class: 'warning builtin-notice', role: 'note' }, h('vscode-icon', { name: 'info' }),
        ' The built-in offline model is for trying the tool, not production quality. Choose a real model in the settings (Private Few-Shot › Provider).')]
      : []),
    h('h2', {}, 'Privacy budget of this dataset'),
    budgetEl,
    h('vscode-divider', {}),
    h('h2', {}, `Labels (${m.labels.length})`),
    h('p', { class: 'private-note' }, h('vscode-icon', { name: 'lock' }), ' The labels you tick are treated as public: they appear in the prompts and the output.'),
    h('label', { class: 'check ack' }, all, ' Use all labels in the file (I accept that the label set becomes public)'),
    h('div', { class: 'actions' }, selectAll),
    h('div', { class: 'labels' }, ...boxes.map((b) => h('label', { class: 'label-option', title: b.value }, b, ' ', b.value))),
    h('div', { class: 'fields' }, shots.el, epsilon.el, prompts.el, maxTokens.el),
    h('div', { class: 'actions' }, previewBtn, generateBtn, cancelBtn),
    noticeEl,
    outputEl,
  );
}

function showProblem(message: string, hint?: string): void {
  outputEl?.replaceChildren(
    h('section', { class: 'error', role: 'alert' },
      h('h2', {}, h('vscode-icon', { name: 'error' }), ' Cannot generate'),
      h('p', { class: 'message' }, message),
      hint ? h('p', { class: 'hint' }, hint) : null,
    ),
  );
}

function planView(m: Extract<HostMessage, { type: 'plan' }>): HTMLElement {
  return h('section', { class: 'plan' },
    h('h2', {}, 'Plan (nothing spent or sent)'),
    h('p', {}, `This run: ε = ${f(m.epsilonRun)} at δ = ${m.delta.toExponential(2)}. Budget: spent ${f(m.budget.spent)} of ${f(m.budget.total)}; remaining after this run `,
      h('strong', { 'data-testid': 'remaining-after' }, f(Math.max(0, m.remainingAfter))), '.'),
    h('vscode-table', { zebra: true, 'bordered-columns': true, columns: JSON.stringify(['50%', '25%', '25%']) },
      h('vscode-table-header', { slot: 'header' },
        h('vscode-table-header-cell', {}, 'Label'), h('vscode-table-header-cell', {}, 'σ'), h('vscode-table-header-cell', {}, 'steps')),
      h('vscode-table-body', { slot: 'body' },
        ...m.labels.map((l) => h('vscode-table-row', {}, h('vscode-table-cell', {}, l.label), h('vscode-table-cell', { class: 'num sigma' }, f(l.sigma)), h('vscode-table-cell', { class: 'num' }, l.steps))),
      ),
    ),
    ...m.warnings.map((w) => h('p', { class: 'warning' }, h('vscode-icon', { name: 'warning' }), ' ', w)),
    m.refusal ? h('p', { class: 'error refusal', role: 'alert' }, h('vscode-icon', { name: 'error' }), ' Refused: ', m.refusal) : null,
  );
}

function resultView(m: Extract<HostMessage, { type: 'result' }>): HTMLElement {
  return h('section', { class: 'result' },
    h('h2', {}, `Demonstrations (${m.demonstrations.length}) — ${m.status}`),
    m.message ? h('p', { class: 'warning' }, m.message) : null,
    h('p', {}, `Budget used by this run: ε `, h('strong', { 'data-testid': 'budget-used' }, f(m.budgetUsed)),
      m.status === 'completed' ? '' : ` (planned up to ${f(m.epsilonPlanned)}; only the started demonstrations are charged)`, `; remaining budget `, h('strong', { 'data-testid': 'remaining-now' }, f(Math.max(0, m.budget.remaining))), ` of ${f(m.budget.total)}.`),
    h('div', { class: 'actions' },
      h('vscode-button', { id: 'insert', onclick: () => send({ type: 'insert' }) }, h('vscode-icon', { name: 'insert', slot: 'content-before' }), 'Insert at cursor'),
      h('vscode-button', { id: 'export', secondary: true, onclick: () => send({ type: 'export' }) }, h('vscode-icon', { name: 'save', slot: 'content-before' }), 'Export…'),
      h('vscode-button', { id: 'copy', secondary: true, onclick: () => send({ type: 'copy' }) }, h('vscode-icon', { name: 'copy', slot: 'content-before' }), 'Copy'),
    ),
    h('ol', { class: 'demos' }, ...m.demonstrations.map((d) => h('li', { class: 'demo' }, h('div', { class: 'demo-label' }, d.label), h('div', { class: 'demo-text' }, d.text)))),
  );
}

/** Renders a Generate panel message into `app`. */
export function renderGenerate(app: HTMLElement, msg: GenerateHostMessage): void {
  switch (msg.type) {
    case 'generateInit':
      initView(app, msg);
      break;
    case 'plan':
      outputEl?.replaceChildren(planView(msg));
      budgetEl?.replaceChildren(budgetView(msg.budget));
      outputEl?.scrollIntoView({ block: 'nearest' });
      break;
    case 'progress':
      outputEl?.replaceChildren(h('p', { class: 'progress' }, h('vscode-icon', { name: 'loading', spin: true }),
        ` ${msg.label} #${msg.shot + 1}: ${msg.tokens} tokens, ${msg.calls} calls`), h('p', { class: 'demo-text muted' }, msg.text));
      break;
    case 'result':
      form?.setBusy(false);
      outputEl?.replaceChildren(resultView(msg));
      budgetEl?.replaceChildren(budgetView(msg.budget));
      outputEl?.scrollIntoView({ block: 'start' });
      break;
    case 'generateError':
      form?.setBusy(false);
      showProblem(msg.message, msg.hint);
      break;
    case 'notice':
      noticeEl?.replaceChildren(msg.message);
      break;
  }
}
