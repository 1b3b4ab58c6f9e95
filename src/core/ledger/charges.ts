/**
 * Plain functions on plans, charges and ledger lines: validation, the stored form of a charge, recorded pool values,
 * the privacy-unit rule, and the bodies of header and budget lines. No state, no I/O.
 */
import { randomBytes } from 'node:crypto';
import { UsageError, UserError } from '../errors';
import { TOOL_VERSION } from '../version';
import { isMechanismKind, isPoissonGaussian, MECHANISM_KINDS } from '../privacy/types';
import type { MechanismSpec } from './accountant';
import type { Recorded } from './compose';
import {
  LEDGER_FORMAT,
  LEDGER_VERSION,
  labelPartition,
  type BudgetLine,
  type LineBody,
  type ParsedLedger,
  type ReservedLine,
  type StoredCharge,
} from './format';
import { toRef } from './identity';
import { describeUnit, privacyUnitOf, type Charge, type LedgerDataset, type RunPlan } from './types';

/** Every pool value recorded on the ledger's lines (see compose.ts recordKey). Rebuilt per read: lines are few. */
export function recordedOf(parsed: ParsedLedger): Recorded {
  const m = new Map<string, number>();
  for (const l of parsed.lines) {
    if (!('eps' in l) || !l.eps) continue;
    for (const [k, v] of Object.entries(l.eps)) m.set(k, Math.max(v, m.get(k) ?? 0));
  }
  return m;
}

/** The values not yet recorded, as the `eps` member of a line (omitted when none; finite values only). */
export function unrecorded(values: Map<string, number>, recorded: Recorded): { eps?: Record<string, number> } {
  const eps: Record<string, number> = {};
  let n = 0;
  for (const [k, v] of values) {
    if (recorded.get(k) === v || !Number.isFinite(v)) continue;
    eps[k] = v;
    n++;
  }
  return n ? { eps } : {};
}

/** Checks a plan's charges; returns them typed. Errors are UsageErrors naming the charge. */
export function validatePlan(plan: RunPlan): Charge[] {
  if (!plan || typeof plan.algorithm !== 'string' || plan.algorithm === '')
    throw new UsageError('a run plan needs an algorithm name');
  return validateCharges(plan.charges, false);
}

/** Checks charges (a plan's, or a run's actual use, which may be empty when nothing ran). */
export function validateCharges(charges: Charge[], allowEmpty: boolean): Charge[] {
  if (!Array.isArray(charges) || (!allowEmpty && charges.length === 0))
    throw new UsageError('a run plan needs at least one charge (partition and mechanism)');
  charges.forEach((c, i) => {
    const where = `charge ${i + 1}`;
    if (
      c.partition !== '*' &&
      !(typeof c.partition === 'string' && c.partition.startsWith('label:') && c.partition.length > 'label:'.length)
    ) {
      throw new UsageError(`${where}: partition must be "*" or "label:<name>"; got ${JSON.stringify(c.partition)}`);
    }
    const m = c.mechanism as MechanismSpec | undefined;
    if (!m || !isMechanismKind(m.kind))
      throw new UsageError(
        `${where}: mechanism kind must be ${MECHANISM_KINDS.map((k) => JSON.stringify(k)).join(' or ')}`,
      );
    if (!(Number.isFinite(m.sigma) && m.sigma > 0))
      throw new UsageError(`${where}: σ must be a positive number; got ${m.sigma}`);
    if (!(Number.isInteger(m.steps) && m.steps >= 0))
      throw new UsageError(`${where}: steps must be a whole number ≥ 0; got ${m.steps}`);
    if (isPoissonGaussian(m) && !(Number.isFinite(m.samplingRate) && m.samplingRate > 0 && m.samplingRate <= 1)) {
      throw new UsageError(`${where}: the sampling rate q must be in (0, 1]; got ${m.samplingRate}`);
    }
  });
  return charges;
}

