// Feedback both run panels (Generate, Synthesize) show next to their Run button: refusals and errors (with the endpoint
// buttons and "use the largest ε that fits"), the result of Check Endpoint, the marginal-cost sentence and where the
// data goes. Text only (see dom.ts).
import type { BudgetMessage, DataFlowMessage, HostMessage, TrafficMessage } from '../src/shared/protocol';
import { setBudgetButton } from './common';
import { formatNumber } from '../src/shared/format';
import { h } from './dom';
import { send } from './vscode-api';

type ErrorMessage = Extract<HostMessage, { type: 'generateError' }>;

/** Why composing a run with the earlier ones costs a different ε than the run alone (the tooltip and explainer). */
export const MARGINAL_EXPLAINER =
  'The ledger adds runs up with Rényi differential privacy (the budget filter of Feldman & Zrnic 2021; docs/PRIVACY.md): ' +
  "it sums the runs' Rényi divergence curves and converts the sum to ε once, instead of adding ε's. That conversion " +
  "is not linear, so composing a run with what was already spent often costs less than the run's stand-alone ε; it " +
  'can also cost a little more, as the filter pays a small correction for runs chosen one after another. The figure ' +
  'shown is exactly what this run would add to the spent budget. A preview reserves nothing.';

/** The area under the action row where refusals, errors and the Check Endpoint answer appear. */
export function problemArea(): HTMLElement {
  return h('div', { class: 'problem-area', 'data-testid': 'problem-area', 'aria-live': 'assertive' });
}

/** Brings `el` into view and moves the keyboard focus to it (screen readers read it; Tab continues from there). */
export function reveal(el: HTMLElement | null | undefined): void {
  if (!el) return;
  el.scrollIntoView({ block: 'nearest' });
  el.focus({ preventScroll: true });
}

/** Open Settings, Check Endpoint and Use the Built-in Model: for errors a change of endpoint, key or model can fix. */
export function endpointButtons(): HTMLElement {
  const button = (
    id: string,
    icon: string,
    label: string,
    type: 'openSettings' | 'checkEndpoint' | 'useBuiltinModel',
  ) =>
    h(
      'vscode-button',
      { id, secondary: true, onclick: () => send({ type }) },
      h('vscode-icon', { name: icon, slot: 'content-before' }),
      label,
    );
  return h(
    'div',
    { class: 'actions endpoint-actions' },
    button('open-settings', 'settings-gear', 'Open Settings', 'openSettings'),
    button('check-endpoint', 'plug', 'Check Endpoint', 'checkEndpoint'),
    button('use-builtin', 'vm', 'Use the Built-in Model', 'useBuiltinModel'),
  );
}

/** "Use ε 0.38 (the largest that fits)": sets the form's ε and asks for a new plan. */
export function largestFitButton(id: string, epsilon: number, use: (epsilon: number) => void): HTMLElement {
  return h(
    'vscode-button',
    { id, 'data-epsilon': String(epsilon), onclick: () => use(epsilon) },
    h('vscode-icon', { name: 'check', slot: 'content-before' }),
    `Use ε ${formatNumber(epsilon)} (the largest that fits)`,
  );
}

/**
 * A plan's refusal, read first (it is focused): "Refused: …", then "Use ε … (the largest that fits)" when the ledger
 * admits a smaller run, and Set Privacy Budget…. Nothing when the plan fits.
 */
export function refusalView(
  m: { refusal?: string; largestFit?: number },
  useEpsilon: (epsilon: number) => void,
): HTMLElement[] {
  if (!m.refusal) return [];
  return [
    h(
      'p',
      { class: 'error refusal', role: 'alert', tabindex: '-1' },
      h('vscode-icon', { name: 'error' }),
      ' Refused: ',
      m.refusal,
    ),
    h(
      'div',
      { class: 'actions' },
      m.largestFit !== undefined ? largestFitButton('refusal-largest-fit', m.largestFit, useEpsilon) : null,
      setBudgetButton('refusal-set-budget'),
    ),
  ];
}

/**
 * Shows a refusal or an error in `area`, next to the Run button, scrolled into view and focused; earlier results
 * stay where they are.
 */
export function showProblem(
  area: HTMLElement | undefined,
  title: string,
  m: Pick<ErrorMessage, 'message' | 'hint' | 'action' | 'endpoint' | 'largestFit'>,
  useEpsilon: (epsilon: number) => void,
): void {
  if (!area) return;
  const box = h(
    'section',
    { class: 'error', role: 'alert', tabindex: '-1', 'data-testid': 'problem' },
    h('h2', {}, h('vscode-icon', { name: 'error' }), ` ${title}`),
    h('p', { class: 'message' }, m.message),
    m.hint ? h('p', { class: 'hint' }, m.hint) : null,
    m.largestFit !== undefined || m.action === 'setBudget'
      ? h(
          'div',
          { class: 'actions' },
          m.largestFit !== undefined ? largestFitButton('error-largest-fit', m.largestFit, useEpsilon) : null,
          m.action === 'setBudget' ? setBudgetButton('error-set-budget') : null,
        )
      : null,
    m.endpoint ? endpointButtons() : null,
    m.endpoint ? h('p', { class: 'endpoint-check muted', 'data-testid': 'endpoint-check', role: 'status' }) : null,
  );
  area.replaceChildren(box);
  reveal(box);
}

