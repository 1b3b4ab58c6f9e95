/**
 * Prompt formats for DP few-shot generation (after Tang et al. 2024; docs/BACKGROUND.md §1.2): an instruction,
 * the private examples of the target label, then the label header and the demonstration so far. The public prompt is
 * the same without examples (zero-shot): it holds the instruction and the label, never private data.
 */
export interface PromptFormat {
  instruction: string;
  /** How one example is written; `{label}` and `{text}` are replaced. Must end with a newline. */
  example: string;
  /** What precedes the generated text; `{label}` is replaced. The model continues right after it. */
  header: string;
}

export const DEFAULT_FORMAT: PromptFormat = {
  instruction: 'Given a label, write a short text of that kind, in the style of the examples.',
  example: 'Label: {label}\nText: {text}\n',
  header: 'Label: {label}\nText:',
};

/** Examples are written on one line: inner newlines would read as the end of a demonstration. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

export function buildPrompt(format: PromptFormat, label: string, examples: readonly string[]): string {
  const parts = [format.instruction, ''];
  for (const text of examples) {
    parts.push(format.example.replaceAll('{label}', label).replaceAll('{text}', oneLine(text)).replace(/\n$/, ''));
    parts.push('');
  }
  parts.push(format.header.replaceAll('{label}', label));
  return parts.join('\n');
}

/** The zero-shot prompt: no private data. Also what an empty private prompt falls back to. */
export function publicPrompt(format: PromptFormat, label: string): string {
  return buildPrompt(format, label, []);
}

const END_TOKENS = new Set([
  '<|endoftext|>',
  '</s>',
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<eos>',
  '<|end_of_text|>',
]);

/**
 * Whether a released token ends the demonstration: an end-of-text token, or any token containing a newline (the
 * format puts one demonstration per line). Returns the part of the token to keep before the end.
 */
export function endOfDemonstration(token: string): { ends: boolean; keep: string } {
  if (END_TOKENS.has(token)) return { ends: true, keep: '' };
  const nl = token.search(/[\r\n]/);
  if (nl !== -1) return { ends: true, keep: token.slice(0, nl) };
  return { ends: false, keep: token };
}
