import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError, UserError } from '../../core/errors';
import {
  ACCOUNTANTS,
  calibrateSigma,
  DEFAULT_ACCOUNTANT,
  deltaFor,
  epsilonFor,
  GAUSSIAN,
  MAX_STEPS,
  POISSON_GAUSSIAN,
  specFor,
  type AccountantName,
  type RunShape,
} from '../../core/privacy';
import { numberFlag, stringFlag, type Command, type Io, type Options, valueFlags, switchFlags } from '../args';
import { formatSignificant } from '../../shared/format';

/**
 * `private-fewshot epsilon | sigma | delta`: the privacy accountants from the command line.
 *
 *   epsilon  ε at δ for σ, sampling rate and steps
 *   sigma    the smallest σ that meets (ε, δ) for a sampling rate and steps
 *   delta    δ at ε for σ, sampling rate and steps
 *
 * `--batch FILE` reads one query per JSON line (the same field names as the --json output, plus
 * "query": "epsilon" | "sigma" | "delta"; a line's fields override the flags given with --batch) and writes one JSON
 * result per non-empty line, in order. A bad line yields {"line": n, "error": …} on stdout and FILE:n on stderr; the
 * other lines are still answered, and the exit code is 1.
 */

type Query = 'epsilon' | 'sigma' | 'delta';

interface QueryInput {
  query: Query;
  sigma?: number;
  samplingRate?: number;
  steps?: number;
  delta?: number;
  epsilon?: number;
  accountant?: AccountantName;
}

interface QueryResult {
  query?: Query;
  epsilon: number | null;
  delta: number;
  sigma: number;
  samplingRate: number;
  steps: number;
  accountant: AccountantName;
  note?: string;
}

const options: Options = {
  ...valueFlags('sigma sampling-rate steps delta epsilon accountant batch'),
  ...switchFlags('json'),
};

const COMMON = `  --sampling-rate Q  probability that each record is in a step's sample (Poisson); default 1 = no subsampling
  --steps T          number of steps: generated tokens for DP few-shot, histogram releases for Private Evolution
  --accountant A     pld (default with subsampling), rdp, or gdp (default without subsampling; un-subsampled only)
  --json             print one JSON object with the answer and the inputs
  --batch FILE       answer one query per JSON line of FILE (fields: query, sigma, samplingRate, steps, delta,
                     epsilon, accountant); prints one JSON line per query

All accountants use add/remove neighbours and return upper bounds on ε or δ (and a σ that meets the target).`;

function fieldName(flag: string): keyof QueryInput {
  return flag === 'sampling-rate' ? 'samplingRate' : (flag as keyof QueryInput);
}

/** Reads and checks the query fields from flags (values as strings) into a QueryInput. */
function fromFlags(query: Query, values: Record<string, unknown>): QueryInput {
  const input: QueryInput = { query };
  const sigma = positiveFlag(values, 'sigma');
  const samplingRate = numberFlag(values, 'sampling-rate', { min: 0, max: 1 });
  const steps = numberFlag(values, 'steps', { min: 0, max: MAX_STEPS, integer: true });
  const delta = positiveFlag(values, 'delta');
  if (delta !== undefined && !(delta < 1))
    throw new UsageError(
      `--delta must be strictly between 0 and 1; got ${JSON.stringify(values.delta)}`,
      'A common choice is 1/(n·ln n) for n records.',
    );
  const epsilon = numberFlag(values, 'epsilon', { min: 0 });
  const accountant = stringFlag(values, 'accountant');
  if (sigma !== undefined) input.sigma = sigma;
  if (samplingRate !== undefined) input.samplingRate = samplingRate;
  if (steps !== undefined) input.steps = steps;
  if (delta !== undefined) input.delta = delta;
  if (epsilon !== undefined) input.epsilon = epsilon;
  if (accountant !== undefined) input.accountant = checkAccountant(accountant);
  return input;
}

/** A flag that must be a finite number > 0. */
function positiveFlag(values: Record<string, unknown>, name: string): number | undefined {
  const x = numberFlag(values, name);
  if (x !== undefined && !(x > 0))
    throw new UsageError(`--${name} must be a number above 0; got ${JSON.stringify(values[name])}`);
  return x;
}

