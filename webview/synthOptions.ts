// The Synthesize form's Aug-PE options (docs/AUGPE.md "Options"): the domain file in use with an "Edit domain file…"
// button (the host creates it from a template if needed and opens it), lookahead K, the selection rule, and DP class
// fractions. Rendered as text nodes like the rest of the view.
import type { HostMessage, SynthSettings } from '../src/shared/protocol';
import { numberField } from './form';
import { h } from './dom';
import { send } from './vscode-api';

type InitMessage = Extract<HostMessage, { type: 'synthInit' }>;
type DomainInfo = NonNullable<InitMessage['domain']>;
type Options = Pick<SynthSettings, 'lookahead' | 'selection' | 'dpFractions'>;

export function domainLine(d: DomainInfo | undefined): string {
  return d?.exists
    ? `Domain file ${d.file} — declared public: its domain sentence, keywords, styles and personas are sent in prompts.`
    : 'No domain file: the prompts use the built-in style and persona lists. "Edit domain file…" creates one to fill in.';
}

export function synthOptions(
  m: InitMessage,
  selectedLabels: () => string[],
): {
  el: HTMLElement;
  inputs: HTMLElement[];
  read: () => Options;
  restore: (s: Options) => void;
  setDomain: (d: DomainInfo) => void;
} {
  const domainText = h('span', { 'data-testid': 'domain-file' }, domainLine(m.domain));
  const editDomain = h(
    'vscode-button',
    { id: 'edit-domain', secondary: true, onclick: () => send({ type: 'synthEditDomain', labels: selectedLabels() }) },
    'Edit domain file…',
  );
  const lookahead = numberField(
    'lookahead',
    'Lookahead K',
    0,
    { min: '0', max: '16', step: '1' },
    'Each candidate votes with the mean embedding of K variations of it (0: its own embedding). Costs K more variations per candidate per iteration.',
  );
  const selection = h(
    'select',
    { id: 'selection' },
    h('option', { value: 'rank', title: 'rank: keep the candidates with the most noisy votes' }, 'rank (most votes)'),
    h(
      'option',
      { value: 'prob', title: 'prob: draw candidates in proportion to their noisy votes' },
      'prob (drawn by votes)',
    ),
  ) as HTMLSelectElement;
  const dp = h('input', { type: 'checkbox', id: 'dp-fractions' }) as HTMLInputElement;
  const share = numberField('dp-share', 'Share of μ² for the label counts', 0.1, {
    min: '0.01',
    max: '0.99',
    step: '0.01',
  });
  const el = h(
    'details',
    { class: 'options' },
    h('summary', {}, 'Domain and Aug-PE options'),
    h('p', { class: 'private-note' }, h('vscode-icon', { name: 'globe' }), ' ', domainText),
    h('div', { class: 'actions' }, editDomain),
    h(
      'div',
      { class: 'fields' },
      lookahead.el,
      h('label', { class: 'field', for: 'selection' }, h('span', {}, 'Selection'), selection),
    ),
    h(
      'label',
      { class: 'check', for: 'dp-fractions' },
      dp,
      ' DP class fractions: release the label counts once with noise and size the classes by them (costs part of ε)',
    ),
    h('div', { class: 'fields' }, share.el),
  );
  return {
    el,
    inputs: [lookahead.input, selection, dp, share.input],
    read: () => ({
      lookahead: Math.round(lookahead.input.valueAsNumber || 0),
      selection: selection.value === 'prob' ? 'prob' : 'rank',
      ...(dp.checked ? { dpFractions: share.input.valueAsNumber } : {}),
    }),
    restore: (s) => {
      lookahead.input.value = String(s.lookahead ?? 0);
      selection.value = s.selection ?? 'rank';
      dp.checked = s.dpFractions !== undefined;
      if (s.dpFractions !== undefined) share.input.value = String(s.dpFractions);
    },
    setDomain: (d) => domainText.replaceChildren(domainLine(d)),
  };
}
