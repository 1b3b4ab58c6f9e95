import path from 'node:path';
import { EXPORT_FORMATS } from '../../core/fewshot/export';
import { FEWSHOT_DEFAULTS, type FewShotPlan } from '../../core/fewshot/plan';
import { prepareFewShot } from '../../core/fewshot/prepare';
import { runFewShot } from '../../core/fewshot/run';
import { printableOneLine } from '../../core/text-safety';
import { dryRunBudget } from '../ledger';
import { createProvider, DEFAULT_PRICES, priceFor } from '../../core/providers';
import { estimateTokens } from '../../core/providers/usage';
import { fewShotDataFlow, flowParty, type DataFlow } from '../../core/providers/endpoint';
import { fewShotDiagnostics, fewShotRelease } from '../../core/release';
import { valueFlags } from '../args';
import { limitFlag } from '../run-flags';
import { runAndReport, runOptions, runUsage, runWarnings, startRun, type RunCommand } from '../run-report';
import { LIMITS } from '../../shared/limits';
import { providerUsage } from '../provider-flags';
import { formatEpsilon } from '../../shared/format';

export const demos: RunCommand<(typeof EXPORT_FORMATS)[number]> = {
  name: 'demos',
  summary:
    'Write few-shot demonstrations with a differential-privacy guarantee (Tang et al. 2024) and charge the ledger.',
  usage: `${runUsage.head('demos', '--shots N', 'demonstrations')}
  --shots N                 demonstrations per label
${runUsage.budget}
  --prompts M               prompts per token (default ${FEWSHOT_DEFAULTS.prompts})
  --examples-per-prompt N   expected private examples per prompt (default ${FEWSHOT_DEFAULTS.examplesPerPrompt}; q = M·N/ñ, ñ the
                            pool size released with Gaussian noise at the start of the run)
  --count-share S           share of ε and δ for the noisy pool counts (default ${FEWSHOT_DEFAULTS.countShare}); the token steps get the rest
  --max-tokens T            token budget per demonstration (default ${FEWSHOT_DEFAULTS.maxTokens}); charged in full
  --lookahead L             tokens of speculation per request (default 1; ${FEWSHOT_DEFAULTS.lookahead} for builtin); same output
  --shot-concurrency C      a label's demonstrations written at once (default: all); same output and ε, but a
                            cancel charges every started demonstration in full, so 1 keeps a cancel cheap
${providerUsage}
  --format F                json | jsonl | chat | text (default text)
${runUsage.template}
  --out FILE                write the demonstrations there (default: stdout)
  --dry-run                 print the plan (count noise, steps, calls, cost, budget after) and touch nothing
  --json                    print one JSON object: "release" (what --out writes with --format json: the
                            demonstrations and public parameters) and "localOnlyNotPrivate" (usage, pool sizes,
                            budget, journal: computed from the private data, never to be shared)
${runUsage.workspace}`,
  options: {
    ...valueFlags('shots prompts examples-per-prompt count-share max-tokens lookahead shot-concurrency'),
    ...runOptions,
  },
  example: 'examples/banking77-sample.csv --labels card_arrival --shots 2 --epsilon 4',
  amount: ['shots', LIMITS.shots],
  formats: EXPORT_FORMATS,
  async run(values, positionals, io) {
    const start = await startRun(demos, values, positionals, io, () => undefined);
    const { ds, summary, ledger } = start;
    const {
      target,
      plan,
      check,
      status: before,
    } = await prepareFewShot(
      ds,
      ledger,
      {
        labels: start.labels,
        shots: start.amount,
        epsilon: start.epsilon,
        delta: start.delta,
        prompts: limitFlag(values, 'prompts', LIMITS.prompts),
        examplesPerPrompt: limitFlag(values, 'examples-per-prompt', LIMITS.examplesPerPrompt),
        maxTokens: limitFlag(values, 'max-tokens', LIMITS.demoMaxTokens),
        countShare: limitFlag(values, 'count-share', LIMITS.countShare),
      },
      summary,
    );
    const warnings = runWarnings(plan.warnings, check, target, start.file);
    const lookaheadFlag = limitFlag(values, 'lookahead', LIMITS.lookahead);
    const provider = createProvider(start.providerConfig);
    const offline = provider.offline;
    const lookahead = lookaheadFlag ?? (offline ? FEWSHOT_DEFAULTS.lookahead : 1);
    const shotConcurrency = Math.min(
      plan.settings.shots,
      limitFlag(values, 'shot-concurrency', LIMITS.shotConcurrency) ?? plan.settings.shots,
    );
    const estimate = estimateRun(
      plan,
      ds.examples.length ? averageLength(ds.examples.map((e) => e.text)) : 0,
      provider.model,
      lookahead,
      offline,
      shotConcurrency,
    );
    const view = {
      plan: planView(plan),
      budget: dryRunBudget(check),
      estimate,
      provider: { kind: provider.kind, model: provider.model, offline },
      // Where private data goes, the same sentence as the Generate panel's plan (core/providers/endpoint.ts).
      dataFlow: fewShotDataFlow(flowParty(provider)),
      warnings,
    };
    return runAndReport(io, values, start, target, {
      before,
      view,
      fits: check.fits,
      format: formatPlan,
      plan,
      provider,
      warnings,
      run: (inputs, progress) =>
        runFewShot({
          ...inputs,
          lookahead,
          shotConcurrency,
          // Warnings that follow from the noisy pool counts (DP outputs), given as soon as they are drawn.
          onWarnings: (ws) => ws.forEach((w) => io.err(`warning: ${w}`)),
          onProgress: (p) =>
            progress(
              () => `… ${p.label} #${p.shot + 1}: ${p.tokens} tokens, ${p.calls} calls, ${p.roundTrips} round trips`,
            ),
        }),
      report: (result) => {
        const u = result.report.usage;
        return {
          release: fewShotRelease({ plan, result }),
          diagnostics: (journal) => fewShotDiagnostics(result, journal),
          released: `${result.demonstrations.length} demonstration(s)`,
          charged: result.status === 'completed' ? '' : ` of ${result.reservation.epsilonRun.toFixed(3)} planned`,
          usage: `${u.calls} calls in ${u.roundTrips} round trips, ${u.inputTokens} input and ${u.outputTokens} output tokens, $${u.cost.toFixed(4)}`,
          refused:
            result.refusedPrompts > 0
              ? `the server refused ${result.refusedPrompts} private prompt request(s); each voted the zero vector, which the DP guarantee covers.`
              : undefined,
          kept: `What was written is kept in ${path.relative(start.root, result.checkpoint)} and charged.`,
        };
      },
    });
  },
};