function checkAccountant(a: unknown): AccountantName {
  if (typeof a !== 'string' || !ACCOUNTANTS.includes(a as AccountantName)) {
    throw new UsageError(`--accountant must be one of ${ACCOUNTANTS.join(', ')}; got ${JSON.stringify(a)}`);
  }
  return a as AccountantName;
}

/** What each query needs, as flag names. */
const NEEDS: Record<Query, string[]> = {
  epsilon: ['sigma', 'steps', 'delta'],
  sigma: ['epsilon', 'delta', 'steps'],
  delta: ['sigma', 'steps', 'epsilon'],
};

/** Answers one query. Throws UsageError for missing or inconsistent inputs. */
export function answer(input: QueryInput): QueryResult {
  const missing = NEEDS[input.query].filter((f) => input[fieldName(f)] === undefined);
  if (missing.length) {
    throw new UsageError(
      `${input.query} needs ${missing.map((m) => `--${m}`).join(', ')}`,
      `Example: private-fewshot ${input.query} ${NEEDS[input.query].map((f) => `--${f} ${EXAMPLE[f]}`).join(' ')} --sampling-rate 0.000667`,
    );
  }
  const q = input.samplingRate ?? 1;
  const accountant = input.accountant ?? (q === 1 ? 'gdp' : DEFAULT_ACCOUNTANT);
  if (accountant === 'gdp' && q !== 1) {
    throw new UsageError(
      `the gdp accountant needs an un-subsampled mechanism, but --sampling-rate is ${q}`,
      'Use --accountant pld (the default with subsampling) or rdp.',
    );
  }
  const steps = input.steps!;
  const shape: RunShape = q === 1 ? { kind: GAUSSIAN, steps } : { kind: POISSON_GAUSSIAN, samplingRate: q, steps };
  const spec = (sigma: number) => specFor(shape, sigma);
  switch (input.query) {
    case 'epsilon': {
      const eps = epsilonFor([spec(input.sigma!)], input.delta!, accountant);
      return withNote({ epsilon: eps, delta: input.delta!, sigma: input.sigma!, samplingRate: q, steps, accountant });
    }
    case 'delta': {
      const d = deltaFor([spec(input.sigma!)], input.epsilon!, accountant);
      return { epsilon: input.epsilon!, delta: d, sigma: input.sigma!, samplingRate: q, steps, accountant };
    }
    case 'sigma': {
      if (!(input.epsilon! > 0)) throw new UsageError('--epsilon must be above 0: no finite noise gives ε = 0');
      const sigma = calibrateSigma({ epsilon: input.epsilon!, delta: input.delta! }, shape, accountant);
      return { epsilon: input.epsilon!, delta: input.delta!, sigma, samplingRate: q, steps, accountant };
    }
  }
}

const EXAMPLE: Record<string, string> = { sigma: '0.39', steps: '100', delta: '3.3e-5', epsilon: '4' };

function withNote(r: Omit<QueryResult, 'epsilon'> & { epsilon: number }): QueryResult {
  if (Number.isFinite(r.epsilon)) return r;
  return { ...r, epsilon: null, note: 'no finite ε is certified at this δ' };
}

const g = (x: number) => formatSignificant(x, 5, 4);

function formatResult(query: Query, r: QueryResult): string {
  const mech = `σ = ${g(r.sigma)}, sampling rate ${g(r.samplingRate)}, ${r.steps} step${r.steps === 1 ? '' : 's'}, ${r.accountant} accountant`;
  switch (query) {
    case 'epsilon':
      return r.epsilon === null
        ? `ε = ∞ at δ = ${g(r.delta)} (${mech}): ${r.note}`
        : `ε = ${g(r.epsilon)} at δ = ${g(r.delta)} (${mech})`;
    case 'delta':
      return `δ = ${g(r.delta)} at ε = ${g(r.epsilon!)} (${mech})`;
    case 'sigma':
      return `σ = ${g(r.sigma)} meets ε = ${g(r.epsilon!)} at δ = ${g(r.delta)} (sampling rate ${g(r.samplingRate)}, ${r.steps} step${r.steps === 1 ? '' : 's'}, ${r.accountant} accountant)`;
  }
}

const LINE_FIELDS = new Set(['query', 'sigma', 'samplingRate', 'steps', 'delta', 'epsilon', 'accountant']);

