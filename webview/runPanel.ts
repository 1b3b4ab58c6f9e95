// The skeleton both run panels (Generate, Synthesize) share: the areas below the form (problem, plan, result,
// progress, notice, budget), the Preview / Run / Cancel buttons with their check and "use the largest ε that fits",
// the form's settings kept across reloads, the page's layout, the frames of the plan and the result, and the host
// messages both handle alike. Each view adds its own fields, plan figures, result figures and progress.
// Text only (see dom.ts).
import type {
  BudgetMessage,
  DataFlowMessage,
  HostMessage,
  LocalRunDiagnostics,
  TrafficMessage,
  WebviewMessage,
} from '../src/shared/protocol';
import { budgetView, exact, glossary, localOnlyView, releaseActions, setBudgetButton, warningList } from './common';
import { formatNumber } from '../src/shared/format';
import { h, type Child } from './dom';
import {
  dataFlowView,
  MARGINAL_EXPLAINER,
  marginalView,
  problemArea,
  refusalView,
  reveal,
  showEndpointCheck,
  showProblem,
  showStatus,
} from './feedback';
import { getState, send, setState } from './vscode-api';

type Problem = Pick<
  Extract<HostMessage, { type: 'generateError' }>,
  'message' | 'hint' | 'action' | 'endpoint' | 'largestFit'
>;

/** The areas of a run panel below its form, and what the form sets (`useEpsilon`, `setBusy`). */
export interface RunPanel {
  readonly budget: HTMLElement;
  /** Next to the action row: refusals, errors and statuses, without touching the results below. */
  readonly problem: HTMLElement;
  /** The plan on display: apart from the result, so previewing again leaves the last result in place. */
  readonly plan: HTMLElement;
  readonly output: HTMLElement;
  readonly progress: HTMLElement;
  readonly notice: HTMLElement;
  /** Sets the form's ε and asks for a new plan ("use the largest ε that fits"); set by runForm. */
  useEpsilon: (epsilon: number) => void;
  /** Disables Preview and Run and shows Cancel while a run is in flight; set by runForm. */
  setBusy: (busy: boolean) => void;
  /** A refusal or an error next to the Run button, focused; earlier results stay where they are. */
  showProblem(p: Problem): void;
  /** A plan message, drawn by `view`, in place of the last plan; the budget it was made against. */
  showPlan<M extends { budget: BudgetMessage }>(
    m: M,
    view: (m: M, useEpsilon: (epsilon: number) => void) => HTMLElement,
  ): void;
  /** A finished run's result in place of the plan, the status and the last result; the form is free again. */
  showResult(result: HTMLElement, budget: BudgetMessage): void;
  /** A run in flight replaces the plan, the earlier result and the "Reserving the budget…" status. */
  clearForRun(): void;
  /** The messages both panels handle alike (budget, notice, errors, Check Endpoint); false for the others. */
  handle(msg: HostMessage): boolean;
}

/** `problemTitle` heads the error box ("Cannot generate"). */
export function runPanel(problemTitle: string, budget: BudgetMessage): RunPanel {
  const panel: RunPanel = {
    budget: h('div', {}, budgetView(budget)),
    problem: problemArea(),
    plan: h('section', { class: 'plan-area', 'aria-live': 'polite' }),
    output: h('section', { class: 'output', 'aria-live': 'polite' }),
    progress: h('section', { class: 'run' }),
    notice: h('p', { class: 'muted notice' }),
    useEpsilon: () => undefined,
    setBusy: () => undefined,
    showProblem: (p) => showProblem(panel.problem, problemTitle, p, (x) => panel.useEpsilon(x)),
    showPlan: (m, view) => {
      panel.problem.replaceChildren();
      panel.plan.replaceChildren(view(m, (x) => panel.useEpsilon(x)));
      panel.budget.replaceChildren(budgetView(m.budget));
      // A refusal is what the user must read first: focus it; else bring the plan into view.
      const refusal = panel.plan.querySelector<HTMLElement>('.refusal');
      if (refusal) reveal(refusal);
      else panel.plan.scrollIntoView({ block: 'nearest' });
    },
    showResult: (result, b) => {
      panel.problem.replaceChildren();
      panel.plan.replaceChildren();
      panel.setBusy(false);
      panel.output.replaceChildren(result);
      panel.budget.replaceChildren(budgetView(b));
      panel.output.scrollIntoView({ block: 'start' });
    },
    clearForRun: () => {
      panel.output.replaceChildren();
      panel.plan.replaceChildren();
      panel.problem.replaceChildren();
    },
    handle: (msg) => {
      switch (msg.type) {
        case 'budget':
          panel.budget.replaceChildren(budgetView(msg.budget));
          return true;
        case 'notice':
          panel.notice.replaceChildren(msg.message);
          return true;
        case 'endpointCheck':
          showEndpointCheck(panel.problem, msg);
          return true;
        case 'generateError':
          panel.setBusy(false);
          panel.showProblem(msg);
          return true;
        default:
          return false;
      }
    },
  };
  return panel;
}

