/**
 * The one message protocol between the extension host and the webview. Both sides validate every message with
 * these zod schemas: the host because a webview is untrusted input, the webview because it should never render
 * something it does not understand. This folder is the only part of src/ that webview code may import (see
 * eslint.config.mjs): it imports zod and nothing from node or vscode.
 *
 * Private text (dataset rows, label counts) may travel host → webview for local display; the webview renders it
 * as text only (textContent), never as HTML. zod/mini keeps the webview bundle small.
 */
import * as z from 'zod/mini';

/** A non-negative whole number. */
const count = z.int().check(z.nonnegative());

export const datasetSummarySchema = z.object({
  file: z.string(),
  format: z.string(),
  columns: z.object({
    text: z.string(),
    label: z.string(),
    unit: z.nullable(z.string()),
    available: z.array(z.string()),
    detected: z.object({ text: z.boolean(), label: z.boolean() }),
  }),
  rows: count,
  units: count,
  largestUnit: count,
  labels: z.array(z.object({ label: z.string(), count: count })),
  textLength: z.object({ min: z.number(), max: z.number(), mean: z.number(), median: z.number(), p95: z.number() }),
  duplicateTexts: count,
  duplicatesRemoved: count,
  skipped: z.object({
    count: count,
    first: z.array(z.object({ line: z.int(), column: z.string(), reason: z.string() })),
  }),
  warnings: z.array(z.string()),
  identity: z.object({ path: z.string(), contentSha256: z.string(), bytes: count }),
});
export type DatasetSummaryMessage = z.infer<typeof datasetSummarySchema>;

/** Host → webview. */
export const hostMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('loading'), file: z.string() }),
  z.object({ type: z.literal('summary'), summary: datasetSummarySchema }),
  z.object({ type: z.literal('error'), file: z.string(), message: z.string(), hint: z.optional(z.string()), line: z.optional(z.int()) }),
]);
export type HostMessage = z.infer<typeof hostMessageSchema>;

/** Webview → host. `ready` is the handshake: the host sends state only after it, and again after every reload. */
export const webviewMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('refresh') }),
  z.object({ type: z.literal('openSource'), line: z.optional(z.int().check(z.positive())) }),
]);
export type WebviewMessage = z.infer<typeof webviewMessageSchema>;

/** Parses an incoming message; returns undefined (and never throws) for anything that does not match. */
export function parseHostMessage(data: unknown): HostMessage | undefined {
  const r = hostMessageSchema.safeParse(data);
  return r.success ? r.data : undefined;
}

export function parseWebviewMessage(data: unknown): WebviewMessage | undefined {
  const r = webviewMessageSchema.safeParse(data);
  return r.success ? r.data : undefined;
}
