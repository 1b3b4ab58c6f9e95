/** The refusal of a reservation that would pass the dataset's total, with what would fit. */
import { UserError } from '../errors';
import { distinct, isExhausted } from './charges';
import type { PlanCheck, RunPlan } from './types';
import { formatDelta, formatEpsilon } from '../../shared/format';

/** A refused reservation: the run would pass the dataset's total. */
export class BudgetExceededError extends UserError {
  constructor(
    readonly check: PlanCheck,
    datasetPath: string,
    plan: RunPlan,
  ) {
    const f = (x: number) => fmt(x);
    const s = check.suggestion ?? {};
    const options: string[] = [];
    const sigmas = distinct(plan.charges.map((c) => c.mechanism.sigma));
    if (s.sigmas) {
      const after = distinct(s.sigmas);
      options.push(
        sigmas.length === 1 && after.length === 1
          ? `noise σ ≥ ${after[0]} (planned ${sigmas[0]})`
          : `noise σ of ${s.sigmas.join(', ')} (planned ${plan.charges.map((c) => c.mechanism.sigma).join(', ')})`,
      );
    }
    if (s.steps) {
      const planned = plan.charges.map((c) => c.mechanism.steps);
      options.push(
        distinct(planned).length === 1
          ? `at most ${s.steps[0]} steps (planned ${planned[0]})`
          : `at most ${s.steps.join(', ')} steps (planned ${planned.join(', ')})`,
      );
    }
    const exhausted = isExhausted(check.spentBefore, check.total.epsilon);
    const pld =
      check.pldAfter <= check.total.epsilon
        ? `; composed as if every run had been planned in advance it would be ε = ${f(check.pldAfter)}, but runs chosen after reading earlier outputs need the budget filter`
        : '';
    super(
      `this run would bring the spent privacy budget of ${datasetPath} to ε = ${f(check.spentAfter)}, over its total ε = ${f(check.total.epsilon)} by ${f(check.over)} (spent so far ${f(check.spentBefore)}, remaining ${f(Math.max(0, check.total.epsilon - check.spentBefore))}; this run alone ε = ${f(check.epsilonRun)} at δ = ${formatDelta(check.total.delta)}${pld}); nothing was reserved`,
      exhausted
        ? `The budget is used up. Raise the total only if you accept the larger privacy loss: private-fewshot budget ${datasetPath} --set-total EPS.`
        : options.length
          ? `To fit, use ${options.join(', or ')}; or raise the total: private-fewshot budget ${datasetPath} --set-total EPS.`
          : `No smaller run of this shape fits. Raise the total only if you accept the larger privacy loss: private-fewshot budget ${datasetPath} --set-total EPS.`,
    );
    this.name = 'BudgetExceededError';
  }
}

/**
 * The ledger's refusal after it crossed a thread boundary (core/worker/protocol.ts): the message and hint of the
 * BudgetExceededError the ledger threw on the other side, without its PlanCheck.
 */
export class BudgetRefusal extends UserError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'BudgetRefusal';
  }
}

/** True for the ledger's refusal, on either side of a worker boundary. */
export function isBudgetRefusal(e: unknown): e is UserError {
  return e instanceof BudgetExceededError || e instanceof BudgetRefusal;
}

const fmt = formatEpsilon;
