// Pieces both run panels (Generate, Synthesize) use. Text only (see dom.ts).
import type { BudgetMessage, LocalRunDiagnostics } from '../src/shared/protocol';
import { h } from './dom';
import { send } from './vscode-api';
import { formatEpsilon } from '../src/shared/format';

/** 4 significant digits, trailing zeros dropped (src/shared/format.ts, the one number format). */
export const f = formatEpsilon;

/** A button that opens "Set Privacy Budget…" for this dataset (the host asks for the value and confirms). */
export function setBudgetButton(id: string, secondary = true): HTMLElement {
  return h(
    'vscode-button',
    { id, secondary, onclick: () => send({ type: 'setBudget' }) },
    h('vscode-icon', { name: 'shield', slot: 'content-before' }),
    'Set Privacy Budget…',
  );
}

export function budgetView(b: BudgetMessage): HTMLElement {
  return h(
    'div',
    { class: 'stats budget' },
    h(
      'div',
      { class: 'stat' },
      h('div', { class: 'stat-value', 'data-testid': 'budget-total' }, f(b.total)),
      h('div', { class: 'stat-label' }, 'total ε'),
    ),
    h(
      'div',
      { class: 'stat' },
      h('div', { class: 'stat-value', 'data-testid': 'budget-spent' }, f(b.spent)),
      h('div', { class: 'stat-label' }, 'spent'),
    ),
    h(
      'div',
      { class: 'stat' },
      h('div', { class: 'stat-value', 'data-testid': 'budget-remaining' }, f(Math.max(0, b.remaining))),
      h('div', { class: 'stat-label' }, 'remaining'),
    ),
  );
}

export function numberField(
  id: string,
  label: string,
  value: number,
  attrs: Record<string, string>,
): { el: HTMLElement; input: HTMLInputElement } {
  const input = h('input', { id, type: 'number', value: String(value), required: true, ...attrs }) as HTMLInputElement;
  return { el: h('label', { class: 'field', for: id }, h('span', {}, label), input), input };
}

/**
 * The label checkboxes with the "Use all labels" acknowledgement: "Select all" stays disabled until the label set is
 * explicitly accepted as public; ticking it selects (and locks) every label, and withdrawing it withdraws that
 * selection too.
 */
export function labelPicker(labels: readonly string[]): {
  all: HTMLInputElement;
  selectAll: HTMLElement;
  boxes: HTMLInputElement[];
  /** The acknowledgement, the "Select all" row and the boxes, in display order. */
  elements: HTMLElement[];
  read: () => { labels: string[]; allLabels: boolean };
  restore: (s: { labels: readonly string[]; allLabels: boolean }) => void;
} {
  const boxes = labels.map((label) => h('input', { type: 'checkbox', value: label }) as HTMLInputElement);
  const all = h('input', { type: 'checkbox', id: 'all-labels' }) as HTMLInputElement;
  const selectAll = h('vscode-button', { id: 'select-all', secondary: true, disabled: true }, 'Select all');
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
  return {
    all,
    selectAll,
    boxes,
    elements: [
      h(
        'label',
        { class: 'check ack' },
        all,
        ' Use all labels in the file (I accept that the label set becomes public)',
      ),
      h('div', { class: 'actions' }, selectAll),
      h(
        'div',
        { class: 'labels' },
        ...boxes.map((b) => h('label', { class: 'label-option', title: b.value }, b, ' ', b.value)),
      ),
    ],
    read: () => ({ labels: boxes.filter((b) => b.checked).map((b) => b.value), allLabels: all.checked }),
    restore: (s) => {
      all.checked = s.allLabels;
      selectAll.toggleAttribute('disabled', !s.allLabels);
      for (const b of boxes) {
        b.checked = s.allLabels || s.labels.includes(b.value);
        b.disabled = s.allLabels;
      }
    },
  };
}

/**
 * A run's local diagnostics (calls, tokens, cost, duration, journal): computed from the private data without noise,
 * so they are shown here, labelled, and never exported (Copy, Insert and Export… carry the release only).
 */
export function localOnlyView(d: LocalRunDiagnostics): HTMLElement {
  const n = (x: number) => x.toLocaleString('en-US');
  return h(
    'section',
    { class: 'local-only', 'data-testid': 'local-only', 'aria-label': 'Local only, not private' },
    h('h3', {}, h('vscode-icon', { name: 'eye-closed' }), ' Local only, not private'),
    h(
      'p',
      { class: 'muted' },
      'Computed from the private data without noise: stays on this machine, and is not in Copy, Insert or Export….',
    ),
    h(
      'p',
      { class: 'local-figures' },
      h('strong', { 'data-testid': 'local-calls' }, n(d.calls)),
      ' model calls · ',
      `${n(d.inputTokens)} prompt and ${n(d.outputTokens)} completion tokens · cost $`,
      h('span', { 'data-testid': 'local-cost' }, d.cost.toFixed(4)),
      ` · ${(d.durationMs / 1000).toFixed(1)} s · journal `,
      h('code', {}, d.journal),
    ),
  );
}

/** Insert at cursor, Export… and Copy of a run's release (the host renders the release for each). */
export function releaseActions(): HTMLElement {
  const button = (id: 'insert' | 'export' | 'copy', icon: string, label: string, secondary: boolean) =>
    h(
      'vscode-button',
      { id, ...(secondary ? { secondary: true } : {}), onclick: () => send({ type: id }) },
      h('vscode-icon', { name: icon, slot: 'content-before' }),
      label,
    );
  return h(
    'div',
    { class: 'actions' },
    button('insert', 'insert', 'Insert at cursor', false),
    button('export', 'save', 'Export…', true),
    button('copy', 'copy', 'Copy', true),
  );
}

/** The released texts as a list: `item` names the class of each entry and the prefix of its parts. */
export function releasedTexts(
  list: string,
  item: string,
  texts: readonly { label: string; text: string }[],
): HTMLElement {
  return h(
    'ol',
    { class: list },
    ...texts.map((x) =>
      h(
        'li',
        { class: item },
        h('div', { class: `${item}-label` }, x.label),
        h('div', { class: `${item}-text` }, x.text),
      ),
    ),
  );
}