function averageLength(texts: string[]): number {
  return texts.reduce((a, t) => a + t.length, 0) / texts.length;
}

/**
 * Upper-bound estimates (one token at a time, no reuse): what the plan may cost. Round trips are the critical path:
 * labels run in parallel and a label's shots `shotConcurrency` at a time, one wave of requests per token.
 */
function estimateRun(
  plan: FewShotPlan,
  avgChars: number,
  model: string,
  lookahead: number,
  offline: boolean,
  shotConcurrency: number,
) {
  const s = plan.settings;
  const steps = s.labels.length * s.shots * s.maxTokens;
  const calls = steps * (s.prompts + 1);
  const promptTokens = estimateTokens('x'.repeat(Math.round(120 + s.examplesPerPrompt * (avgChars + 20))));
  const inputTokens = calls * promptTokens;
  const outputTokens = calls * lookahead;
  const price = priceFor(model, DEFAULT_PRICES);
  const cost = offline ? 0 : price ? (inputTokens * price.input + outputTokens * price.output) / 1e6 : null;
  const secondsPerRoundTrip = offline ? 0.01 : 0.5;
  const roundTrips = Math.ceil(s.shots / shotConcurrency) * s.maxTokens;
  return {
    maxCalls: calls,
    maxRoundTrips: roundTrips,
    inputTokens,
    outputTokens,
    costUSD: cost,
    seconds: Math.ceil(roundTrips * secondsPerRoundTrip),
  };
}

function planView(plan: FewShotPlan) {
  return {
    epsilon: plan.settings.epsilon,
    epsilonRun: plan.epsilonRun,
    delta: plan.settings.delta,
    accountant: plan.accountant,
    prompts: plan.settings.prompts,
    examplesPerPrompt: plan.settings.examplesPerPrompt,
    maxTokens: plan.settings.maxTokens,
    shots: plan.settings.shots,
    sequential: plan.sequential,
    // The pool sizes are released with Gaussian noise at the start of the run; q = M·N/ñ and the token σ follow from
    // them. Nothing here is computed from the exact pool sizes.
    countRelease: {
      sigma: plan.counts.sigma,
      epsilon: plan.counts.epsilon,
      delta: plan.counts.delta,
      share: plan.settings.countShare,
    },
    labels: plan.labels.map((l) => ({ label: l.label, steps: l.steps })),
  };
}

function formatPlan(
  o: {
    plan: ReturnType<typeof planView>;
    budget: ReturnType<typeof dryRunBudget>;
    estimate: ReturnType<typeof estimateRun>;
    provider: { kind: string; model: string; offline: boolean };
    dataFlow: DataFlow;
    warnings: string[];
  },
  budgetLines: string[],
): string[] {
  const f = formatEpsilon;
  return [
    `  ε ${o.plan.epsilon} at δ ${o.plan.delta.toExponential(2)} with the PLD accountant; the planned charges compose (PLD) to ε = ${f(o.plan.epsilonRun)}`,
    `  M = ${o.plan.prompts} prompts, N = ${o.plan.examplesPerPrompt} expected examples per prompt, T_max = ${o.plan.maxTokens}, ${o.plan.shots} shot(s) per label${o.plan.sequential ? ' (labels compose in sequence)' : ' (labels compose in parallel)'}`,
    `  1. pool counts released with Gaussian noise σ_c = ${f(o.plan.countRelease.sigma)}: ε ${f(o.plan.countRelease.epsilon)} at δ ${o.plan.countRelease.delta.toExponential(2)} (${f(100 * o.plan.countRelease.share)}% of ε and δ)`,
    `  2. then per label ${o.plan.labels[0]!.steps} token steps at q = M·N/ñ (ñ the noisy count), σ set from ñ for the rest of ε and δ: ${o.plan.labels.map((l) => printableOneLine(l.label)).join(', ')}`,
    `  model: ${o.provider.kind}/${o.provider.model}${o.provider.offline ? ' (built-in offline model: for trying the tool)' : ''}`,
    `  data: ${o.dataFlow.sentence}`,
    `  at most ${o.estimate.maxCalls} calls in ${o.estimate.maxRoundTrips} round trips (labels and shots run concurrently), ≈${o.estimate.inputTokens} input and ${o.estimate.outputTokens} output tokens, cost ${o.estimate.costUSD === null ? 'unknown (model not in the price table)' : `≤ $${o.estimate.costUSD.toFixed(2)}`}, ≤ ${o.estimate.seconds} s`,
    ...budgetLines,
    ...o.warnings.map((w) => `warning: ${w}`),
  ];
}
