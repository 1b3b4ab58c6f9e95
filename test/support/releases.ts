// Inputs for the release builders shaped like a plan and a run result, carrying every local diagnostic the real ones
// carry (usage, dataset path and hash, duration, reused, pool sizes): the builders must pick none of it.
import type { AugPeReleaseInput, FewShotReleaseInput } from '../../src/core/release';

export function fakeFewShotInput(o: { offline?: boolean } = {}): FewShotReleaseInput {
  const offline = o.offline ?? true;
  return {
    plan: {
      settings: {
        labels: ['a', 'b'],
        shots: 1,
        epsilon: 2,
        delta: 1e-5,
        prompts: 3,
        examplesPerPrompt: 2,
        maxTokens: 6,
      },
      labels: [
        { label: 'a', sigma: 1.5, steps: 6, poolUnits: 40, samplingRate: 0.15, noiseStd: 0.7 },
        { label: 'b', sigma: 1.6, steps: 6, poolUnits: 35, samplingRate: 0.17, noiseStd: 0.75 },
      ] as unknown as FewShotReleaseInput['plan']['labels'],
      epsilonRun: 1.99,
    },
    result: {
      status: 'completed',
      demonstrations: [
        { label: 'a', text: 'one' },
        { label: 'b', text: 'two' },
      ],
      epsilonCharged: 1.99,
      labels: [
        { label: 'a', sigma: 1.5, samplingRate: 0.15 },
        { label: 'b', sigma: 1.6, samplingRate: 0.17 },
      ],
      counts: { noisy: [40.3, 34.6], sigma: 9.9, epsilon: 0.2 },
      reservation: { epsilonRun: 1.99 },
      report: {
        tool: '0.1.0',
        algorithm: 'dp-few-shot',
        dataset: { path: 'secret.csv', contentSha256: 'ab'.repeat(32) },
        provider: { kind: 'builtin', model: 'builtin-ngram-v2', offline },
        privacy: { unit: 'row', epsilon: 2, delta: 1e-5 },
        parameters: { topK: 20, lookahead: 4, shotConcurrency: 1, labels: ['a', 'b'] },
        usage: { calls: 9, reused: 4, inputTokens: 777, outputTokens: 9, cost: 0 },
        durationMs: 1234,
      } as FewShotReleaseInput['result']['report'],
    } as unknown as FewShotReleaseInput['result'],
  };
}

export function fakeAugPeInput(): AugPeReleaseInput {
  return {
    plan: {
      settings: {
        labels: ['a', 'b'],
        epsilon: 1,
        delta: 1e-5,
        iterations: 2,
        fractions: [0.5, 0.5],
        variations: 3,
        neighbours: 1,
        metric: 'l2',
        threshold: 0,
        variation: 'fill-blanks',
        maskProbability: 0.5,
        temperature: 1,
        maxTokens: 64,
        lookahead: 0,
        selection: 'rank',
      },
      classCounts: 'equal',
      labels: [
        { count: 2, rows: 40, units: 40, population: 8 },
        { count: 2, rows: 35, units: 35, population: 8 },
      ] as unknown as AugPeReleaseInput['plan']['labels'],
      sigma: 3,
      epsilonRun: 0.99,
    },
    result: {
      status: 'completed',
      records: [
        { label: 'a', text: 'r1' },
        { label: 'b', text: 'r2' },
      ],
      histograms: 2,
      epsilonCharged: 0.99,
      reservation: { epsilonRun: 0.99 },
      report: {
        provider: { kind: 'builtin', model: 'builtin-ngram-v2', offline: true },
        embedder: { kind: 'builtin', model: 'builtin-ngram-v2', offline: true },
        privacy: { unit: 'row', mu: Math.SQRT2 / 3 },
        parameters: { counts: [2, 2] },
        dataset: { path: 'secret.csv', contentSha256: 'ab'.repeat(32) },
        usage: { calls: 9, inputTokens: 777, outputTokens: 9, cost: 0 },
        durationMs: 1234,
      } as AugPeReleaseInput['result']['report'],
      privateEmbeddingUsage: { calls: 1, inputTokens: 300, outputTokens: 0, cost: 0 },
    } as AugPeReleaseInput['result'],
  };
}

/** The DP text replaced by a marker (and DP few-shot's σ, a post-processing of the noisy pool counts): what remains
 * of an export must not depend on the private data. */
export function withoutDpText(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(withoutDpText);
  if (x && typeof x === 'object')
    return Object.fromEntries(
      Object.entries(x).map(([k, v]) => [
        k,
        k === 'text' || k === 'content'
          ? '<DP text>'
          : k === 'sigma' && 'label' in x && 'steps' in x
            ? '<σ from the DP pool counts>' // DP few-shot: calibrated from the noisy counts (post-processing)
            : withoutDpText(v),
      ]),
    );
  return x;
}
