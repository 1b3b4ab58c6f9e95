/**
 * Text from a dataset (labels, rows, column names) shown on a terminal: control characters are escaped, so a label
 * holding an ANSI escape sequence cannot recolour, move the cursor or rewrite what the terminal shows.
 */

// C0 controls except tab and newline, DEL, C1 controls, and the bidirectional overrides/isolates that can reorder
// what a terminal shows (Trojan Source, Boucher & Anderson 2021).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE_ONE_LINE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escape(c: string): string {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `s` with control characters written as escapes (\x1b, \u202e); newlines and tabs kept. */
export function printable(s: string): string {
  return s.replace(UNSAFE, escape);
}

/** `s` on one line: newlines, tabs and every other control character escaped. For labels and names. */
export function printableOneLine(s: string): string {
  return s.replace(UNSAFE_ONE_LINE, escape);
}
