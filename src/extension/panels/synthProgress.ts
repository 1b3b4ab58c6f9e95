// The Synthesize panel's progress board, without vscode (unit-tested in plain Node): one row per label, and the run's
// totals, from the Aug-PE progress reports that the worker thread (core/worker/) forwards.
import type { AugPeProgress } from '../../core/augpe';
import type { HostMessage, SynthLabelRow } from '../../shared/protocol';

// ---------------------------------------------------------------------------------------------------------------
// Progress: one row per label, and the run's totals.

export type SynthProgressMessage = Extract<HostMessage, { type: 'synthProgress' }>;

/**
 * Turns the core's AugPeProgress reports into the view's state. Transitions (run.ts reports them in this order):
 * embed-private → every label "embedding"; initial → "writing", then each label "written" as its population is
 * done; histogram t → every label "voting" (one joint histogram); variations t → "varying", then each label "varied";
 * at the end "done" (completed) or "stopped".
 */
export class SynthProgressBoard {
  private readonly rows: SynthLabelRow[];
  private readonly byLabel = new Map<string, SynthLabelRow>();
  private last: AugPeProgress | undefined;
  private changed = true;

  constructor(
    labels: readonly { label: string; count: number }[],
    readonly iterations: number,
  ) {
    this.rows = labels.map((l) => ({ label: l.label, count: l.count, stage: 'waiting', iteration: 0 }));
    for (const r of this.rows) this.byLabel.set(r.label, r);
  }

  update(p: AugPeProgress): void {
    // Usage only grows; a report cannot take the totals back.
    if (this.last) {
      p = {
        ...p,
        calls: Math.max(p.calls, this.last.calls),
        inputTokens: Math.max(p.inputTokens, this.last.inputTokens),
        outputTokens: Math.max(p.outputTokens, this.last.outputTokens),
        cost: Math.max(p.cost, this.last.cost),
        completions: Math.max(p.completions, this.last.completions),
        histograms: Math.max(p.histograms, this.last.histograms),
      };
    }
    this.last = p;
    this.changed = true;
    const one = p.label === undefined ? undefined : this.byLabel.get(p.label);
    const set = (rows: SynthLabelRow[], stage: SynthLabelRow['stage']) => {
      for (const r of rows) {
        r.stage = stage;
        r.iteration = p.iteration;
      }
    };
    switch (p.phase) {
      case 'embed-private':
        set(this.rows, 'embedding');
        break;
      case 'initial':
        if (one) set([one], 'written');
        else
          set(
            this.rows.filter((r) => r.stage !== 'written'),
            'writing',
          );
        break;
      case 'histogram':
        set(this.rows, 'voting');
        break;
      case 'variations':
        if (one) set([one], 'varied');
        else set(this.rows, 'varying');
        break;
    }
  }

  /** The end of the run: a completed run's labels are done; otherwise what had started is marked stopped. */
  finish(status: 'completed' | 'cancelled' | 'failed'): void {
    this.changed = true;
    for (const r of this.rows) {
      if (status === 'completed') {
        r.stage = 'done';
        r.iteration = this.iterations;
      } else if (r.stage !== 'waiting') r.stage = 'stopped';
    }
  }

  get pending(): boolean {
    return this.changed;
  }

  /** The whole state (it is small: one row per label); clears `pending`. */
  take(running: boolean): SynthProgressMessage {
    this.changed = false;
    return this.snapshot(running);
  }

  snapshot(running: boolean): SynthProgressMessage {
    const p = this.last;
    return {
      type: 'synthProgress',
      running,
      phase: p?.phase ?? 'starting',
      iteration: p?.iteration ?? 0,
      iterations: this.iterations,
      histograms: p?.histograms ?? 0,
      completions: p?.completions ?? 0,
      calls: p?.calls ?? 0,
      inputTokens: p?.inputTokens ?? 0,
      outputTokens: p?.outputTokens ?? 0,
      cost: p?.cost ?? 0,
      labels: this.rows.map((r) => ({ ...r })),
    };
  }
}
