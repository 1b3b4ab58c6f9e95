import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { UserError } from '../errors';
import defaultPrices from './prices.json';
import type { Usage } from './types';

/** USD per one million tokens. */
export interface Price {
  input: number;
  output: number;
}

export type PriceTable = Record<string, Price>;

const priceFile = z.object({
  models: z.record(
    z.string().min(1),
    z.object({ input: z.number().finite().min(0), output: z.number().finite().min(0) }).strict(),
  ),
});

/** The table shipped with the tool (src/core/providers/prices.json). */
export const DEFAULT_PRICES: PriceTable = priceFile.parse(defaultPrices).models;

/**
 * Reads a user price file (same shape as prices.json: `{ "models": { "<model>": { "input": n, "output": n } } }`) and
 * returns the default table with the user's entries on top.
 */
export async function loadPriceTable(file: string, base: PriceTable = DEFAULT_PRICES): Promise<PriceTable> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new UserError(
      `${file}: cannot read the price table (${(e as Error).message})`,
      'Give a JSON file like {"models": {"gpt-4.1-mini": {"input": 0.4, "output": 1.6}}} (USD per 1M tokens).',
    );
  }
  const parsed = priceFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(
      `${file}: invalid price table at ${issue ? issue.path.join('.') || '(root)' : '(root)'}: ${issue?.message ?? 'unknown problem'}`,
      'Each model needs non-negative numbers "input" and "output" in USD per 1M tokens, under "models".',
    );
  }
  return { ...base, ...parsed.data.models };
}

/** The price of `model`: its exact entry, else the longest entry that is a prefix of it followed by "-". */
export function priceFor(model: string, table: PriceTable): Price | undefined {
  const exact = table[model];
  if (exact) return exact;
  let best: string | undefined;
  for (const id of Object.keys(table)) {
    if (model.startsWith(`${id}-`) && (best === undefined || id.length > best.length)) best = id;
  }
  return best === undefined ? undefined : table[best];
}

/** Accumulates usage for one provider. Cost per call uses the price of the model that answered. */
export class UsageMeter {
  private calls = 0;
  private inputTokens = 0;
  private outputTokens = 0;
  private cost = 0;
  private retries = 0;
  private estimated = false;

  constructor(private readonly prices: PriceTable = DEFAULT_PRICES) {}

  record(model: string, inputTokens: number, outputTokens: number, estimated = false): void {
    this.calls++;
    this.inputTokens += inputTokens;
    this.outputTokens += outputTokens;
    if (estimated) this.estimated = true;
    const p = priceFor(model, this.prices);
    // cost = tokens × (USD per 1M tokens) / 1e6
    if (p) this.cost += (inputTokens * p.input + outputTokens * p.output) / 1e6;
  }

  recordRetry(): void {
    this.retries++;
  }

  snapshot(): Usage {
    return {
      calls: this.calls,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      cost: this.cost,
      retries: this.retries,
      ...(this.estimated ? { estimated: true } : {}),
    };
  }
}

/** A rough token count (4 characters per token) for servers that report no usage. Marked as estimated. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
