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

const LATENCY_MS = 100;
const LABELS = ['card_payment_fee_charged', 'direct_debit_payment_not_recognised', 'balance_not_updated_after_cheque_or_cash_deposit', 'wrong_amount_of_cash_received'];
const M = 10;

async function startServer(): Promise<{ baseURL: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'server.mts'), String(LATENCY_MS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { baseURL: (JSON.parse(line) as { baseURL: string }).baseURL, stop: () => child.kill('SIGTERM') };
}

async function runOnce(baseURL: string, lookahead: number, batch: boolean, prefetch: number) {
  const root = mkdtempSync(path.join(tmpdir(), 'pfs-bench-'));
  try {
    copyFileSync(path.join(__dirname, '../../examples/banking77-sample.csv'), path.join(root, 'data.csv'));
    const ds = await loadDataset('data.csv', { root });
    const units = summarize(ds).units;
    const ledger = new Ledger(root, { accountant: defaultAccountant() });
    await ledger.setTotal({ identity: ds.identity, units }, { epsilon: 100 });
    const status = await ledger.status({ identity: ds.identity, units });
    const plan = planFewShot(ds, { labels: LABELS, shots: 4, epsilon: 8, delta: status.total.delta, maxTokens: 64, prompts: M });
    const provider = createProvider({ kind: 'openai', model: 'fake', baseURL, concurrency: 64, probeCache: new Map() });
    if (!batch) (provider as { nextTokensBatch?: unknown }).nextTokensBatch = undefined;
    await provider.capabilities(); // the probe is not part of the measured run
    const probeCalls = provider.usage().calls;
    const started = performance.now();
    const r = await runFewShot({ dataset: ds, plan, provider, ledger, units, lookahead, prefetch });
    const wall = performance.now() - started;
    const u = r.report.usage;
    return { lookahead, batch, prefetch, tokens: u.tokensReleased, calls: u.calls - probeCalls, queries: u.queries, roundTrips: u.roundTrips, chain: u.longestChain, inputTokens: u.inputTokens, outputTokens: u.outputTokens, wallMs: wall, demos: r.demonstrations.length };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export async function main(): Promise<void> {
  const server = await startServer();
  try {
    console.log(`fake vLLM server at ${server.baseURL}, ${LATENCY_MS} ms per request; ${LABELS.length} labels × 4 shots × T_max 64, M = ${M}`);
    console.log('config                         tokens   calls  round trips  prompt tok  output tok   wall s  | reference calls  ref round trips | calls ×  rt ×  wall/(longest chain×lat)');
    for (const [lookahead, batch, prefetch] of [[1, false, 0], [1, true, 0], [4, true, 0], [4, true, 3]] as const) {
      const r = await runOnce(server.baseURL, lookahead, batch, prefetch);
      const refCalls = r.tokens * (M + 1);
      const refRoundTrips = r.tokens;
      // Labels run in parallel: the critical path is the longest label's chain of round trips.
      const chain = r.chain;
      const name = `lookahead ${lookahead}${batch ? ', batched' : ''}${prefetch ? `, prefetch ${prefetch}` : ''}`.padEnd(30);
      console.log(
        `${name} ${String(r.tokens).padStart(6)} ${String(r.calls).padStart(7)} ${String(r.roundTrips).padStart(12)} ${String(r.inputTokens).padStart(11)} ${String(r.outputTokens).padStart(11)} ${(r.wallMs / 1000).toFixed(1).padStart(8)}  | ${String(refCalls).padStart(15)} ${String(refRoundTrips).padStart(16)} | ${(refCalls / r.calls).toFixed(1).padStart(7)} ${(refRoundTrips / r.roundTrips).toFixed(1).padStart(5)}  ${(r.wallMs / (chain * LATENCY_MS)).toFixed(2)}`,
      );
    }
  } finally {
    server.stop();
  }
}