/**
 * The Preview, Run and Cancel buttons. Preview and Run read the form, `check` it (else the problem area says
 * "Every number must be positive." with `hint`), show a status and send `preview(s)` or `start(s)`; Run marks the
 * form busy (earlier results stay until the run actually starts: a refusal or an error then leaves them in place).
 * Sets the panel's `useEpsilon` (writes `epsilon`, saves, previews) and `setBusy`.
 */
export function runForm<S>(
  panel: RunPanel,
  o: {
    run: { id: string; text: string };
    read: () => S;
    check: (s: S) => boolean;
    hint: string;
    preview: (s: S) => WebviewMessage;
    start: (s: S) => WebviewMessage;
    epsilon: HTMLInputElement;
    offline: boolean;
    save: () => void;
  },
): { preview: HTMLElement; run: HTMLElement; cancel: HTMLElement; valid: (s: S) => boolean } {
  const preview = h('vscode-button', { id: 'preview', secondary: true }, 'Preview plan');
  const run = h('vscode-button', { id: o.run.id }, o.run.text);
  const cancel = h('vscode-button', { id: 'cancel', secondary: true, hidden: true }, 'Cancel');
  const valid = (s: S): boolean => {
    const ok = o.check(s);
    if (!ok) panel.showProblem({ message: 'Every number must be positive.', hint: o.hint });
    return ok;
  };
  preview.addEventListener('click', () => {
    const s = o.read();
    if (!valid(s)) return;
    showStatus(panel.problem, o.offline ? 'Planning…' : 'Checking the endpoint and planning…');
    send(o.preview(s));
  });
  run.addEventListener('click', () => {
    const s = o.read();
    if (!valid(s)) return;
    panel.setBusy(true);
    showStatus(panel.problem, 'Reserving the budget…');
    send(o.start(s));
  });
  cancel.addEventListener('click', () => send({ type: 'cancel' }));
  panel.useEpsilon = (x) => {
    o.epsilon.value = String(x);
    o.save();
    preview.click();
  };
  panel.setBusy = (busy) => {
    preview.toggleAttribute('disabled', busy);
    run.toggleAttribute('disabled', busy);
    cancel.toggleAttribute('hidden', !busy);
  };
  return { preview, run, cancel, valid };
}

/**
 * The form's settings as VS Code keeps them while the panel lives (hidden panels are reloaded), per dataset `file`;
 * `tag` tells the panels' states apart. The saved state is validated like a message before it is restored.
 */
export function savedSettings<S>(
  tag: Record<string, string>,
  file: string,
  schema: { safeParse(x: unknown): { success: boolean; data?: S } },
  read: () => S,
): { restored: S | undefined; save: () => void } {
  const saved = getState() as Record<string, unknown> | undefined;
  const ours = saved?.file === file && Object.entries(tag).every(([k, v]) => saved[k] === v);
  const parsed = ours ? schema.safeParse(saved.settings) : undefined;
  return {
    restored: parsed?.success ? parsed.data : undefined,
    save: () => {
      const s = read();
      if (schema.safeParse(s).success) setState({ ...tag, file, settings: s });
    },
  };
}

