// A worker thread of topKParallel (src/core/vector/knnParallel.ts): for each job message, computes the k nearest
// candidates of a range of query rows with the blocked kernel and posts the indices back. The thread stays alive
// for the next job. Bundled as dist/knn-worker.js; under tsx (tests, bench) the .ts runs.
import { parentPort } from 'node:worker_threads';
import { topK, type KnnBlocks, type PreparedCandidates } from './knn';

export interface KnnJob {
  id: number;
  q: Float32Array;
  c: Float32Array;
  dim: number;
  qRows: number;
  cRows: number;
  bias: Float64Array;
  factor: number;
  k: number;
  from: number;
  to: number;
  blocks: KnnBlocks;
  /** The candidates quantised and packed by the calling thread (shared memory). */
  prepared: PreparedCandidates;
}

export type KnnReply = { id: number; out: Int32Array } | { id: number; error: string };

parentPort?.on('message', (job: KnnJob) => {
  try {
    const out = topK(
      { rows: job.qRows, dim: job.dim, data: job.q },
      { rows: job.cRows, dim: job.dim, data: job.c },
      { bias: job.bias, factor: job.factor },
      job.k,
      { from: job.from, to: job.to },
      job.blocks,
      job.prepared,
    );
    parentPort!.postMessage({ id: job.id, out } satisfies KnnReply, [out.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: e instanceof Error ? e.message : String(e) } satisfies KnnReply);
  }
});
