// Built-in offline model: next-token latency after the prompt's counts are built (target: well under a few ms on a
// prompt of ~10 short examples), the cost of fitting a new prompt, generation and embedding throughput; then the label
// fidelity of DP few-shot demonstrations with and without the topic component (fidelity.ts). Set
// BENCH_BUILTIN_SHOTS to change the demonstrations per label of the fidelity part (default 12; 0 skips it).
import { performance } from 'node:perf_hooks';
import { createBuiltinProvider } from '../../src/core/providers/builtin';
import { BACKGROUND_CORPUS } from '../../src/core/providers/builtin/corpus';
import { TOPIC_WEIGHT } from '../../src/core/providers/builtin/model';
import { describe, loadSample, measureFidelity, type FidelityOptions } from './fidelity';

const EXAMPLES = [
  'My parcel has not arrived yet.',
  'The courier left the box at the wrong door.',
  'Can I change the delivery address on my order?',
  'The tracking page has not moved since Monday.',
  'My order arrived with a broken lamp.',
  'When will the missing chair be delivered?',
  'The driver did not ring the bell.',
  'Can I pick up the parcel from the depot?',
  'The box was crushed and wet.',
  'Why is my order still marked as processing?',
];

function prompt(examples: string[], salt = ''): string {
  return `Given a label, write an example of it.${salt}\n\n${examples.map((e) => `Label: "delivery"\nText: "${e}"\n`).join('\n')}\nLabel: "delivery"\nText: "`;
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `mean ${mean.toFixed(3)} ms, p50 ${q(0.5).toFixed(3)} ms, p95 ${q(0.95).toFixed(3)} ms (n=${s.length})`;
}

async function time(n: number, f: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f(i);
    out.push(performance.now() - t0);
  }
  return out;
}

export async function main(): Promise<void> {
  const p = createBuiltinProvider();
  const pr = prompt(EXAMPLES);
  const t0 = performance.now();
  await p.nextTokens({ prompt: pr, continuation: '', topK: 20, positions: 1 });
  console.log(
    `first call (background corpus fitted, ${BACKGROUND_CORPUS.length} sentences, + prompt): ${(performance.now() - t0).toFixed(1)} ms`,
  );

  const conts = ['', 'My', 'My parcel', 'The courier left', 'Can I change the', 'Why is my order still'];
  for (let w = 0; w < 50; w++)
    await p.nextTokens({ prompt: pr, continuation: conts[w % conts.length]!, topK: 20, positions: 1 });
  console.log(
    `nextTokens, cached 10-example prompt, positions=1, topK=20: ${stats(await time(600, (i) => p.nextTokens({ prompt: pr, continuation: conts[i % conts.length]!, topK: 20, positions: 1 })))}`,
  );
  console.log(
    `nextTokens, cached prompt, positions=8 (speculative), topK=20: ${stats(await time(200, (i) => p.nextTokens({ prompt: pr, continuation: conts[i % conts.length]!, topK: 20, positions: 8 })))}`,
  );
  // DP few-shot resamples its prompts at every token: each call fits a new prompt (cache miss).
  console.log(
    `nextTokens, new 2-example prompt every call (fit + predict): ${stats(await time(400, (i) => p.nextTokens({ prompt: prompt([EXAMPLES[i % 10]!, EXAMPLES[(i * 7 + 3) % 10]!], ` #${i}`), continuation: 'My', topK: 20, positions: 1 })))}`,
  );
  console.log(
    `nextTokens, new 10-example prompt every call (fit + predict): ${stats(await time(200, (i) => p.nextTokens({ prompt: prompt(EXAMPLES, ` #${i}`), continuation: 'My', topK: 20, positions: 1 })))}`,
  );

  const gen = await time(20, (i) =>
    p.generate({ prompt: pr, maxTokens: 30, n: 4, temperature: 1, stop: ['\n'], ...(i >= 0 ? {} : {}) }),
  );
  console.log(`generate, n=4, maxTokens=30, temperature 1: ${stats(gen)}`);
  const fillPrompt = `${EXAMPLES.map((e) => `Example: ${e}`).join('\n')}\nInput: The _ left the _ at the _ door and _ rang _ bell.\nFill-in-Blanks and your answer MUST be exactly 13 words:`;
  console.log(
    `generate fill-in-the-blanks (5 blanks), n=4: ${stats(await time(20, () => p.generate({ prompt: fillPrompt, maxTokens: 40, n: 4, temperature: 1 })))}`,
  );

  const texts = BACKGROUND_CORPUS.slice();
  const te = performance.now();
  for (let r = 0; r < 5; r++) await p.embed(texts);
  const perText = (performance.now() - te) / (5 * texts.length);
  console.log(
    `embed (dim 512): ${(perText * 1000).toFixed(1)} µs per short text, ${Math.round(1000 / perText)} texts/s`,
  );

  const shots = Number(process.env.BENCH_BUILTIN_SHOTS ?? 12);
  if (shots > 0) await fidelity(shots);
}

/**
 * Label fidelity (see fidelity.ts) on 6 labels of the Banking77 sample, T_max 24, M 10, N 2, seeded: the topic
 * component off (topicWeight 0, i.e. builtin-ngram-v1) and on. "noise only" (σ = 10⁶: the private vote has no
 * influence, the text is drawn from the public candidates) and "no noise" (σ = 0, not private) bracket what the
 * private vote adds.
 */
async function fidelity(shots: number): Promise<void> {
  const dataset = await loadSample();
  console.log(
    `\nlabel fidelity of DP few-shot demonstrations, 6 labels × ${shots} shots, T_max 24, M 10, N 2 (chance for nearest centroid: 0.167)`,
  );
  const rows: [string, Partial<FidelityOptions> & { epsilon: number }][] = [
    ['noise only, K 50', { epsilon: 8, sigma: 1e6 }],
    ['ε = 4, K 50', { epsilon: 4 }],
    ['ε = 8, K 50', { epsilon: 8 }],
    ['ε = 16, K 50', { epsilon: 16 }],
    ['no noise, K 50', { epsilon: 8, sigma: 0 }],
    ['ε = 8, K 20', { epsilon: 8, topK: 20 }],
  ];
  for (const [name, o] of rows) {
    for (const topicWeight of [0, TOPIC_WEIGHT]) {
      const t0 = performance.now();
      const f = await measureFidelity({ dataset, shots, maxTokens: 24, seed: 'bench', ...o, model: { topicWeight } });
      console.log(
        `${name.padEnd(17)} topic ${topicWeight.toFixed(2)}: ${describe(f)} [${((performance.now() - t0) / 1000).toFixed(1)} s]`,
      );
    }
  }
}
