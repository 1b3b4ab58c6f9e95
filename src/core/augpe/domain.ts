/**
 * The user's domain for Aug-PE's prompts: a sentence saying what the texts are, per-label keyword lists, writing
 * styles and writer personas. Xie et al. (ICML 2024, §3.2 and App. "prompts") condition RANDOM_API on such public
 * domain knowledge (aug-pe's per-dataset "subcategory" keywords and writers); the defaults below are the generic
 * built-in lists of prompts.ts.
 *
 * Everything in a domain file is **public by declaration**: it is sent, word for word, in prompts to the generator.
 * The plan says so. It must therefore never be derived from the private rows.
 *
 * The file is JSON (a JSON schema is published in schemas/domain.schema.json for the editor; package.json
 * `jsonValidation`). Default location: `.private-fewshot/domain.json` in the workspace (beside the ledger, found the
 * same way), or any file passed with `synth --domain FILE`.
 */
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findNodeAtLocation, getNodePath, parseTree, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { z } from 'zod';
import { DataError } from '../errors';
import { PERSONAS, STYLES } from './prompts';

/** Where the domain file lives by default, relative to the workspace root. */
export const DOMAIN_FILE = path.join('.private-fewshot', 'domain.json');

/** The largest domain file read (a domain file is a few kilobytes; this keeps a wrong path from reading a dataset). */
export const DOMAIN_MAX_BYTES = 1 << 20;

/** One phrase that goes into a prompt: one line of printable text. */
const phrase = (what: string, max = 200) =>
  z
    .string()
    .trim()
    .min(1, `${what} must not be empty`)
    .max(max, `${what} must be at most ${max} characters`)
    // The control characters (Unicode Cc), spelled out: the editor's JSON-schema pattern engine has no \p{…} classes.
    // eslint-disable-next-line no-control-regex
    .regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, `${what} must be one line without control characters`);

const phrases = (what: string) => z.array(phrase(what)).min(1, `give at least one ${what}`).max(1000);

export const LabelDomainSchema = z
  .strictObject({
    keywords: z
      .array(phrase('a keyword'))
      .max(1000)
      .optional()
      .describe(
        'Topics for this label; RANDOM_API asks for an example about one of them, chosen at random (public: sent in prompts).',
      ),
    personas: phrases('persona')
      .optional()
      .describe("Writer personas for this label, replacing the file's personas (public: sent in prompts)."),
  })
  .describe('Public prompt words for one label.');

export const DomainSchema = z
  .strictObject({
    $schema: z.string().optional().describe('The JSON schema of this file (for the editor).'),
    domain: phrase('the domain sentence', 500)
      .optional()
      .describe(
        'What the texts are, in one sentence, e.g. "customer messages to a bank\'s support chat" (public: sent in prompts).',
      ),
    styles: phrases('style')
      .optional()
      .describe('Writing styles and tones, e.g. "in a worried tone" (public; default: the built-in list).'),
    personas: phrases('persona')
      .optional()
      .describe('Writer personas, e.g. "a small-business owner" (public; default: the built-in list).'),
    labels: z
      .record(z.string().min(1), LabelDomainSchema)
      .optional()
      .describe('Per-label keywords and personas, keyed by the label as it appears in the data.'),
  })
  .describe(
    'Private Few-Shot: the domain of Aug-PE synthetic records. Everything here is public: it is sent in prompts to the generating model.',
  );

export type DomainFile = z.infer<typeof DomainSchema>;

/** The published JSON schema (schemas/domain.schema.json; scripts/domain-schema.mts writes it). */
export function domainJsonSchema(): object {
  return {
    ...z.toJSONSchema(DomainSchema, { io: 'input', target: 'draft-7' }),
    $id: 'https://private-fewshot.invalid/schemas/domain.schema.json',
    title: 'Private Few-Shot domain file',
  };
}

/** A resolved domain: the file's values with the built-in defaults filled in. */
export interface Domain {
  /** The file it came from (a local path: shown in the plan, never released), or undefined for the defaults. */
  file?: string;
  sentence?: string;
  styles: readonly string[];
  personas: readonly string[];
  labels: Readonly<Record<string, { keywords: readonly string[]; personas?: readonly string[] }>>;
}

/** The built-in domain: no sentence, no keywords, the generic style and persona lists. */
export const DEFAULT_DOMAIN: Domain = { styles: STYLES, personas: PERSONAS, labels: Object.create(null) };

