import type {
  Capabilities,
  NextTokensRequest,
  NextTokensResult,
  Provider,
  TokenLogprob,
} from '../../src/core/providers/types';

/**
 * A tiny deterministic "model" for algorithm tests: the next word follows the bigram counts of the prompt's own text
 * (plus a weak uniform background over a fixed vocabulary), so the examples in a prompt pull its distribution
 * toward their words. Tokens are words with a leading space, and "\n".
 */
export class BigramProvider implements Provider {
  readonly kind = 'test-bigram';
  readonly model = 'bigram';
  readonly offline = true;
  calls = 0;
  constructor(
    private readonly vocabulary: string[],
    private readonly background = 0.05,
  ) {}

  async capabilities(): Promise<Capabilities> {
    return {
      nextTokenLogprobs: { maxTopK: 20, mode: 'native', logitBias: false },
      generate: false,
      embed: false,
      notes: [],
    };
  }

  distribution(text: string): TokenLogprob[] {
    const tokens = text.match(/ ?[^\s]+|\n/g) ?? [];
    const last = tokens.at(-1) ?? '';
    const counts = new Map<string, number>();
    for (let i = 0; i + 1 < tokens.length; i++)
      if (tokens[i] === last) counts.set(tokens[i + 1]!, (counts.get(tokens[i + 1]!) ?? 0) + 1);
    const vocab = [...new Set([...this.vocabulary, ...counts.keys()])];
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const probs = vocab.map((tok) => ({
      token: tok,
      p:
        (1 - this.background) * (total ? (counts.get(tok) ?? 0) / total : 1 / vocab.length) +
        this.background / vocab.length,
    }));
    probs.sort((a, b) => b.p - a.p || (a.token < b.token ? -1 : 1));
    return probs.map(({ token, p }) => ({ token, logprob: Math.log(p) }));
  }

  async nextTokens(req: NextTokensRequest): Promise<NextTokensResult> {
    this.calls++;
    let text = req.prompt + req.continuation;
    const steps = [];
    for (let i = 0; i < req.positions; i++) {
      const top = this.distribution(text).slice(0, req.topK);
      steps.push({ token: top[0]!.token, top });
      text += top[0]!.token;
    }
    return { steps };
  }

  async generate(): Promise<never> {
    throw new Error('not supported');
  }
  async embed(): Promise<never> {
    throw new Error('not supported');
  }
  usage() {
    return { calls: this.calls, inputTokens: 0, outputTokens: 0, cost: 0 };
  }
}
