/**
 * topK on worker threads: the query rows are split into one contiguous range per thread, each thread runs the same
 * blocked kernel (src/core/vector/knn.ts) on its range, and the ranges are concatenated, so the answer is topK's,
 * and hence the reference's, whatever the thread count. Queries and candidates are shared (SharedArrayBuffer), not
 * copied per thread. Small problems stay on the calling thread: starting a worker costs tens of milliseconds.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULT_BLOCKS, prepareCandidates, topK, type KnnBlocks, type Matrix, type ScoreSpec } from './knn';
import type { KnnJob, KnnReply } from './knnWorker';

/** Below this many multiply-adds (≈ 0.1 s on one core) one thread is used. */
export const PARALLEL_MIN_WORK = 1e9;

export interface ParallelOptions {
  /** Threads to use (default: the machine's available parallelism, at most 8; 1 = the calling thread only). */
  threads?: number;
  blocks?: KnnBlocks;
  /** Work (rows × candidates × dims) below which the calling thread is used (default PARALLEL_MIN_WORK). */
  minWork?: number;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, { resolve: (a: Int32Array) => void; reject: (e: Error) => void }>;
}

// Threads are started on first use and kept for later calls (an Aug-PE run votes once per label and iteration);
// they are unref'd while idle so they never keep the process alive.
const pool: (PoolWorker | undefined)[] = [];
let nextId = 1;

function poolWorker(slot: number): PoolWorker {
  const existing = pool[slot];
  if (existing) return existing;
  const worker = new Worker(workerFile());
  const pw: PoolWorker = { worker, pending: new Map() };
  const fail = (e: Error) => {
    pool[slot] = undefined;
    for (const p of pw.pending.values()) p.reject(e);
    pw.pending.clear();
  };
  worker.on('message', (m: KnnReply) => {
    const p = pw.pending.get(m.id);
    if (!p) return;
    pw.pending.delete(m.id);
    if (pw.pending.size === 0) worker.unref();
    if ('error' in m) p.reject(new Error(`nearest-neighbour worker: ${m.error}`));
    else p.resolve(m.out);
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`nearest-neighbour worker exited with code ${code}`)));
  worker.unref();
  pool[slot] = pw;
  return pw;
}

function runJob(slot: number, job: KnnJob): Promise<Int32Array> {
  const pw = poolWorker(slot);
  const id = nextId++;
  return new Promise<Int32Array>((resolve, reject) => {
    pw.pending.set(id, { resolve, reject });
    pw.worker.ref();
    pw.worker.postMessage({ ...job, id });
  });
}

/** The worker script: dist/knn-worker.js next to the bundle, or the .ts source when run under tsx (tests, bench). */
function workerFile(): string {
  const ts = path.join(__dirname, 'knnWorker.ts');
  return existsSync(ts) ? ts : path.join(__dirname, 'knn-worker.js');
}

function shared<T extends Float32Array | Float64Array>(a: T, make: (b: SharedArrayBuffer) => T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const out = make(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

export async function topKParallel(
  q: Matrix,
  c: Matrix,
  score: ScoreSpec,
  k: number,
  o: ParallelOptions = {},
): Promise<Int32Array> {
  const blocks = o.blocks ?? DEFAULT_BLOCKS;
  const threads = Math.max(1, Math.min(o.threads ?? Math.min(8, availableParallelism()), Math.ceil(q.rows / 4)));
  const work = q.rows * c.rows * c.dim;
  if (threads === 1 || work < (o.minWork ?? PARALLEL_MIN_WORK) || !existsSync(workerFile()))
    return topK(q, c, score, k, undefined, blocks);

  const dim = c.dim;
  const qData = shared(q.data.subarray(0, q.rows * dim), (b) => new Float32Array(b));
  const cData = shared(c.data.subarray(0, c.rows * dim), (b) => new Float32Array(b));
  const bias = shared(score.bias, (b) => new Float64Array(b));
  // The candidates are quantised and packed once, here, into shared memory; every thread copies them into its own
  // kernel memory (a memcpy) instead of quantising them again.
  const prepared = prepareCandidates({ rows: c.rows, dim, data: cData }, score, blocks, true);
  if (!prepared) return topK(q, c, score, k, undefined, blocks);
  // Ranges on multiples of 4 rows (the microkernel's height), as equal as possible.
  const per = Math.ceil(q.rows / threads / 4) * 4;
  const ranges: { from: number; to: number }[] = [];
  for (let from = 0; from < q.rows; from += per) ranges.push({ from, to: Math.min(q.rows, from + per) });
  // A thread that cannot start or dies (not a property of the data) costs time, not the answer: the calling thread
  // then computes everything itself.
  const parts = await Promise.all(
    ranges.map(({ from, to }, i) =>
      runJob(i, {
        id: 0,
        q: qData,
        c: cData,
        dim,
        qRows: q.rows,
        cRows: c.rows,
        bias,
        factor: score.factor,
        k,
        from,
        to,
        blocks,
        prepared,
      }),
    ),
  ).catch(() => null);
  if (!parts) return topK(q, c, score, k, undefined, blocks);
  const out = new Int32Array(q.rows * k);
  ranges.forEach((r, i) => out.set(parts[i]!, r.from * k));
  return out;
}
