// Pieces both run panels (Generate, Synthesize) use. Text only (see dom.ts).
import { formatNumber } from '../src/shared/format';
import type { Preset } from '../src/shared/presets';
import {
  INSERT_FORMATS,
  type BudgetMessage,
  type InsertFormat,
  type LocalRunDiagnostics,
} from '../src/shared/protocol';
import { h } from './dom';
import { send } from './vscode-api';

/** The panels' one number format (src/shared/format.ts): 0.52, 1.48, 24.08; 0.0062 below 0.1. */
export const f = formatNumber;

/** An exact figure behind a rounded one: `data-value` keeps the full number (tests and the title read it). */
export function exact(id: string, x: number, text = f(x)): HTMLElement {
  return h('strong', { 'data-testid': id, 'data-value': String(x), title: String(x) }, text);
}

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
      h('div', { class: 'stat-value', 'data-testid': 'budget-total', 'data-value': String(b.total) }, f(b.total)),
      h('div', { class: 'stat-label' }, 'total ε'),
    ),
    h(
      'div',
      { class: 'stat' },
      h('div', { class: 'stat-value', 'data-testid': 'budget-spent', 'data-value': String(b.spent) }, f(b.spent)),
      h('div', { class: 'stat-label' }, 'spent'),
    ),
    h(
      'div',
      { class: 'stat' },
      h(
        'div',
        { class: 'stat-value', 'data-testid': 'budget-remaining', 'data-value': String(Math.max(0, b.remaining)) },
        f(Math.max(0, b.remaining)),
      ),
      h('div', { class: 'stat-label' }, 'remaining'),
    ),
  );
}

/**
 * A number field with its explanation in plain words: the tooltip of the label and the input, and the input's
 * accessible description (read by screen readers after the name).
 */
export function numberField(
  id: string,
  label: string,
  value: number,
  attrs: Record<string, string>,
  help?: string,
): { el: HTMLElement; input: HTMLInputElement } {
  const input = h('input', {
    id,
    type: 'number',
    value: String(value),
    required: true,
    ...attrs,
    ...(help ? { title: help, 'aria-description': help } : {}),
  }) as HTMLInputElement;
  return {
    el: h(
      'label',
      { class: 'field', for: id, ...(help ? { title: help } : {}) },
      h(
        'span',
        { class: 'field-name' },
        label,
        help ? h('vscode-icon', { name: 'info', class: 'field-help', 'aria-hidden': 'true' }) : null,
      ),
      input,
    ),
    input,
  };
}

/** "Start from:" and one button per preset; `apply` sets the form's fields. */
export function presetRow<V>(presets: readonly Preset<V>[], apply: (p: Preset<V>) => void): HTMLElement {
  return h(
    'div',
    { class: 'actions presets', role: 'group', 'aria-label': 'Presets' },
    h('span', { class: 'muted' }, 'Start from:'),
    ...presets.map((p) =>
      h(
        'vscode-button',
        { id: `preset-${p.name}`, secondary: true, title: p.summary, onclick: () => apply(p) },
        p.title,
      ),
    ),
  );
}

/** "What do these mean?": every parameter and figure of the form and its plan, in plain words. */
export function glossary(entries: readonly (readonly [string, string])[]): HTMLElement {
  return h(
    'details',
    { class: 'glossary' },
    h('summary', {}, 'What do these mean?'),
    h('dl', { class: 'columns' }, ...entries.flatMap(([term, text]) => [h('dt', {}, term), h('dd', {}, text)])),
  );
}

/**
 * The label checkboxes with the "Use all labels" acknowledgement: "Select all" stays disabled until the label set is
 * explicitly accepted as public; ticking it selects (and locks) every label, and withdrawing it withdraws that
 * selection too. A filter narrows the list shown (ticked labels stay ticked when hidden) and a live count says how
 * many are selected.
 */
