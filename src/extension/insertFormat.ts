// What Insert at cursor and Copy write, without vscode (unit-tested in plain Node): the released texts in the chosen
// format, headed by one line in the target file's comment syntax. Only the release is read (src/core/release.ts);
// every format goes through checkReleaseKeys first, like renderRelease.
import {
  DEFAULT_TEMPLATE,
  checkReleaseKeys,
  releasedTexts,
  renderRelease,
  type Release,
  type ReleasedText,
} from '../core/release';
import { formatDelta, formatNumber } from '../shared/format';
import type { InsertFormat } from '../shared/protocol';

/** The formats a user picks from ("auto" follows the target file's language). */
export type ConcreteInsertFormat = Exclude<InsertFormat, 'auto'>;

/** How each language writes a one-line comment; undefined: it has none (JSON, JSON Lines) and gets no header. */
const LINE_COMMENT: Record<string, readonly [string, string]> = {};
const put = (ids: string, open: string, close = '') => {
  for (const id of ids.split(' ')) LINE_COMMENT[id] = [open, close];
};
put(
  'javascript javascriptreact typescript typescriptreact jsonc json5 c cpp csharp java go rust swift kotlin scala dart php groovy fsharp objective-c objective-cpp less scss zig',
  '// ',
);
put(
  'python shellscript yaml toml ruby perl r julia powershell dockerfile makefile properties ini elixir coffeescript nim gitignore',
  '# ',
);
put('sql lua haskell elm ada', '-- ');
put('latex tex bibtex matlab erlang', '% ');
put('bat', 'REM ');
put('vb', "' ");
put('clojure lisp scheme', ';; ');
put('markdown html xml svg vue mdx', '<!-- ', ' -->');
put('css', '/* ', ' */');
put('plaintext', '');

/** The default format for a file of `languageId` when the user leaves it to the file. */
export function formatForLanguage(languageId: string): ConcreteInsertFormat {
  if (languageId === 'markdown' || languageId === 'mdx') return 'markdown';
  if (languageId === 'json' || languageId === 'jsonc' || languageId === 'json5') return 'json';
  if (languageId === 'jsonl' || languageId === 'jsonlines') return 'jsonl';
  return 'text';
}

/** The language of a new untitled document holding `format`. */
export function languageForFormat(format: ConcreteInsertFormat): string {
  return format === 'markdown' ? 'markdown' : format === 'json' || format === 'chat' ? 'json' : 'plaintext';
}

/** One line naming the release: tool, algorithm, count, ε charged at δ, and the offline notice when there is one. */
export function headerText(r: Release, count = releasedTexts(r).length): string {
  const what =
    r.algorithm === 'dp-few-shot'
      ? `${count} DP few-shot demonstration(s)`
      : `${count} DP synthetic record(s) (Aug-PE)`;
  const base = `${r.tool}: ${what}, ε ${formatNumber(r.privacy.epsilonCharged)} at δ ${formatDelta(r.privacy.delta)}`;
  return r.notice ? `${base}. ${r.notice}` : `${base}.`;
}

/** `text` as a comment line of `languageId`, or undefined when the language has no comments we know. */
export function commentLine(languageId: string, text: string): string | undefined {
  const c = LINE_COMMENT[languageId];
  if (!c) return undefined;
  // A comment must not close itself early.
  const body = c[1] ? text.replaceAll(c[1].trim(), '') : text;
  return `${c[0]}${body}${c[1]}`;
}

/** A Markdown list item: the label in bold, the text after it; later lines indented under the item. */
function markdownItem(x: ReleasedText): string {
  const [first, ...rest] = x.text.split(/\r?\n/);
  return [`- **${x.label}**: ${first ?? ''}`, ...rest.map((l) => (l ? `  ${l}` : ''))].join('\n');
}

/** The texts alone in `format` (no header). The structured formats are exactly what renderRelease writes. */
function body(r: Release, items: readonly ReleasedText[], format: ConcreteInsertFormat): string {
  switch (format) {
    case 'text':
      return `${items.map((d) => DEFAULT_TEMPLATE.replace(/\{(text|label)\}/g, (_, k: 'text' | 'label') => d[k])).join('\n\n')}\n`;
    case 'markdown':
      return `${items.map(markdownItem).join('\n')}\n`;
    case 'json':
      // The whole release (a single item: the item itself).
      return items.length === releasedTexts(r).length
        ? renderRelease(r, { format: 'json' })
        : `${JSON.stringify(items.length === 1 ? items[0] : items, null, 2)}\n`;
    case 'jsonl':
      return `${items.map((d) => JSON.stringify(r.notice ? { label: d.label, text: d.text, offline: true } : { label: d.label, text: d.text })).join('\n')}\n`;
    case 'chat': {
      // OpenAI chat messages, as renderRelease's 'chat': each text a user turn answered by its label.
      const messages = items.flatMap((d) => [
        { role: 'user', content: d.text },
        { role: 'assistant', content: d.label },
      ]);
      return `${JSON.stringify(messages, null, 2)}\n`;
    }
  }
}

export interface InsertOptions {
  format: InsertFormat;
  /** The target document's language id ('plaintext' for a new document). */
  languageId: string;
  /** One released text (0-based) instead of all of them. */
  index?: number;
}

/**
 * The text Insert at cursor and Copy write: a header line in the file's comment syntax (none in JSON and JSON Lines,
 * where the offline notice stays inside the data), then the released texts in the format. Throws on a release with
 * a key outside the release boundary, or an index out of range.
 */
export function releaseInsertText(r: Release, o: InsertOptions): string {
  checkReleaseKeys(r);
  const all = releasedTexts(r);
  if (o.index !== undefined && !(Number.isInteger(o.index) && o.index >= 0 && o.index < all.length))
    throw new RangeError(`no released text #${o.index} (the release has ${all.length})`);
  const items = o.index === undefined ? all : [all[o.index]!];
  const format = o.format === 'auto' ? formatForLanguage(o.languageId) : o.format;
  const header = commentLine(o.languageId, headerText(r, items.length));
  const text = body(r, items, format);
  // Where the header cannot be a comment, the notice of an offline release still travels: in the data (json,
  // jsonl) or as the chat's wrapper object.
  if (header === undefined && format === 'chat' && r.notice)
    return `${JSON.stringify({ notice: r.notice, messages: JSON.parse(text) as unknown }, null, 2)}\n`;
  if (header === undefined && format === 'json' && r.notice && items.length !== all.length)
    return `${JSON.stringify({ notice: r.notice, items: JSON.parse(text) as unknown }, null, 2)}\n`;
  return header === undefined ? text : `${header}\n${text}`;
}

/** Where the cursor goes after inserting `text` at (line, character): just after the inserted text. */
export function positionAfter(
  start: { line: number; character: number },
  text: string,
): { line: number; character: number } {
  const lines = text.split(/\r\n|\r|\n/);
  const last = lines[lines.length - 1]!;
  return lines.length === 1
    ? { line: start.line, character: start.character + last.length }
    : { line: start.line + lines.length - 1, character: last.length };
}
