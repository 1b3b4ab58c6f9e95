/**
 * Keeps keys and private text out of error messages. Everything a provider puts into an error goes through
 * `redactSecrets`; server messages also go through `withholdQuoted` because some servers echo the request.
 */

const KEY_PATTERNS: RegExp[] = [
  // OpenAI (sk-…, sk-proj-…, also the masked echo "sk-proj-****abcd"), Anthropic (sk-ant-…).
  /\bsk-[A-Za-z0-9_*-]{4,}/g,
  // Bearer tokens and api-key headers quoted back in a message.
  /\b(Bearer)\s+[A-Za-z0-9._~+/*-]{8,}=*/gi,
  /\b(api[-_]?key["']?\s*[:=]\s*["']?)[A-Za-z0-9._*-]{8,}/gi,
];

/** Replaces every occurrence of the given secrets and anything that looks like an API key by "[redacted]". */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  }
  out = out.replace(KEY_PATTERNS[0]!, '[redacted]');
  out = out.replace(KEY_PATTERNS[1]!, '$1 [redacted]');
  out = out.replace(KEY_PATTERNS[2]!, '$1[redacted]');
  return out;
}

const WINDOW = 24;

/**
 * Returns `message`, or a placeholder when it quotes at least 24 consecutive characters of any of `texts` (the
 * prompts of the failing request). Conservative: a server message that echoes private text is never shown.
 */
export function withholdQuoted(message: string, texts: readonly string[]): string {
  const long = texts.filter((t) => t.length >= WINDOW);
  if (long.length === 0 || message.length < WINDOW) return message;
  for (let i = 0; i + WINDOW <= message.length; i++) {
    const w = message.slice(i, i + WINDOW);
    if (long.some((t) => t.includes(w))) return '(server message withheld: it quoted the request text)';
  }
  return message;
}

/** A server message made safe to show: keys redacted, request quotes withheld, length bounded. */
export function safeServerMessage(
  message: string,
  secrets: readonly (string | undefined)[],
  texts: readonly string[],
  max = 300,
): string {
  const m = withholdQuoted(redactSecrets(message, secrets), texts).replace(/\s+/g, ' ').trim();
  return m.length > max ? `${m.slice(0, max)}…` : m;
}