/** Parses one batch line into a QueryInput on top of the defaults; throws UsageError naming the bad field. */
function parseLine(text: string, defaults: QueryInput): QueryInput {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`not valid JSON (${(e as Error).message})`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    throw new UsageError('expected a JSON object such as {"query": "epsilon", "sigma": 1, "steps": 10, "delta": 1e-5}');
  const o = obj as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!LINE_FIELDS.has(k)) throw new UsageError(`unknown field "${k}"`, `Fields: ${[...LINE_FIELDS].join(', ')}.`);
  const input: QueryInput = { ...defaults };
  if (o.query !== undefined) {
    if (o.query !== 'epsilon' && o.query !== 'sigma' && o.query !== 'delta')
      throw new UsageError(`"query" must be "epsilon", "sigma" or "delta"; got ${JSON.stringify(o.query)}`);
    input.query = o.query;
  }
  const num = (
    k: 'sigma' | 'samplingRate' | 'steps' | 'delta' | 'epsilon',
    ok: (x: number) => boolean,
    what: string,
  ) => {
    if (o[k] === undefined) return;
    const x = o[k];
    if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x))
      throw new UsageError(`"${k}" must be ${what}; got ${JSON.stringify(x)}`);
    input[k] = x;
  };
  num('sigma', (x) => x > 0, 'a positive number');
  num('samplingRate', (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
  num('steps', (x) => Number.isInteger(x) && x >= 0 && x <= MAX_STEPS, `a whole number in [0, ${MAX_STEPS}]`);
  num('delta', (x) => x > 0 && x < 1, 'a number strictly between 0 and 1');
  num('epsilon', (x) => x >= 0, 'a number ≥ 0');
  if (o.accountant !== undefined) input.accountant = checkAccountant(o.accountant);
  return input;
}

async function runBatch(file: string, defaults: QueryInput, io: Io): Promise<number> {
  const full = path.resolve(io.cwd, file);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (e) {
    throw new UserError(
      `cannot read the batch file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      'Give a file with one JSON query per line.',
    );
  }
  const lines = text.split(/\r?\n/);
  let failed = 0;
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    const line = i + 1;
    try {
      const input = parseLine(raw, defaults);
      io.out(JSON.stringify({ query: input.query, ...answer(input) }));
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      failed++;
      io.out(JSON.stringify({ line, error: e.message }));
      io.err(`${file}:${line}: ${e.describe()}`);
    }
  });
  return failed ? 1 : 0;
}

function makeCommand(query: Query, summary: string, usage: string): Command {
  return {
    name: query,
    summary,
    usage: `${usage}\n${COMMON}`,
    options,
    async run(values, positionals, io) {
      if (positionals.length)
        throw new UsageError(
          `${query} takes no positional arguments; got ${JSON.stringify(positionals[0])}`,
          `Run: private-fewshot ${query} --help`,
        );
      const input = fromFlags(query, values);
      const batch = stringFlag(values, 'batch');
      if (batch !== undefined) return runBatch(batch, input, io);
      const r = answer(input);
      io.out(values.json ? JSON.stringify(r) : formatResult(query, r));
      return 0;
    },
  };
}

export const epsilonCommand = makeCommand(
  'epsilon',
  'Privacy loss ε at δ of a (subsampled) Gaussian mechanism run for some steps.',
  `private-fewshot epsilon --sigma S --steps T --delta D [--sampling-rate Q] [--accountant pld|rdp|gdp] [--json] [--batch FILE]

  --sigma S          noise multiplier: noise standard deviation / L2 sensitivity
  --delta D          δ, below 1/n for n records (1/(n·ln n) is common)`,
);

export const sigmaCommand = makeCommand(
  'sigma',
  'Smallest noise multiplier σ that meets a target (ε, δ) for a sampling rate and number of steps.',
  `private-fewshot sigma --epsilon E --delta D --steps T [--sampling-rate Q] [--accountant pld|rdp|gdp] [--json] [--batch FILE]

  --epsilon E        target ε (> 0)
  --delta D          target δ`,
);

export const deltaCommand = makeCommand(
  'delta',
  'δ at a given ε of a (subsampled) Gaussian mechanism run for some steps.',
  `private-fewshot delta --sigma S --steps T --epsilon E [--sampling-rate Q] [--accountant pld|rdp|gdp] [--json] [--batch FILE]

  --sigma S          noise multiplier: noise standard deviation / L2 sensitivity
  --epsilon E        ε (≥ 0)`,
);

export const privacyQueryCommands: Command[] = [epsilonCommand, sigmaCommand, deltaCommand];
