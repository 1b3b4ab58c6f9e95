// Starting points for the run forms. Each was planned on the example data (examples/banking77-sample.csv: 7 to 37
// rows per label) with the first 3 labels, the first 10 and all 77, and gives no plan warning there
// (test/shared/presets.test.ts checks it). Public settings only: nothing here is read from a dataset.

export type PresetName = 'quick' | 'balanced' | 'strong';

export interface Preset<V> {
  name: PresetName;
  title: string;
  /** One line in plain words: what the preset is for. */
  summary: string;
  values: V;
}

export interface GeneratePresetValues {
  shots: number;
  epsilon: number;
  prompts: number;
  maxTokens: number;
}

export interface SynthPresetValues {
  /** "Records in total" is this times the number of ticked labels (at least one). */
  recordsPerLabel: number;
  epsilon: number;
  iterations: number;
  variations: number;
}

/** The three presets every form offers, in this order, with their titles. */
const PRESET_TITLES: Readonly<Record<PresetName, string>> = {
  quick: 'Quick test',
  balanced: 'Balanced',
  strong: 'Strong privacy',
};

/** One form's presets from its rows: per preset, the one-line summary and the values. */
function presets<V>(rows: Record<PresetName, [summary: string, values: V]>): readonly Preset<V>[] {
  return (Object.keys(PRESET_TITLES) as PresetName[]).map((name) => ({
    name,
    title: PRESET_TITLES[name],
    summary: rows[name][0],
    values: rows[name][1],
  }));
}

/**
 * DP few-shot. M = 3 prompts of N = 2 examples keeps M·N = 6 below the smallest label's 7 rows, so every label is
 * subsampled (q < 1; Tang et al., ICLR 2024, §3): with M·N above a label's pool the planner warns that q = 1.
 */
export const GENERATE_PRESETS = presets<GeneratePresetValues>({
  quick: ['One short demonstration per label: a fast first look.', { shots: 1, epsilon: 1, prompts: 3, maxTokens: 24 }],
  balanced: [
    'Two demonstrations per label of up to 48 tokens at ε 2.',
    { shots: 2, epsilon: 2, prompts: 3, maxTokens: 48 },
  ],
  strong: [
    'One demonstration per label at ε 0.5: more private, noisier text.',
    { shots: 1, epsilon: 0.5, prompts: 3, maxTokens: 32 },
  ],
});

/**
 * Aug-PE. Few iterations and one variation per record keep the noise σ = √T/μ(ε, δ) below the vote mass a
 * candidate gets (Xie et al., ICML 2024, Alg. 1; the planner warns "mostly noise" otherwise).
 */
export const SYNTH_PRESETS = presets<SynthPresetValues>({
  quick: [
    'One record per label from a single noisy vote.',
    { recordsPerLabel: 1, epsilon: 2, iterations: 1, variations: 1 },
  ],
  balanced: [
    'One record per label refined over two noisy votes at ε 2.',
    { recordsPerLabel: 1, epsilon: 2, iterations: 2, variations: 1 },
  ],
  strong: [
    'One record per label from a single vote at ε 1.5.',
    { recordsPerLabel: 1, epsilon: 1.5, iterations: 1, variations: 1 },
  ],
});

/** "Records in total" for a synth preset and the number of ticked labels. */
export function presetCount(v: SynthPresetValues, labels: number): number {
  return v.recordsPerLabel * Math.max(1, labels);
}

/** The Balanced preset of a list (the forms' initial values). */
export function balanced<V>(presets: readonly Preset<V>[]): Preset<V> {
  const p = presets.find((x) => x.name === 'balanced');
  if (!p) throw new Error('no Balanced preset');
  return p;
}
