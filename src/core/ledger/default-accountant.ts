import { calibrateSigma, epsilonFor } from '../privacy';
import type { AccountantName, LedgerAccountant } from './accountant';

/**
 * The production accountant for the ledger (src/core/privacy). Default 'pld': a pessimistic upper bound that
 * composes Poisson-subsampled and plain Gaussian charges in one account (plain-Gaussian-only pools are answered
 * exactly by the analytic Gaussian curve there).
 */
export function defaultAccountant(name: AccountantName = 'pld'): LedgerAccountant {
  return {
    name,
    epsilonFor: (specs, delta) => epsilonFor(specs, delta, name),
    calibrateSigma: (target, shape) => calibrateSigma(target, shape, name),
  };
}