/**
 * A run panel's page: the title and model, the built-in model's notice, `note`, the budget, the labels (`form`
 * holds the picker and the fields), the action row, the problem area, the glossary and the areas below.
 */
export function runLayout(
  app: HTMLElement,
  panel: RunPanel,
  o: {
    icon: string;
    title: string;
    file: string;
    provider: string;
    offline: boolean;
    note?: HTMLElement;
    labels: number;
    form: HTMLElement[];
    actions: HTMLElement[];
    glossary: readonly (readonly [string, string])[];
  },
): void {
  app.replaceChildren(
    h('header', {}, h('h1', {}, h('vscode-icon', { name: o.icon }), ` ${o.title}: `, o.file)),
    h('p', { class: 'provider' }, o.provider),
    ...(o.offline
      ? [
          h(
            'p',
            { class: 'warning builtin-notice', role: 'note' },
            h('vscode-icon', { name: 'info' }),
            ' The built-in offline model is for trying the tool, not production quality. Choose a real model in the settings (Private Few-Shot › Provider).',
          ),
        ]
      : []),
    ...(o.note ? [o.note] : []),
    h('h2', {}, 'Privacy budget of this dataset'),
    h('div', { class: 'budget-row' }, panel.budget, setBudgetButton('set-budget')),
    h('vscode-divider', {}),
    h('h2', {}, `Labels (${o.labels})`),
    h(
      'p',
      { class: 'private-note' },
      h('vscode-icon', { name: 'lock' }),
      ' The labels you tick are treated as public: they appear in the prompts and the output.',
    ),
    ...o.form,
    h('div', { class: 'actions' }, ...o.actions),
    panel.problem,
    glossary(o.glossary),
    panel.notice,
    panel.plan,
    panel.output,
    panel.progress,
  );
}

/** What every plan carries besides its algorithm's figures. */
interface PlanFrame {
  budget: BudgetMessage;
  marginal?: number;
  epsilonRun: number;
  remainingAfter: number;
  fits: boolean;
  dataFlow?: DataFlowMessage;
  traffic?: TrafficMessage;
  endpointChecked?: boolean;
  warnings: readonly string[];
  refusal?: string;
  largestFit?: number;
}

/** A plan: the marginal cost and where data goes, the algorithm's figures (`body`), warnings, and the refusal. */
export function planSection(m: PlanFrame, useEpsilon: (epsilon: number) => void, ...body: Child[]): HTMLElement {
  return h(
    'section',
    { class: 'plan' },
    h('h2', {}, 'Plan (nothing spent or sent)'),
    marginalView(m),
    dataFlowView(m.dataFlow, m.traffic, m.endpointChecked),
    ...body,
    ...warningList(m.warnings),
    ...refusalView(m, useEpsilon),
  );
}

/**
 * A finished run: `title`, the host's message, what it used of the budget, its own ε (`privacy`), then the release
 * (what Copy, Insert and Export… carry: `released`) and last the local diagnostics, in their own labelled section.
 */
export function resultSection(
  m: { message?: string; budgetUsed: number; budget: BudgetMessage; localOnlyNotPrivate: LocalRunDiagnostics },
  title: string,
  privacy: HTMLElement,
  released: HTMLElement,
): HTMLElement {
  return h(
    'section',
    { class: 'result' },
    h('h2', {}, title),
    m.message ? h('p', { class: 'warning' }, m.message) : null,
    h(
      'p',
      { class: 'marginal-sentence', title: MARGINAL_EXPLAINER },
      'This run used ',
      exact('budget-used', m.budgetUsed),
      ` of the ${formatNumber(Math.max(0, m.budget.remaining + m.budgetUsed))} that was left; `,
      exact('remaining-now', Math.max(0, m.budget.remaining)),
      ` of ${formatNumber(m.budget.total)} remain.`,
    ),
    privacy,
    releaseActions(),
    released,
    localOnlyView(m.localOnlyNotPrivate),
  );
}
