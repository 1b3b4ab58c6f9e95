import { calibrateSigma, epsilonFor } from '../privacy';
import { filterEpsilon } from '../privacy/filter';
import { DEFAULT_ACCOUNTANT } from '../privacy/types';
import type { AccountantName, LedgerAccountant } from './accountant';

/**
 * The production accountant for the ledger (src/core/privacy). Default 'pld': a pessimistic upper bound that
 * composes Poisson-subsampled and plain Gaussian charges in one account (plain-Gaussian-only pools are answered
 * exactly by the analytic Gaussian curve there). It gives each run's own ε and the "as if planned" composition.
 */
export function defaultAccountant(name: AccountantName = DEFAULT_ACCOUNTANT): LedgerAccountant {
  return {
    name,
    epsilonFor: (specs, delta) => epsilonFor(specs, delta, name),
    calibrateSigma: (target, shape) => calibrateSigma(target, shape, name),
  };
}

/**
 * The budget filter's per-pool ε (src/core/privacy/filter.ts): valid when runs are chosen after reading earlier
 * outputs. `calibrateSigma` is only a starting guess for refusal suggestions (each is checked against the filter).
 */
export function defaultFilter(): LedgerAccountant {
  return {
    name: 'renyi-filter-v1',
    epsilonFor: (specs, delta) => filterEpsilon(specs, delta),
    calibrateSigma: (target, shape) => calibrateSigma(target, shape, 'rdp'),
  };
}
