import { UsageError } from '../errors';

export interface Demonstration {
  label: string;
  text: string;
}

export type ExportFormat = 'json' | 'jsonl' | 'chat' | 'text';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['json', 'jsonl', 'chat', 'text'];
export const DEFAULT_TEMPLATE = 'Text: {text}\nLabel: {label}';

export interface ExportOptions {
  format: ExportFormat;
  /** For 'text': a template with {text} and {label}. */
  template?: string;
  /** Anything JSON-serialisable describing the run (kept in 'json' only). */
  report?: unknown;
  /** Set when the built-in offline model wrote the demonstrations: every format says so. */
  offlineModel?: string;
}

/** Renders demonstrations for a file or the editor. Pure: no I/O. */
export function exportDemonstrations(demos: readonly Demonstration[], o: ExportOptions): string {
  const offline = o.offlineModel
    ? `Written by the built-in offline model (${o.offlineModel}), for trying the tool — not production quality.`
    : undefined;
  switch (o.format) {
    case 'json':
      return `${JSON.stringify({ ...(offline ? { notice: offline } : {}), demonstrations: demos, report: o.report ?? null }, null, 2)}\n`;
    case 'jsonl':
      return (
        demos
          .map((d) =>
            JSON.stringify(
              offline ? { label: d.label, text: d.text, offline: true } : { label: d.label, text: d.text },
            ),
          )
          .join('\n') + '\n'
      );
    case 'chat': {
      // OpenAI chat messages: each demonstration as a user turn (the text) answered by an assistant turn (the label).
      const messages = demos.flatMap((d) => [
        { role: 'user', content: d.text },
        { role: 'assistant', content: d.label },
      ]);
      return `${JSON.stringify(offline ? { notice: offline, messages } : messages, null, 2)}\n`;
    }
    case 'text': {
      const template = o.template ?? DEFAULT_TEMPLATE;
      checkTemplate(template);
      const body = demos
        .map((d) => template.replace(/\{(text|label)\}/g, (_, k: 'text' | 'label') => d[k]))
        .join('\n\n');
      return `${offline ? `# ${offline}\n\n` : ''}${body}\n`;
    }
  }
}

/** A template must use {text} and may use {label}; any other {placeholder} is a mistake worth reporting. */
export function checkTemplate(template: string): void {
  const unknown = [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]).filter((k) => k !== 'text' && k !== 'label');
  if (unknown.length)
    throw new UsageError(
      `the template has unknown placeholder(s): ${unknown.map((k) => `{${k}}`).join(', ')}`,
      'Use {text} and {label}, e.g. "Text: {text}\\nLabel: {label}".',
    );
  if (!template.includes('{text}'))
    throw new UsageError('the template has no {text} placeholder', 'Example: "Text: {text}\\nLabel: {label}".');
}