export function resolveDomain(d: DomainFile, file?: string): Domain {
  // No prototype: a label named "constructor" or "__proto__" is an ordinary key.
  const labels: Record<string, { keywords: string[]; personas?: string[] }> = Object.create(null);
  for (const [label, v] of Object.entries(d.labels ?? {}))
    labels[label] = { keywords: v.keywords ?? [], ...(v.personas ? { personas: v.personas } : {}) };
  return {
    ...(file !== undefined ? { file } : {}),
    ...(d.domain !== undefined ? { sentence: d.domain } : {}),
    styles: d.styles ?? STYLES,
    personas: d.personas ?? PERSONAS,
    labels,
  };
}

/** A starting file for the user to edit (what the panel's "Edit domain" button writes when none exists). */
export function domainTemplate(labels: readonly string[], schemaUrl?: string): string {
  const file: DomainFile = {
    ...(schemaUrl ? { $schema: schemaUrl } : {}),
    domain:
      'short texts written by the people who produce this dataset (replace with e.g. "customer messages to a bank")',
    styles: [...STYLES],
    personas: [...PERSONAS],
    labels: Object.fromEntries(labels.map((l) => [l, { keywords: [] }])),
  };
  return JSON.stringify(file, null, 2) + '\n';
}

const HINT = 'Fix the file (its format is in docs/AUGPE.md, "The domain file"), or move it aside to use the defaults.';

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** "labels.card_arrival.keywords[2]" from a zod/JSON path. */
function fieldName(p: readonly PropertyKey[]): string {
  let s = '';
  for (const k of p) s += typeof k === 'number' ? `[${k}]` : s === '' ? String(k) : `.${String(k)}`;
  return s || '(the whole file)';
}

/**
 * Parses and validates a domain file's text. Throws a DataError naming the file, the line and the field, with what to
 * do; never echoes the file's content beyond the field name.
 */
export function parseDomain(text: string, file: string): Domain {
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  if (errors.length || tree === undefined) {
    const e = errors[0];
    const offset = e?.offset ?? 0;
    throw new DataError(
      file,
      lineOf(text, offset),
      `not valid JSON (${e ? printParseErrorCode(e.error) : 'empty file'})`,
      HINT,
    );
  }
  const parsed = DomainSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // An unknown key is reported on its parent object: point at the key itself.
    const full = [
      ...(issue.path as (string | number)[]),
      ...(issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : []),
    ];
    const message =
      issue.code === 'unrecognized_keys' ? 'unknown field (allowed: see schemas/domain.schema.json)' : issue.message;
    // The deepest node that exists on the issue's path gives the line.
    let p = full;
    let node = findNodeAtLocation(tree, p);
    while (!node && p.length) {
      p = p.slice(0, -1);
      node = findNodeAtLocation(tree, p);
    }
    const at = node?.parent?.type === 'property' ? node.parent : node;
    const where = fieldName(node ? getNodePath(node) : []);
    const field = fieldName(full);
    throw new DataError(
      file,
      lineOf(text, at?.offset ?? 0),
      `field ${field === '(the whole file)' ? where : field}: ${message}`,
      HINT,
    );
  }
  return resolveDomain(parsed.data, file);
}

/**
 * Reads a domain file. `required`: the user named it (a missing file is an error); otherwise a missing file means the
 * defaults.
 */
export function loadDomain(file: string, required: boolean): Domain {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    if (!required) return DEFAULT_DOMAIN;
    throw new DataError(
      file,
      undefined,
      'no such domain file',
      'Check the path, or leave out --domain to use .private-fewshot/domain.json or the built-in defaults.',
    );
  }
  if (size > DOMAIN_MAX_BYTES)
    throw new DataError(
      file,
      undefined,
      `is ${size} bytes; a domain file may have at most ${DOMAIN_MAX_BYTES}`,
      'Is this the right file? A domain file holds a sentence and word lists.',
    );
  return parseDomain(readFileSync(file, 'utf8'), file);
}

/** The plan's sentence about the domain (CLI and panel). `shown` is the path as the user should read it. */
export function domainDeclaration(d: Domain, shown = d.file): string {
  return d.file === undefined
    ? 'no domain file: the prompts use the built-in style and persona lists (public).'
    : `domain file ${shown} is declared public: its domain sentence, keywords, styles and personas are sent in prompts to the generator.`;
}

/**
 * The workspace's domain file, created from domainTemplate(labels) when there is none (the panel's "Edit domain file"
 * button). Never overwrites: the template goes to a temporary file that is hard-linked into place only if the name is
 * still free (link fails on an existing file), so a file the user wrote in the meantime is kept.
 */
export function ensureDomainFile(root: string, labels: readonly string[]): { file: string; created: boolean } {
  const file = path.join(root, DOMAIN_FILE);
  try {
    statSync(file);
    return { file, created: false };
  } catch {
    // absent: create it below
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, domainTemplate(labels), { flag: 'wx' });
  try {
    linkSync(tmp, file);
    return { file, created: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return { file, created: false };
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}
