/**
 * The slice of the privacy accountants the ledger needs. It mirrors the contract of `src/core/privacy`
 * (`epsilonFor`, `calibrateSigma`); the ledger takes it as a parameter so tests can count or replace calls, and
 * `defaultAccountant()` binds the real one. The vocabulary (MechanismSpec, AccountantName, the stored kinds) is
 * declared once, in privacy/types.ts.
 */
import type { MechanismSpec, RunShape } from '../privacy/types';

export type { AccountantName, MechanismSpec } from '../privacy/types';

export interface LedgerAccountant {
  /** Name recorded with each reservation (which accountant checked it). */
  readonly name: string;
  /** An upper bound on ε at `delta` for the composition of `specs` (all on one pool). */
  epsilonFor(specs: MechanismSpec[], delta: number): number;
  /** The smallest σ for which one run of `shape` alone meets `target`. */
  calibrateSigma(target: { epsilon: number; delta: number }, shape: RunShape): number;
}
