// Every parameter and figure of the run forms and their plans, in plain words: the fields' tooltips and the
// "What do these mean?" list. Sources: Tang et al., ICLR 2024 (DP few-shot, §3) and Xie et al., ICML 2024 (Aug-PE,
// Alg. 1); μ-GDP composition from Dong, Roth & Su, 2022 (Gaussian differential privacy, Cor. 3.3).
import { LIMITS } from '../src/shared/limits';

const HELP = {
  epsilon:
    'How much privacy this run may spend, taken from the dataset’s budget. Smaller is more private and noisier; the run is refused if it does not fit in what is left.',
  shots: 'How many demonstrations to write for each ticked label. Each one is paid for in privacy.',
  prompts:
    'M: how many prompts vote on every next token. Each prompt holds a few private examples (N = 2). More prompts average the noise away, but need more rows per label.',
  maxTokens:
    'T_max: the longest a demonstration may be, in tokens. Every token is one noisy vote, so longer demonstrations split the privacy budget over more votes.',
  count: 'How many synthetic records to write in all, split evenly over the ticked labels.',
  iterations:
    'T: rounds of “the private rows vote for the best candidates, then the model rewrites the winners”. Each round is one noisy vote: more rounds refine the text but leave less privacy per vote.',
  variations:
    'L − 1: how many rewrites of each kept record are written per round. More candidates give the vote more choice but spread each private row’s vote thinner.',
} as const;

/** A number field of a run form: its element id, its name on the form (also its term in the glossary), its help. */
export interface FieldSpec {
  readonly id: string;
  readonly label: string;
  readonly help: string;
  /** The input's min, max and step. */
  readonly attrs: Readonly<Record<string, string>>;
}

const whole = (max?: number) => ({ min: '1', ...(max === undefined ? {} : { max: String(max) }), step: '1' });

/** The run forms' number fields, declared once for the forms and the glossary. */
export const FIELDS = {
  epsilon: { id: 'epsilon', label: 'ε for this run', help: HELP.epsilon, attrs: { min: '0.01', step: 'any' } },
  shots: { id: 'shots', label: 'Shots per label', help: HELP.shots, attrs: whole() },
  prompts: { id: 'prompts', label: 'Prompts M', help: HELP.prompts, attrs: whole() },
  maxTokens: { id: 'max-tokens', label: 'Max tokens T_max', help: HELP.maxTokens, attrs: whole() },
  count: { id: 'count', label: 'Records in total', help: HELP.count, attrs: whole(LIMITS.count.max) },
  iterations: { id: 'iterations', label: 'Iterations T', help: HELP.iterations, attrs: whole(LIMITS.iterations.max) },
  variations: {
    id: 'variations',
    label: 'Variations per record (L − 1)',
    help: HELP.variations,
    attrs: whole(LIMITS.variations.max),
  },
} as const satisfies Record<string, FieldSpec>;

/** The glossary entries of form fields: the name on the form and its help. */
const terms = (...fields: FieldSpec[]): [string, string][] => fields.map((x) => [x.label, x.help]);

const COMMON: readonly (readonly [string, string])[] = [
  ['ε (epsilon)', HELP.epsilon],
  [
    'δ (delta)',
    'The small chance that the ε promise does not hold. It is fixed per dataset, far below one over the number of rows.',
  ],
  [
    'Budget',
    'The total ε this dataset may ever spend. Runs add up; what was spent stays spent. “Remaining after this run” is what would be left.',
  ],
  [
    'σ (sigma)',
    'The size of the random (Gaussian) noise added to every private vote. Larger σ hides each row better and leaves less signal.',
  ],
];

export const GENERATE_GLOSSARY: readonly (readonly [string, string])[] = [
  ...COMMON,
  ...terms(FIELDS.shots, FIELDS.prompts, FIELDS.maxTokens),
  [
    'q (sampling rate)',
    'The chance that a private row joins the prompts of a given token: M·N divided by the rows of its label. A small q hides each row better; q = 1 (too few rows) means no such help.',
  ],
  [
    'σ_c and ñ',
    'Before writing, each label’s number of rows is released with noise σ_c (ñ is that noisy count). It sets q and σ, and costs a small share of ε.',
  ],
  ['Token steps', 'Shots × T_max: how many noisy votes a label’s demonstrations take at most.'],
];

export const SYNTH_GLOSSARY: readonly (readonly [string, string])[] = [
  ...COMMON,
  ...terms(FIELDS.count, FIELDS.iterations, FIELDS.variations),
  [
    'μ (GDP)',
    'One number that sums up all the noisy votes of the run (Gaussian differential privacy: μ = √T / σ). Smaller μ is more private; ε at δ follows from it.',
  ],
  ['Noisy histogram', 'The count of private votes for each candidate, with noise σ added: one per iteration.'],
  [
    'Embedder',
    'Turns texts into vectors so each private row can vote for its nearest candidate. It is the only part that sees private rows.',
  ],
  ['Candidates per iteration', 'The synthetic texts a label’s private rows vote among: L × its records.'],
];