/** The stored form of a charge: its label as a salted HMAC (format.ts), and μ on plain-Gaussian charges. */
export function stored(c: Charge, salt: string): StoredCharge {
  const partition = c.partition === '*' ? '*' : labelPartition(c.partition.slice('label:'.length), salt);
  const m = c.mechanism;
  return isPoissonGaussian(m)
    ? { partition, kind: m.kind, sigma: m.sigma, samplingRate: m.samplingRate, steps: m.steps }
    : { partition, kind: m.kind, sigma: m.sigma, steps: m.steps, mu: Math.sqrt(m.steps) / m.sigma };
}

/** True when `used` has, in some partition, a mechanism with more steps than `planned` reserved for it. */
export function exceeds(used: StoredCharge[], planned: StoredCharge[]): boolean {
  const key = (c: StoredCharge) => `${c.partition}|${c.kind}|${c.sigma}|${isPoissonGaussian(c) ? c.samplingRate : ''}`;
  const sum = (cs: StoredCharge[]) => {
    const m = new Map<string, number>();
    for (const c of cs) m.set(key(c), (m.get(key(c)) ?? 0) + c.steps);
    return m;
  };
  const p = sum(planned);
  for (const [k, steps] of sum(used)) if (steps > 0 && steps > (p.get(k) ?? 0)) return true;
  return false;
}

/** Nothing left to spend (up to float noise from composing the same charges in another order). */
export function isExhausted(spent: number, total: number): boolean {
  return total - spent <= 1e-9 * total;
}

export function distinct<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

/**
 * Refuses a run whose privacy unit differs from one recorded by an earlier run on the same data. A user-level
 * guarantee does not bound row-level neighbours at the same ε (removing one row changes a user's data, it does not
 * remove a user), and a row-level one bounds a user only through group privacy; neither composes with the other
 * into one guarantee, so the ledger refuses rather than guess. Lines written before units were recorded carry none
 * and are composed with any unit.
 */
export function checkUnit(ds: LedgerDataset, runs: { reserved: ReservedLine }[]): void {
  const unit = privacyUnitOf(ds);
  const other = runs.find((r) => r.reserved.unit !== undefined && r.reserved.unit !== unit);
  if (!other) return;
  const theirs = other.reserved.unit!;
  throw new UserError(
    `${ds.identity.path}: this run's privacy unit is ${describeUnit(unit)}, but the run at ledger line ${other.reserved.seq} on the same data used ${describeUnit(theirs)}; guarantees for different privacy units do not compose into one, so nothing was reserved`,
    theirs === 'row'
      ? 'Run without --unit-column (in the editor: clear the setting privateFewShot.data.unitColumn), as the earlier runs did, or keep the user-level budget in a separate workspace deliberately.'
      : `Run with --unit-column ${theirs.slice('column:'.length)} (in the editor: set privateFewShot.data.unitColumn to it), as the earlier runs did, or keep this unit's budget in a separate workspace deliberately.`,
  );
}

/** The ledger's header line, appended to `bodies` when the ledger has none; returns its label salt. */
export function ensureHeader(parsed: ParsedLedger, bodies: LineBody[], now: () => Date): string {
  if (parsed.header) return parsed.header.labelSalt;
  const labelSalt = randomBytes(16).toString('hex');
  bodies.push({
    time: now().toISOString(),
    tool: TOOL_VERSION,
    type: 'ledger',
    format: LEDGER_FORMAT,
    version: LEDGER_VERSION,
    labelSalt,
  });
  return labelSalt;
}

/** A budget line for `ds`. */
export function budgetBody(
  now: () => Date,
  ds: LedgerDataset,
  epsilon: number,
  delta: number,
  source: 'default' | 'user',
  records?: { sha256: string; count: number },
): Omit<BudgetLine, 'seq' | 'prev' | 'hash'> {
  return {
    time: now().toISOString(),
    tool: TOOL_VERSION,
    type: 'budget',
    dataset: { ...toRef(ds.identity), ...(records ? { records } : {}) },
    epsilon,
    delta,
    source,
    units: ds.units,
    unit: privacyUnitOf(ds),
  };
}
