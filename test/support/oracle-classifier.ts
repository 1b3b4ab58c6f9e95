import type { Provider, TokenLogprob } from '../../src/core/providers/types';
import { tokenize, type FakeModel } from './fake-openai-server';

/**
 * A model with known answers for evaluation tests. The text to classify says its label ("note 3 regarding
 * card_arrival"). The model answers that label when the prompt holds a demonstration "… regarding <label>\nLabel:
 * <label>", and otherwise the first label the instruction lists. So zero-shot accuracy is the share of rows of the
 * first label, and demonstrations help exactly for the labels they show.
 */
export const oracleModel: FakeModel = (context) => {
  const answerAt = context.lastIndexOf('\nLabel:');
  const queryAt = context.lastIndexOf('Text: ', answerAt);
  const query = context.slice(queryAt, answerAt);
  const truth = /regarding (\S+)/.exec(query)?.[1] ?? '';
  const first = /one of these labels: ([^,.\n]+)/.exec(context)?.[1] ?? '';
  const shown = truth !== '' && context.slice(0, queryAt).includes(`regarding ${truth}\nLabel: ${truth}`);
  const answer = shown ? truth : first;
  // Completions continue the prompt (" label"); a chat model answers in its own turn ("label").
  const tail = context.slice(answerAt + '\nLabel:'.length);
  const turn = tail.indexOf('<|assistant|>\n');
  const sofar = turn >= 0 ? tail.slice(turn + '<|assistant|>\n'.length) : tail;
  const target = turn >= 0 ? `${answer}\n` : ` ${answer}\n`;
  const next =
    target.startsWith(sofar) && sofar.length < target.length ? tokenize(target.slice(sofar.length))[0]! : '\n';
  const out = [
    { token: next, logprob: Math.log(0.9) },
    { token: ' the', logprob: Math.log(0.06) },
    { token: '.', logprob: Math.log(0.04) },
  ];
  return out.filter((t, i) => i === 0 || t.token !== next);
};

/** The oracle as an in-process Provider (logprobs or generation only), counting its calls. */
export function oracleProvider(mode: 'logprobs' | 'generation'): Provider & { calls: number } {
  const p = {
    kind: 'test-oracle',
    model: 'oracle',
    offline: false,
    calls: 0,
    async capabilities() {
      return {
        nextTokenLogprobs: mode === 'logprobs' ? { maxTopK: 20, mode: 'native' as const, logitBias: false } : null,
        generate: true,
        embed: false,
        notes: [],
      };
    },
    async nextTokens(req: { prompt: string; continuation: string; topK: number }) {
      p.calls++;
      const top: TokenLogprob[] = oracleModel(req.prompt + req.continuation).slice(0, req.topK);
      return { steps: [{ token: top[0]!.token, top }] };
    },
    async generate(req: { prompt?: string; maxTokens: number }) {
      p.calls++;
      let text = '';
      for (let i = 0; i < req.maxTokens; i++) {
        const t = oracleModel((req.prompt ?? '') + text)[0]!.token;
        if (t.includes('\n')) break;
        text += t;
      }
      return { texts: [text] };
    },
    async embed(): Promise<Float32Array[]> {
      throw new Error('no embeddings');
    },
    usage() {
      return { calls: p.calls, inputTokens: 0, outputTokens: 0, cost: 0 };
    },
  };
  return p;
}

export const ORACLE_LABELS = ['card_arrival', 'card_linking', 'exchange_rate'];

/** A CSV of `perLabel` rows per label whose texts name their label. */
export function oracleCsv(perLabel: number): string {
  const rows = ['text,label'];
  for (const l of ORACLE_LABELS) for (let i = 0; i < perLabel; i++) rows.push(`note ${i} regarding ${l},${l}`);
  return rows.join('\n') + '\n';
}
