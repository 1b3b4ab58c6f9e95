// `npm run bench -- evaluate`: the whole evaluation loop a user runs, through the CLI in-process, on the Banking77
// sample (examples/banking77-sample.csv): split (held-out 0.3), DP demonstrations at ε = 1, 2, 4, 8 for eight labels
// (one per label), and `evaluate --demos` for each (zero-shot, DP, real; constrained greedy over next-token
// log-probabilities). Default: the built-in offline model (its accuracy is low: an n-gram model, not an LLM).
// On a real model: npm run bench -- evaluate --provider openai --base-url URL --model M (key from the environment).
// Prints the table and the calls an evaluation of 500 held-out rows needs. Numbers are local measurements on a
// public stand-in for private data.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main as cli } from '../../src/cli/main';
import { callEstimate } from '../../src/core/evaluate/incontext';

const LABELS = [
  'card_arrival',
  'exchange_rate',
  'lost_or_stolen_card',
  'top_up_failed',
  'pin_blocked',
  'cash_withdrawal_charge',
  'transfer_not_received_by_recipient',
  'visa_or_mastercard',
];
const EPSILONS = [1, 2, 4, 8];

function providerFlags(): string[] {
  const argv = process.argv.slice(2);
  const out: string[] = [];
  for (const f of ['--provider', '--base-url', '--model']) {
    const i = argv.indexOf(f);
    if (i >= 0 && argv[i + 1]) out.push(f, argv[i + 1]!);
  }
  return out;
}

async function run(args: string[], cwd: string): Promise<string> {
  let out = '';
  let err = '';
  const code = await cli(args, {
    out: (t) => (out += `${t}\n`),
    err: (t) => (err += `${t}\n`),
    env: process.env,
    cwd,
  });
  if (code !== 0) throw new Error(`private-fewshot ${args.join(' ')} failed (${code}):\n${err}`);
  return out;
}

interface Cond {
  name: string;
  overall: { accuracy: number; low: number; high: number; n: number };
}

export async function main(): Promise<void> {
  const ws = mkdtempSync(path.join(tmpdir(), 'pfs-bench-evaluate-'));
  try {
    copyFileSync(path.join(__dirname, '../../examples/banking77-sample.csv'), path.join(ws, 'data.csv'));
    const provider = providerFlags();
    const started = performance.now();
    await run(['split', 'data.csv', '--holdout', '0.3'], ws);
    await run(['budget', 'data.csv', '--set-total', String(EPSILONS.reduce((a, b) => a + b, 0) + 1)], ws);
    const rows: string[] = [];
    let zero: Cond | undefined;
    let real: Cond | undefined;
    let calls = 0;
    let evaluated = 0;
    let mode = '';
    let model = '';
    for (const eps of EPSILONS) {
      const t0 = performance.now();
      const file = `demos-eps${eps}.json`;
      await run(
        [
          'demos',
          'data.csv',
          '--labels',
          LABELS.join(','),
          '--shots',
          '1',
          '--epsilon',
          String(eps),
          ...provider,
        ].concat(['--format', 'json', '--out', file]),
        ws,
      );
      const genSeconds = (performance.now() - t0) / 1000;
      const rep = JSON.parse(
        await run(['evaluate', 'data.csv', '--demos', file, '--json', '--max-calls', '20000', ...provider], ws),
      ).localOnlyNotPrivate;
      const [z, dp, r] = rep.conditions as Cond[];
      zero ??= z;
      real ??= r;
      calls += rep.calls;
      evaluated += rep.rowsEvaluated;
      mode = rep.mode;
      model = `${rep.model.kind}/${rep.model.model}`;
      rows.push(row(`DP, ε = ${eps}`, dp!, `demos ${genSeconds.toFixed(0)} s`));
    }
    const table = [
      `model ${model}; scoring ${mode}; ${LABELS.length} labels, 1 demonstration per label; held-out rows ${zero!.overall.n}`,
      '| condition | accuracy | 95% CI (Wilson) | note |',
      '| --- | --- | --- | --- |',
      row('zero-shot (ε = 0)', zero!, 'first run'),
      ...rows,
      row('real, 1 per label (ε = ∞, non-private)', real!, 'first run'),
    ];
    console.log(table.join('\n'));
    const perRowAndCondition = calls / (evaluated * 3);
    const est = callEstimate(mode === 'generation' ? 'generation' : 'logprobs', LABELS, 500, 3);
    console.log(
      `calls: ${calls} for ${evaluated} row evaluations × 3 conditions (${perRowAndCondition.toFixed(2)} per row and condition); ` +
        `500 held-out rows × 3 conditions: measured rate ≈ ${Math.round(500 * 3 * perRowAndCondition)} calls, plan estimate ≈ ${est.typicalCalls}, cap needed ${est.maxCalls}`,
    );
    console.log(`wall time ${((performance.now() - started) / 1000).toFixed(0)} s (local only, not private)`);
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
}

function row(name: string, c: Cond, note: string): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return `| ${name} | ${pct(c.overall.accuracy)} | [${pct(c.overall.low)}, ${pct(c.overall.high)}] | ${note} |`;
}
