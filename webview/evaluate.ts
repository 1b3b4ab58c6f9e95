// The Evaluate panel: accuracy per condition with its 95% Wilson interval as an SVG chart, themed with VS Code's
// CSS variables (styles.css), plus the same numbers as a table. Every number is local only, not private.
import type { EvaluateCondition, HostMessage } from '../src/shared/protocol';
import { h, type Child } from './dom';

const SVG = 'http://www.w3.org/2000/svg';

function s(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

const pct = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(1)}%`);

/** Horizontal bars (accuracy) with interval whiskers, one row per condition, on a 0–100% axis. */
export function accuracyChart(conditions: EvaluateCondition[]): SVGElement {
  const labelWidth = 260;
  const plot = 360;
  const rowH = 34;
  const top = 10;
  const height = top + conditions.length * rowH + 28;
  const svg = s('svg', {
    class: 'eval-chart',
    viewBox: `0 0 ${labelWidth + plot + 20} ${height}`,
    role: 'img',
    'aria-label': 'Accuracy per condition with 95% Wilson intervals',
  });
  const x = (v: number) => labelWidth + v * plot;
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(s('line', { class: 'eval-grid', x1: x(t), x2: x(t), y1: top - 4, y2: height - 22 }));
    svg.append(s('text', { class: 'eval-tick', x: x(t), y: height - 8, 'text-anchor': 'middle' }, `${t * 100}%`));
  }
  conditions.forEach((c, i) => {
    const y = top + i * rowH;
    const g = s('g', { class: `eval-row eval-${c.kind}` });
    g.append(s('text', { class: 'eval-label', x: labelWidth - 8, y: y + rowH / 2 + 4, 'text-anchor': 'end' }, c.name));
    const acc = c.accuracy ?? 0;
    g.append(s('rect', { class: 'eval-bar', x: x(0), y: y + 6, width: Math.max(0, acc * plot), height: rowH - 12 }));
    const mid = y + rowH / 2;
    g.append(s('line', { class: 'eval-ci', x1: x(c.low), x2: x(c.high), y1: mid, y2: mid }));
    for (const v of [c.low, c.high])
      g.append(s('line', { class: 'eval-ci', x1: x(v), x2: x(v), y1: mid - 6, y2: mid + 6 }));
    const title = s('title', {}, `${c.name}: ${pct(c.accuracy)} [${pct(c.low)}, ${pct(c.high)}] of ${c.n} rows`);
    g.append(title);
    svg.append(g);
  });
  return svg;
}

/** A plain table: the first column is text, the others numbers (right-aligned). */
function numberTable(cls: string, headers: readonly Child[], rows: readonly (readonly Child[])[]): HTMLElement {
  const cell = (tag: 'th' | 'td', x: Child, i: number) => h(tag, tag === 'td' && i > 0 ? { class: 'num' } : {}, x);
  return h(
    'table',
    { class: cls },
    h('thead', {}, h('tr', {}, ...headers.map((x, i) => cell('th', x, i)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((x, i) => cell('td', x, i))))),
  );
}

function table(conditions: EvaluateCondition[]): HTMLElement {
  return numberTable(
    'eval-table',
    ['Condition', 'Accuracy', '95% CI (Wilson)', 'Rows', 'Unanswered'],
    conditions.map((c) => [c.name, pct(c.accuracy), `${pct(c.low)} – ${pct(c.high)}`, c.n, c.unanswered]),
  );
}

function perLabel(conditions: EvaluateCondition[]): HTMLElement {
  const labels = conditions[0]?.perLabel.map((l) => l.label) ?? [];
  return numberTable(
    'eval-table eval-per-label',
    [
      'Label',
      ...conditions.map((c) =>
        c.kind === 'dp' && c.epsilon !== null ? `dp ε=${Number(c.epsilon.toPrecision(3))}` : c.kind,
      ),
      'Rows',
    ],
    labels.map((l, i) => [
      l,
      ...conditions.map((c) => pct(c.perLabel[i]?.accuracy ?? null)),
      conditions[0]!.perLabel[i]!.n,
    ]),
  );
}

export function renderEvaluate(app: HTMLElement, msg: HostMessage): void {
  if (msg.type === 'evaluatePlan') {
    app.replaceChildren(
      h(
        'section',
        { class: 'evaluate' },
        h('h2', {}, `Evaluate: ${msg.file}`),
        h('p', { class: 'muted' }, `Demonstrations: ${msg.demos}`),
        h('div', { class: 'local-only eval-plan' }, ...msg.lines.map((l) => h('p', {}, l))),
        h(
          'p',
          { class: 'muted' },
          h('vscode-icon', { name: 'loading', spin: true }),
          ' Classifying the held-out rows…',
        ),
      ),
    );
    return;
  }
  if (msg.type !== 'evaluateResult') return;
  app.replaceChildren(
    h(
      'section',
      { class: 'evaluate' },
      h('h2', {}, `Evaluate: ${msg.file}`),
      h('p', { class: 'muted' }, `Demonstrations: ${msg.demos}`),
      h(
        'div',
        { class: 'local-only', role: 'note' },
        h('h3', {}, 'Local only, not private'),
        h('p', {}, `${msg.note.replace(/^local only, not private: /, '').replace(/^./, (c) => c.toUpperCase())}.`),
        h(
          'p',
          {},
          `Model ${msg.model.kind}/${msg.model.model}${msg.model.offline ? ' (built-in offline model: low accuracy expected)' : ''}; scoring by ${msg.mode}; ${msg.rowsEvaluated} of ${msg.rowsPlanned} held-out rows; ${msg.calls} calls${msg.stoppedAtCap ? ' (stopped at the call cap)' : ''}.`,
        ),
      ),
      accuracyChart(msg.conditions),
      table(msg.conditions),
      perLabel(msg.conditions),
    ),
  );
}
