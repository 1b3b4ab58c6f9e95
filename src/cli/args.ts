import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs options for flags that take a value, named in a space-separated list ('out format'). */
export function valueFlags(names: string): Options {
  return Object.fromEntries(names.split(' ').map((n) => [n, { type: 'string' }]));
}

/** parseArgs options for flags without a value (switches), named in a space-separated list ('json dry-run'). */
export function switchFlags(names: string): Options {
  return Object.fromEntries(names.split(' ').map((n) => [n, { type: 'boolean' }]));
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Options;
  /** Returns the process exit code. */
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[], io: Io): Promise<number>;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function parse(cmd: Command, argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(`${cmd.name}: ${(e as Error).message}`, `Run: private-fewshot ${cmd.name} --help`);
  }
}

/** A flag whose value must be a finite number in [min, max]. */
export function numberFlag(
  values: Record<string, unknown>,
  name: string,
  opts: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const x = Number(raw);
  const bad =
    typeof raw !== 'string' ||
    raw.trim() === '' ||
    !Number.isFinite(x) ||
    (opts.integer && !Number.isInteger(x)) ||
    (opts.min !== undefined && x < opts.min) ||
    (opts.max !== undefined && x > opts.max);
  if (bad) {
    const range =
      opts.min !== undefined || opts.max !== undefined ? ` in [${opts.min ?? '-∞'}, ${opts.max ?? '∞'}]` : '';
    throw new UsageError(
      `--${name} must be ${opts.integer ? 'a whole number' : 'a number'}${range}; got ${JSON.stringify(raw)}`,
    );
  }
  return x;
}

export function stringFlag(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}
