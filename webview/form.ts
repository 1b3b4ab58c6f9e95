// The run forms' inputs (Generate, Synthesize): number fields with their help, the presets row, the label picker
// and the helpers that fill, read and watch them. Text only (see dom.ts).
import type { Preset } from '../src/shared/presets';
import { h } from './dom';
import type { FieldSpec } from './explain';

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

/** A run form's number field (explain.ts FIELDS); `read` rounds the whole-number ones (step 1). */
export interface RunField {
  el: HTMLElement;
  input: HTMLInputElement;
  read: () => number;
}

export function runField(spec: FieldSpec, value: number): RunField {
  const { el, input } = numberField(spec.id, spec.label, value, spec.attrs, spec.help);
  const whole = spec.attrs.step === '1';
  return { el, input, read: () => (whole ? Math.round(input.valueAsNumber) : input.valueAsNumber) };
}

/** Writes `values` into the fields of the same names (a preset, or the form restored after a reload). */
export function fillFields<K extends string>(fields: Record<K, RunField>, values: NoInfer<Record<K, number>>): void {
  for (const k of Object.keys(fields) as K[]) fields[k].input.value = String(values[k]);
}

/** The fields' values by name. */
export function readFields<K extends string>(fields: Record<K, RunField>): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of Object.keys(fields) as K[]) out[k] = fields[k].read();
  return out;
}

/** Calls `listener` on every change of any of `els` (typing, ticking, clicking). */
export function onEdit(els: readonly HTMLElement[], listener: () => void): void {
  for (const el of els) for (const ev of ['change', 'input', 'click']) el.addEventListener(ev, listener);
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
