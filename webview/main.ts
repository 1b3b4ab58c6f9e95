// The browser UI. It imports only src/shared (the protocol), browser libraries and its own files.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-divider/index.js';
import '@vscode-elements/elements/dist/vscode-icon/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-table/index.js';
import '@vscode-elements/elements/dist/vscode-table-header/index.js';
import '@vscode-elements/elements/dist/vscode-table-header-cell/index.js';
import '@vscode-elements/elements/dist/vscode-table-body/index.js';
import '@vscode-elements/elements/dist/vscode-table-row/index.js';
import '@vscode-elements/elements/dist/vscode-table-cell/index.js';
import './styles.css';
import { formatNumber } from '../src/shared/format';
import type { DatasetSummaryMessage, HostMessage } from '../src/shared/protocol';
import { dataTable, warningList } from './common';
import { h } from './dom';
import { renderGenerate } from './generate';
import { renderSynth } from './synth';
import { renderEvaluate } from './evaluate';
import { onMessage, send } from './vscode-api';

const app = document.getElementById('app')!;
/** Which view this webview shows, as the host wrote it into the HTML (html.ts): it receives the messages both run
 * views share (budget, notice, errors) even before its init message. */
const view = document.body.dataset.panel === 'synth' ? 'synth' : 'generate';

function render(msg: HostMessage): void {
  switch (msg.type) {
    case 'loading':
      app.replaceChildren(
        h('p', { class: 'muted' }, h('vscode-icon', { name: 'loading', spin: true }), ` Loading ${msg.file}…`),
      );
      break;
    case 'error':
      app.replaceChildren(
        h(
          'section',
          { class: 'error', role: 'alert' },
          h('h2', {}, h('vscode-icon', { name: 'error' }), ' Could not load the dataset'),
          h('p', { class: 'message' }, msg.message),
          msg.hint ? h('p', { class: 'hint' }, msg.hint) : null,
          h(
            'div',
            { class: 'actions' },
            msg.line
              ? h(
                  'vscode-button',
                  { secondary: true, onclick: () => send({ type: 'openSource', line: msg.line }) },
                  `Go to line ${msg.line}`,
                )
              : null,
            h('vscode-button', { onclick: () => send({ type: 'refresh' }) }, 'Try again'),
          ),
        ),
      );
      break;
    case 'summary':
      app.replaceChildren(summaryView(msg.summary));
      break;
    case 'synthInit':
    case 'synthPlan':
    case 'synthProgress':
    case 'synthResult':
    case 'synthDomain':
      renderSynth(app, msg);
      break;
    case 'evaluatePlan':
    case 'evaluateResult':
      renderEvaluate(app, msg);
      break;
    default:
      // The run panels' messages (the same bundle serves every panel); budget, notice and errors go to the open view.
      if (view === 'synth') renderSynth(app, msg);
      else renderGenerate(app, msg);
  }
}

function stat(label: string, value: string | number, title?: string): HTMLElement {
  return h(
    'div',
    { class: 'stat', ...(title ? { title } : {}) },
    h('div', { class: 'stat-value' }, String(value)),
    h('div', { class: 'stat-label' }, label),
  );
}

/** A proportional bar. Its width is set through the CSSOM: the CSP forbids inline style attributes. */
function bar(fraction: number, title: string): HTMLElement {
  const el = h('div', { class: 'bar', title });
  el.style.setProperty('--w', `${(100 * fraction).toFixed(1)}%`);
  return el;
}

/** A label's share of the rows: the bar (scaled to the total) and the percentage as text. */
function share(fraction: number): HTMLElement {
  const pct = `${formatNumber(100 * fraction)}%`;
  return h(
    'div',
    { class: 'share', title: `${pct} of rows` },
    h('div', { class: 'share-track' }, bar(fraction, `${pct} of rows`)),
    h('span', { class: 'share-value', 'data-share': String(fraction) }, pct),
  );
}

function summaryView(s: DatasetSummaryMessage): HTMLElement {
  const detected = (b: boolean) => (b ? ' (detected)' : '');
  // Each label's share of all rows: the bars are scaled to the total, so they add up to a full column.
  const total = Math.max(1, s.rows);
  return h(
    'div',
    {},
    h(
      'header',
      {},
      h('h1', {}, h('vscode-icon', { name: 'table' }), ' ', s.file, ' ', h('vscode-badge', {}, s.format.toUpperCase())),
      h(
        'vscode-button',
        { secondary: true, onclick: () => send({ type: 'refresh' }) },
        h('vscode-icon', { name: 'refresh', slot: 'content-before' }),
        'Reload',
      ),
    ),
    h(
      'p',
      { class: 'private-note' },
      h('vscode-icon', { name: 'lock' }),
      ' These statistics describe private data. They are shown only here, on this machine, and never sent to a model or written into a release.',
    ),
    h(
      'div',
      { class: 'stats' },
      stat('rows', s.rows),
      stat(
        s.columns.unit ? `privacy units (${s.columns.unit})` : 'privacy units (one per row)',
        s.units,
        s.columns.unit ? `largest unit: ${s.largestUnit} rows` : undefined,
      ),
      stat('labels', s.labels.length),
      stat('duplicate texts', s.duplicateTexts),
      stat('median length', `${s.textLength.median} chars`),
    ),
    h(
      'dl',
      { class: 'columns' },
      h('dt', {}, 'Text column'),
      h('dd', {}, s.columns.text + detected(s.columns.detected.text)),
      h('dt', {}, 'Label column'),
      h('dd', {}, s.columns.label + detected(s.columns.detected.label)),
      h('dt', {}, 'Privacy unit'),
      h('dd', {}, s.columns.unit ?? 'each row'),
      h('dt', {}, 'All columns'),
      h('dd', {}, s.columns.available.join(', ')),
      h('dt', {}, 'Text length'),
      h(
        'dd',
        {},
        `min ${s.textLength.min} · median ${s.textLength.median} · mean ${s.textLength.mean} · p95 ${s.textLength.p95} · max ${s.textLength.max} characters`,
      ),
      h('dt', {}, 'Identity'),
      h(
        'dd',
        { class: 'mono', title: s.identity.contentSha256 },
        `sha256 ${s.identity.contentSha256.slice(0, 16)}… · ${s.identity.bytes.toLocaleString()} bytes`,
      ),
    ),
    ...warningList(s.warnings),
    s.skipped.count
      ? h(
          'p',
          { class: 'muted' },
          `Skipped rows: `,
          ...s.skipped.first.flatMap((r, i) => [
            i ? ', ' : '',
            h(
              'a',
              {
                href: '#',
                onclick: (e: Event) => {
                  e.preventDefault();
                  send({ type: 'openSource', line: r.line });
                },
              },
              `line ${r.line}`,
            ),
            ` (${r.column} ${r.reason})`,
          ]),
        )
      : null,
    h('vscode-divider', {}),
    h('h2', {}, `Labels (${s.labels.length})`),
    dataTable(
      [
        { title: 'Label', width: '60%' },
        { title: 'Rows', width: '15%', class: 'num' },
        { title: 'Share', width: '25%' },
      ],
      s.labels.map((l) => [l.label, l.count, share(l.count / total)]),
    ),
  );
}

onMessage(render);
send({ type: 'ready' });