/** A short status next to the Run button ("Reserving the budget…", "Checking the endpoint…"). */
export function showStatus(area: HTMLElement | undefined, text: string): void {
  area?.replaceChildren(
    h('p', { class: 'muted', role: 'status' }, h('vscode-icon', { name: 'loading', spin: true }), ` ${text}`),
  );
}

/** The answer of Check Endpoint: in the error box when there is one, else on its own next to the button. */
export function showEndpointCheck(
  area: HTMLElement | undefined,
  m: Extract<HostMessage, { type: 'endpointCheck' }>,
): void {
  if (!area) return;
  const line = h(
    'span',
    { class: m.ok ? 'ok' : 'error-text' },
    h('vscode-icon', { name: m.ok ? 'pass' : 'error' }),
    ` ${m.message}`,
    m.hint ? ` ${m.hint}` : '',
  );
  let slot = area.querySelector<HTMLElement>('[data-testid=endpoint-check]');
  if (!slot) {
    slot = h('p', { class: 'endpoint-check', 'data-testid': 'endpoint-check', role: 'status', tabindex: '-1' });
    area.replaceChildren(slot);
  }
  slot.replaceChildren(line);
  reveal(slot);
}

/**
 * The plan's budget sentence, leading with the marginal cost: "This run uses 0.38 of the 0.52 left (its stand-alone
 * ε is 1; why the difference?)". The explanation is both a tooltip and an expandable paragraph (keyboard and touch).
 */
export function marginalView(m: {
  budget: BudgetMessage;
  marginal?: number;
  epsilonRun: number;
  remainingAfter: number;
  fits: boolean;
}): HTMLElement {
  const left = Math.max(0, m.budget.remaining);
  const marginal = m.marginal ?? m.budget.remaining - m.remainingAfter;
  return h(
    'div',
    { class: 'marginal', 'data-testid': 'marginal' },
    h(
      'p',
      { class: 'marginal-sentence', title: MARGINAL_EXPLAINER },
      m.fits ? 'This run uses ' : 'This run would need ',
      h('strong', { 'data-testid': 'marginal-cost' }, formatNumber(marginal)),
      ' of the ',
      h('strong', { 'data-testid': 'budget-left' }, formatNumber(left)),
      ' left',
      m.fits ? `; ${formatNumber(Math.max(0, m.remainingAfter))} would remain.` : '.',
      ` Its stand-alone ε is ${formatNumber(m.epsilonRun)}. A preview reserves nothing.`,
    ),
    h(
      'details',
      { class: 'explainer' },
      h('summary', {}, 'Why is this not the run’s ε?'),
      h('p', { class: 'muted' }, MARGINAL_EXPLAINER),
    ),
  );
}

/** Where the data goes and the estimated traffic, before anything is sent. */
export function dataFlowView(
  flow: DataFlowMessage | undefined,
  traffic: TrafficMessage | undefined,
  checked?: boolean,
): HTMLElement | null {
  if (!flow) return null;
  const n = (x: number) => x.toLocaleString('en-US');
  return h(
    'div',
    { class: 'data-flow', 'data-testid': 'data-flow' },
    h(
      'p',
      { class: flow.offline ? 'private-note' : 'warning' },
      h('vscode-icon', { name: flow.offline ? 'lock' : 'cloud-upload' }),
      ' ',
      h('span', { 'data-testid': 'data-flow-sentence' }, flow.sentence),
      flow.endpoint ? ' Endpoint: ' : null,
      flow.endpoint ? h('code', { 'data-testid': 'data-flow-endpoint' }, flow.endpoint) : null,
      checked ? ' (it answered the capability probe).' : '',
    ),
    traffic
      ? h(
          'p',
          { class: 'traffic', 'data-testid': 'traffic' },
          'Estimate: at most ',
          h('strong', { 'data-testid': 'traffic-calls' }, n(traffic.calls)),
          ' model calls and ',
          n(traffic.completionTokens),
          ' completion tokens (from the run’s parameters). Local estimate, not private (from your texts’ mean length): about ',
          n(traffic.promptTokens),
          ' prompt tokens',
          traffic.cost !== undefined ? `, about $${traffic.cost.toFixed(2)}` : ', cost unknown for this model',
          '.',
        )
      : null,
  );
}
