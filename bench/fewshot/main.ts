// `npm run bench -- fewshot`: DP few-shot generation against a local OpenAI-compatible server (vLLM flavour) with
// 100 ms of latency per request: 4 labels × 4 shots × 64 tokens at M = 10, compared with the reference
// implementation's cost model ((M+1) requests and one round trip per generated token).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { loadDataset, summarize } from '../../src/core/data';
import { planFewShot } from '../../src/core/fewshot/plan';
import { runFewShot } from '../../src/core/fewshot/run';
import { Ledger, defaultAccountant } from '../../src/core/ledger';
import { createProvider } from '../../src/core/providers';
import { defaultConcurrency } from '../../src/core/providers/config';

const LATENCY_MS = 100;
const LABELS = [
  'card_payment_fee_charged',
  'direct_debit_payment_not_recognised',
  'balance_not_updated_after_cheque_or_cash_deposit',
  'wrong_amount_of_cash_received',
];
const M = 10;

async function startServer(): Promise<{ baseURL: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'server.mts'), String(LATENCY_MS)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { baseURL: (JSON.parse(line) as { baseURL: string }).baseURL, stop: () => child.kill('SIGTERM') };
}

async function runOnce(baseURL: string, lookahead: number, batch: boolean, prefetch: number, shotConcurrency: number) {
  const root = mkdtempSync(path.join(tmpdir(), 'pfs-bench-'));
  try {
    copyFileSync(path.join(__dirname, '../../examples/banking77-sample.csv'), path.join(root, 'data.csv'));
    const ds = await loadDataset('data.csv', { root });
    const units = summarize(ds).units;
    const ledger = new Ledger(root, { accountant: defaultAccountant() });
    await ledger.setTotal({ identity: ds.identity, units }, { epsilon: 100 });
    const status = await ledger.status({ identity: ds.identity, units });
    const plan = planFewShot(ds, {
      labels: LABELS,
      shots: 4,
      epsilon: 8,
      delta: status.total.delta,
      maxTokens: 64,
      prompts: M,
    });
    const provider = createProvider({ kind: 'openai', model: 'fake', baseURL, probeCache: new Map() });
    if (!batch) (provider as { nextTokensBatch?: unknown }).nextTokensBatch = undefined;
    await provider.capabilities(); // the probe is not part of the measured run
    const probeCalls = provider.usage().calls;
    const started = performance.now();
    const r = await runFewShot({ dataset: ds, plan, provider, ledger, units, lookahead, prefetch, shotConcurrency });
    const wall = performance.now() - started;
    const u = r.report.usage;
    return {
      tokens: u.tokensReleased,
      calls: u.calls - probeCalls,
      queries: u.queries,
      roundTrips: u.roundTrips,
      waves: u.waves,
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      wallMs: wall,
      demos: r.demonstrations.length,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export async function main(): Promise<void> {
  const server = await startServer();
  try {
    console.log(
      `fake vLLM server at ${server.baseURL}, ${LATENCY_MS} ms per request; ${LABELS.length} labels × 4 shots × T_max 64, M = ${M}; client concurrency: the default for a local server (${defaultConcurrency(server.baseURL)})`,
    );
    console.log(
      'round trips = the critical path: the most request waves one chain of demonstrations waited for in sequence',
    );
    console.log(
      '(labels always run concurrently; "shots ∥" = a label\'s shots too). waves = request waves summed over chains.',
    );
    console.log(
      'reference (Tang et al. code, cost model of the issue): (M+1) calls and one round trip per released token.\n',
    );
    console.log(
      'config                                   tokens   calls   waves  round trips  prompt tok  output tok  wall s | ref calls  ref rt | calls ×   rt ×  wall/(rt×lat)',
    );
    const configs = [
      { lookahead: 1, batch: false, prefetch: 0, shots: 1 },
      { lookahead: 1, batch: true, prefetch: 0, shots: 1 },
      { lookahead: 1, batch: false, prefetch: 0, shots: 4 },
      { lookahead: 1, batch: true, prefetch: 0, shots: 4 },
      { lookahead: 4, batch: true, prefetch: 3, shots: 4 },
    ];
    for (const c of configs) {
      const r = await runOnce(server.baseURL, c.lookahead, c.batch, c.prefetch, c.shots);
      const refCalls = r.tokens * (M + 1);
      const refRoundTrips = r.tokens;
      const name =
        `lookahead ${c.lookahead}${c.batch ? ', batched' : ''}${c.prefetch ? `, prefetch ${c.prefetch}` : ''}${c.shots > 1 ? ', shots ∥' : ', shots in turn'}`.padEnd(
          40,
        );
      const n = (x: number, w: number) => String(x).padStart(w);
      console.log(
        `${name} ${n(r.tokens, 6)} ${n(r.calls, 7)} ${n(r.waves, 7)} ${n(r.roundTrips, 12)} ${n(r.inputTokens, 11)} ${n(r.outputTokens, 11)} ${(r.wallMs / 1000).toFixed(1).padStart(7)} | ${n(refCalls, 9)} ${n(refRoundTrips, 7)} | ${(refCalls / r.calls).toFixed(1).padStart(7)} ${(refRoundTrips / r.roundTrips).toFixed(1).padStart(6)}  ${(r.wallMs / (r.roundTrips * LATENCY_MS)).toFixed(2)}`,
      );
    }
  } finally {
    server.stop();
  }
}
