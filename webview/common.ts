// Pieces the panels share: figures, the budget, tables, warnings, the release's actions and list, the local
// diagnostics. The form inputs are in form.ts. Text only (see dom.ts).
import { formatNumber } from '../src/shared/format';
import {
  INSERT_FORMATS,
  type BudgetMessage,
  type InsertFormat,
  type LocalRunDiagnostics,
} from '../src/shared/protocol';
import { h, type Child } from './dom';
import { send } from './vscode-api';

/** An exact figure behind a rounded one: `data-value` keeps the full number (tests and the title read it). */
export function exact(id: string, x: number, text = formatNumber(x)): HTMLElement {
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
  const stat = (id: string, value: number, label: string) =>
    h(
      'div',
      { class: 'stat' },
      h('div', { class: 'stat-value', 'data-testid': id, 'data-value': String(value) }, formatNumber(value)),
      h('div', { class: 'stat-label' }, label),
    );
  return h(
    'div',
    { class: 'stats budget' },
    stat('budget-total', b.total, 'total ε'),
    stat('budget-spent', b.spent, 'spent'),
    stat('budget-remaining', Math.max(0, b.remaining), 'remaining'),
  );
}

/** A themed table: one header cell per column (its title and width), one row per entry; `class` styles the cells. */
export function dataTable(
  columns: readonly { title: string; width: string; class?: string }[],
  rows: readonly (readonly Child[])[],
): HTMLElement {
  return h(
    'vscode-table',
    { zebra: true, 'bordered-columns': true, columns: JSON.stringify(columns.map((c) => c.width)) },
    h('vscode-table-header', { slot: 'header' }, ...columns.map((c) => h('vscode-table-header-cell', {}, c.title))),
    h(
      'vscode-table-body',
      { slot: 'body' },
      ...rows.map((r) =>
        h(
          'vscode-table-row',
          {},
          ...r.map((cell, i) => {
            const cls = columns[i]?.class;
            return h('vscode-table-cell', cls ? { class: cls } : {}, cell);
          }),
        ),
      ),
    ),
  );
}

/** One warning paragraph each (dataset summary, plans). */
export function warningList(warnings: readonly string[]): HTMLElement[] {
  return warnings.map((w) => h('p', { class: 'warning' }, h('vscode-icon', { name: 'warning' }), ' ', w));
}

/** A whole number for the progress and local figures, with `data-testid`. */
export function countFigure(id: string, x: number): HTMLElement {
  return h('strong', { 'data-testid': id }, x.toLocaleString('en-US'));
}

/** " · 1,200 prompt and 300 completion tokens", or nothing before any token is counted (local only, not private). */
export function tokensText(input: number, output: number): string {
  return input || output
    ? ` · ${input.toLocaleString('en-US')} prompt and ${output.toLocaleString('en-US')} completion tokens`
    : '';
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
