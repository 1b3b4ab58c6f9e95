// The public shapes of an Aug-PE run (run.ts): its options, progress, local report and result.
import type { Dataset } from '../data';
import type { RunLedger } from '../ledger';
import type { RandomSource } from '../privacy';
import type { Provider, Usage } from '../providers/types';
import type { AugPePlan } from './plan';
import type { AugPeResumePoint } from './resume';

/** A released synthetic record. */
export interface SyntheticRecord {
  label: string;
  text: string;
}

export interface AugPeProgress {
  phase: 'embed-private' | 'initial' | 'histogram' | 'variations';
  /** 0 while the initial population is written; t during iteration t. */
  iteration: number;
  iterations: number;
  label?: string;
  /** Noisy histograms computed so far (what a stop now would charge). */
  histograms: number;
  /** Synthetic texts the generator has written so far. */
  completions: number;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

export interface AugPeRunOptions {
  dataset: Dataset;
  plan: AugPePlan;
  /** Writes and varies candidates. Sees only public text: labels, the word lists, and its own candidates. */
  provider: Provider;
  /** Embeds private rows and candidates (default: `provider`). The only component that sees private text. */
  embedder?: Provider;
  ledger: RunLedger;
  /** Units in the dataset (the ledger's n). */
  units: number;
  /**
   * Randomness for a named stream (noise, prompt choices, masks). Production: a cryptographic source for every
   * stream (the default). Tests inject seeded streams; nothing else may.
   */
  random?: (stream: string) => RandomSource;
  /** Folder for checkpoints (default <workspace>/.private-fewshot/runs). */
  checkpointDir?: string;
  /** Private rows per embedding request (default 256). */
  embedBatch?: number;
  signal?: AbortSignal;
  onProgress?: (p: AugPeProgress) => void;
  now?: () => number;
  /** Continue a stopped run from its last selected population (loadAugPeResume); charges only the rest. */
  resume?: AugPeResumePoint;
}

/**
 * The run's full local record: public parameters AND local diagnostics (dataset path and hash, usage, duration),
 * which are computed from the private data without noise. Not a release: nothing renders it for export. What may
 * leave the machine is built from it by augPeRelease (src/core/release.ts).
 */
export interface AugPeReport {
  tool: string;
  algorithm: 'aug-pe';
  dataset: { path: string; contentSha256: string };
  provider: { kind: string; model: string; offline: boolean };
  embedder: { kind: string; model: string; offline: boolean };
  privacy: {
    epsilon: number;
    delta: number;
    sigma: number;
    iterations: number;
    histograms: number;
    /** σ_c of the DP label-count release (DP class fractions only). */
    sigmaClass?: number;
    mu: number;
    accountant: 'gdp';
    epsilonCharged: number;
    unit: string;
  };
  parameters: {
    labels: string[];
    counts: number[];
    variations: number;
    neighbours: number;
    metric: string;
    threshold: number;
    lookahead: number;
    selection: string;
    /** equal | public | dp (with dp, `counts` are the sizes from the noisy label counts). */
    classCounts: string;
    variation: string;
    maskProbability: number;
    temperature: number;
    maxTokens: number;
  };
  /**
   * Model use for synthetic text only (generation and candidate embeddings). The embedding of the private rows is
   * left out: its size depends on the private data (see AugPeResult.privateEmbeddingUsage).
   */
  usage: {
    calls: number;
    generateRequests: number;
    completions: number;
    syntheticEmbedded: number;
    inputTokens: number;
    outputTokens: number;
    cost: number;
  };
  durationMs: number;
}

export interface AugPeResult {
  records: SyntheticRecord[];
  /** Completed, cancelled or failed; on a stop, the last selected population of each label is kept and charged. */
  status: 'completed' | 'cancelled' | 'failed';
  error?: Error;
  /** Histograms that ran (the steps charged), with those of the stopped run a resumed one continues. */
  histograms: number;
  reservation: { id: string; epsilonRun: number; spentAfter: number };
  /** ε of what ran (σ, histograms, with the stopped part's), at the plan's δ. */
  epsilonCharged: number;
  report: AugPeReport;
  checkpoint: string;
  /** Local only (private: it depends on the private rows): the embedder's use for the private rows. */
  privateEmbeddingUsage: Usage;
  /** Local only (private): private rows the embedder refused; they cast no vote. */
  refusedPrivateRows: number;
  /** Set when this run continued a stopped one: that part's id and the histograms charged before this part. */
  resumed?: { from: string; histogramsBefore: number };
}