export function labelPicker(labels: readonly string[]): {
  all: HTMLInputElement;
  selectAll: HTMLElement;
  boxes: HTMLInputElement[];
  filter: HTMLInputElement;
  /** The acknowledgement, the "Select all" row and the boxes, in display order. */
  elements: HTMLElement[];
  read: () => { labels: string[]; allLabels: boolean };
  restore: (s: { labels: readonly string[]; allLabels: boolean }) => void;
  /** Called after every change of the selection (the count is updated first). */
  onChange: (listener: () => void) => void;
} {
  const boxes = labels.map((label) => h('input', { type: 'checkbox', value: label }) as HTMLInputElement);
  const options = boxes.map((b) => h('label', { class: 'label-option', title: b.value }, b, ' ', b.value));
  const all = h('input', { type: 'checkbox', id: 'all-labels' }) as HTMLInputElement;
  const selectAll = h('vscode-button', { id: 'select-all', secondary: true, disabled: true }, 'Select all');
  const clear = h('vscode-button', { id: 'clear-labels', secondary: true }, 'Clear');
  const filter = h('input', {
    id: 'label-filter',
    type: 'search',
    placeholder: 'Filter labels',
    'aria-label': 'Filter labels',
    'aria-controls': 'label-list',
  }) as HTMLInputElement;
  const count = h('span', { id: 'label-count', class: 'label-count', role: 'status', 'aria-live': 'polite' });
  const listeners: (() => void)[] = [];
  const changed = () => {
    const n = boxes.filter((b) => b.checked).length;
    const shown = options.filter((o) => !o.hidden).length;
    count.textContent = `${n} of ${labels.length} selected` + (shown < labels.length ? ` · ${shown} shown` : '');
    for (const l of listeners) l();
  };
  filter.addEventListener('input', () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    options.forEach((o, i) => {
      const name = labels[i]!.toLowerCase();
      o.hidden = !words.every((w) => name.includes(w));
    });
    changed();
  });
  all.addEventListener('change', () => {
    selectAll.toggleAttribute('disabled', !all.checked);
    clear.toggleAttribute('disabled', all.checked);
    // Ticking selects every label; withdrawing the acknowledgement withdraws that selection too.
    for (const b of boxes) {
      b.checked = all.checked;
      b.disabled = all.checked;
    }
    changed();
  });
  selectAll.addEventListener('click', () => {
    if (!all.checked) return;
    for (const b of boxes) b.checked = true;
    changed();
  });
  clear.addEventListener('click', () => {
    if (all.checked) return;
    for (const b of boxes) b.checked = false;
    changed();
  });
  for (const b of boxes) b.addEventListener('change', changed);
  changed();
  return {
    all,
    selectAll,
    boxes,
    filter,
    elements: [
      h(
        'label',
        { class: 'check ack' },
        all,
        ' Use all labels in the file (I accept that the label set becomes public)',
      ),
      h('div', { class: 'actions label-tools' }, filter, selectAll, clear, count),
      h('div', { class: 'labels', id: 'label-list' }, ...options),
    ],
    read: () => ({ labels: boxes.filter((b) => b.checked).map((b) => b.value), allLabels: all.checked }),
    restore: (s) => {
      all.checked = s.allLabels;
      selectAll.toggleAttribute('disabled', !s.allLabels);
      clear.toggleAttribute('disabled', s.allLabels);
      for (const b of boxes) {
        b.checked = s.allLabels || s.labels.includes(b.value);
        b.disabled = s.allLabels;
      }
      changed();
    },
    onChange: (l) => listeners.push(l),
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

const FORMAT_NAMES: Record<InsertFormat, string> = {
  auto: 'As suits the file',
  text: 'Text (Text: … / Label: …)',
  json: 'JSON',
  jsonl: 'JSON Lines',
  chat: 'Chat messages (OpenAI)',
  markdown: 'Markdown list',
};

/** The format Insert and Copy use, chosen once per panel (kept across results). */
let insertFormat: InsertFormat = 'auto';

/** Insert at cursor, Export… and Copy of a run's release, with the format of Insert and Copy. */
export function releaseActions(): HTMLElement {
  const button = (id: 'insert' | 'export' | 'copy', icon: string, label: string, secondary: boolean) =>
    h(
      'vscode-button',
      {
        id,
        ...(secondary ? { secondary: true } : {}),
        onclick: () => send(id === 'export' ? { type: id } : { type: id, format: insertFormat }),
      },
      h('vscode-icon', { name: icon, slot: 'content-before' }),
      label,
    );
  const select = h(
    'select',
    { id: 'insert-format', 'aria-label': 'Format of Insert and Copy', title: 'Format of Insert and Copy' },
    ...INSERT_FORMATS.map((x) =>
      h('option', { value: x, ...(x === insertFormat ? { selected: true } : {}) }, FORMAT_NAMES[x]),
    ),
  ) as HTMLSelectElement;
  select.addEventListener('change', () => {
    insertFormat = select.value as InsertFormat;
  });
  return h(
    'div',
    { class: 'actions release-actions' },
    button('insert', 'insert', 'Insert at cursor', false),
    button('export', 'save', 'Export…', true),
    button('copy', 'copy', 'Copy', true),
    h('label', { class: 'inline-field', for: 'insert-format' }, h('span', {}, 'Format'), select),
  );
}

/**
 * The released texts as a list, each with its own Copy and Insert: `item` names the class of each entry and the
 * prefix of its parts.
 */
export function releasedTexts(
  list: string,
  item: string,
  texts: readonly { label: string; text: string }[],
): HTMLElement {
  const itemButton = (type: 'copyItem' | 'insertItem', index: number, icon: string, label: string) =>
    h(
      'vscode-button',
      {
        class: 'item-action',
        secondary: true,
        'aria-label': `${label} item ${index + 1}`,
        title: `${label} this one`,
        onclick: () => send({ type, index, format: insertFormat }),
      },
      h('vscode-icon', { name: icon, slot: 'content-before' }),
      label,
    );
  return h(
    'ol',
    { class: list },
    ...texts.map((x, i) =>
      h(
        'li',
        { class: item },
        h(
          'div',
          { class: `${item}-head` },
          h('div', { class: `${item}-label` }, x.label),
          h(
            'div',
            { class: 'item-actions' },
            itemButton('copyItem', i, 'copy', 'Copy'),
            itemButton('insertItem', i, 'insert', 'Insert'),
          ),
        ),
        h('div', { class: `${item}-text` }, x.text),
      ),
    ),
  );
}
