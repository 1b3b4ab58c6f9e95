/**
 * Resuming an Aug-PE run (docs/AUGPE.md "Resume"): the resumable state a run keeps in <runs>/<id>.state.json (public
 * parameters and DP outputs only), the checks a continuation must pass, and what it reserves and settles. The run
 * itself is run.ts.
 */
import type { Dataset } from '../data';
import { UserError } from '../errors';
import type { Charge, RunPlan } from '../ledger';
import type { Provider } from '../providers/types';
import { mayBeRunning, readState, type RunStateBase } from '../runs/state';
import type { AugPePlan } from './plan';

/** A selected candidate with its noisy vote count (a DP output). */
export interface Selected {
  text: string;
  votes: number;
}

/**
 * The resumable state of an Aug-PE run (<runs>/<id>.state.json): public parameters and DP outputs only. `started`
 * histograms are charged (a histogram counts from its start); `iteration` is the last one whose selection is kept.
 */
export interface AugPeState extends RunStateBase {
  type: 'aug-pe-state';
  version: 1;
  /** The public parameters a continuation must repeat exactly. */
  parameters: AugPeParameters;
  started: number;
  iteration: number;
  selected: Record<string, Selected[]>;
  /** DP class fractions: the class sizes from the noisy label counts, released (and charged) once by the first part;
   * a continuation reuses them and never releases them again. */
  classCounts?: { counts: number[]; noisy: number[] };
}

/** What a continuation must share with the run it continues. */
export interface AugPeParameters {
  dataset: string;
  unit: string;
  embedder: string;
  sigma: number;
  settings: AugPePlan['settings'];
  counts: number[];
}

/** Where a resumed run starts (loadAugPeResume). */
export interface AugPeResumePoint {
  state: AugPeState;
  /** The folder of the state and checkpoint files. */
  dir: string;
  /** The stopped part never settled (its process died): its reservation is still open at its planned size. */
  crashed: boolean;
}

/** What a continuation is compared on: the dataset, the plan, and the models' names. */
export interface ResumeCheck {
  dataset: Pick<Dataset, 'identity' | 'columns'>;
  plan: AugPePlan;
  provider: Pick<Provider, 'kind' | 'model'>;
  embedder?: Pick<Provider, 'kind' | 'model'>;
}

/** The public parameters of a planned run, as a continuation must repeat them. */
export function augPeParameters(o: ResumeCheck): AugPeParameters {
  const embedder = o.embedder ?? o.provider;
  return {
    settings: o.plan.settings,
    counts: o.plan.labels.map((l) => l.count),
    sigma: o.plan.sigma,
    dataset: o.dataset.identity.contentSha256,
    unit: o.dataset.columns.unit ?? 'row',
    embedder: `${embedder.kind}/${embedder.model}`,
  };
}

/**
 * Checks that run `id` (in `dir`) can be continued with these options, and says from where. Refused in one line: a
 * run that finished or was already continued, one still running, or a change of any public parameter.
 */
export function loadAugPeResume(dir: string, id: string, o: ResumeCheck): AugPeResumePoint {
  const state = readState<AugPeState>(dir, id);
  if (state.type !== 'aug-pe-state' || state.version !== 1)
    throw new UserError(`cannot resume ${id}: it is not an Aug-PE run state this version can read`);
  if (state.resumedBy) throw new UserError(`cannot resume ${id}: it was already resumed as ${state.resumedBy}`);
  const T = state.parameters.settings.iterations;
  if (state.status === 'completed' || state.started >= T)
    throw new UserError(`cannot resume ${id}: it finished all ${T} histograms; there is nothing left to run`);
  const crashed = state.status === 'running';
  if (crashed && mayBeRunning(state))
    throw new UserError(`cannot resume ${id}: it may still be running (process ${state.pid} on ${state.host})`);
  const changed = changedParameter(state.parameters, augPeParameters(o));
  if (changed)
    throw new UserError(
      `cannot resume ${id}: ${changed.key} was ${changed.was}, now ${changed.now}; pass the same dataset, flags and models as that run`,
    );
  return { state, dir, crashed };
}

/** The first public parameter that differs (dataset content hash and models included), if any. */
function changedParameter(
  was: AugPeParameters,
  now: AugPeParameters,
): { key: string; was: string; now: string } | undefined {
  const a = flatten(was);
  const b = flatten(now);
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
    if (a[k] !== b[k]) return { key: k.replace(/^settings\./, ''), was: a[k] ?? 'unset', now: b[k] ?? 'unset' };
  return undefined;
}

function flatten(x: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
    for (const [k, v] of Object.entries(x)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = JSON.stringify(x);
  return out;
}

/**
 * What a continuation reserves: the histograms left (T − started) at the plan's σ on the plan's partitions, in the
 * first part's ledger group, so that the parts are valued as one run of T histograms.
 */
export function resumePlan(plan: AugPePlan, point: AugPeResumePoint): RunPlan {
  return {
    ...plan.ledgerPlan,
    charges: histogramCharges(plan, plan.settings.iterations - point.state.started),
    group: point.state.group,
  };
}

/** The plan's histogram charges with `steps` Gaussian histograms at σ (one charge per partition); the DP class-count
 * release, when planned, is the first charge (plan.ts) and is not a histogram. */
export function histogramCharges(plan: AugPePlan, steps: number): Charge[] {
  return plan.ledgerPlan.charges.slice(classCharges(plan)).map((c) => ({
    partition: c.partition,
    mechanism: { kind: 'gaussian', sigma: plan.sigma, steps },
  }));
}

/**
 * A first part's charges in plan order: the class-count release (1 step if it was made, else 0), then `steps`
 * histograms on each histogram charge's partition.
 */
export function firstPartCharges(plan: AugPePlan, steps: number, classReleased: boolean): Charge[] {
  const n = classCharges(plan);
  return plan.ledgerPlan.charges.map((c, i) => ({
    partition: c.partition,
    mechanism:
      i < n
        ? { kind: 'gaussian', sigma: plan.sigmaClass!, steps: classReleased ? 1 : 0 }
        : { kind: 'gaussian', sigma: plan.sigma, steps },
  }));
}

/** How many of the plan's charges are the class-count release (0 or 1; plan.ts puts it first). */
export function classCharges(plan: AugPePlan): number {
  return plan.sigmaClass === undefined ? 0 : 1;
}
