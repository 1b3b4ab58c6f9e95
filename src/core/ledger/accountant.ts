/**
 * The slice of the privacy accountants the ledger needs. It mirrors the contract of `src/core/privacy`
 * (`epsilonFor`, `calibrateSigma`); the ledger takes it as a parameter so tests can count or replace calls, and
 * `defaultAccountant()` binds the real one.
 */
export type MechanismSpec =
  | { kind: 'poisson-gaussian'; sigma: number; samplingRate: number; steps: number }
  | { kind: 'gaussian'; sigma: number; steps: number };

export type AccountantName = 'pld' | 'rdp' | 'gdp';

export interface LedgerAccountant {
  /** Name recorded with each reservation (which accountant checked it). */
  readonly name: string;
  /** An upper bound on ε at `delta` for the composition of `specs` (all on one pool). */
  epsilonFor(specs: MechanismSpec[], delta: number): number;
  /** The smallest σ for which one run of `shape` alone meets `target`. */
  calibrateSigma(
    target: { epsilon: number; delta: number },
    shape: { kind: MechanismSpec['kind']; samplingRate?: number; steps: number },
  ): number;
}
