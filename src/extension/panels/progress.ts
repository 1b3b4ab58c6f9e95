// Pure logic of the Generate panel's run progress (no vscode import, so it is unit-tested in plain Node): one row
// per demonstration started, run totals, and a throttle that limits posts to the webview without losing the last
// state of any demonstration.
import type { FewShotProgress } from '../../core/fewshot/run';
import type { ProgressRow, ProgressTotals } from '../../shared/protocol';

/** What runFewShot reports on every token and at the end of every demonstration (the view needs all but the cost). */
export type ProgressEvent = Omit<FewShotProgress, 'cost'>;

export interface ProgressBatch {
  reset: boolean;
  rows: ProgressRow[];
  totals: ProgressTotals;
}

const key = (label: string, shot: number) => `${shot}\u0000${label}`;

/** The rows of one run. `take()` returns what changed since the last take; `snapshot()` everything. */
export class RunProgress {
  private readonly rows = new Map<string, ProgressRow>();
  private readonly changed = new Set<string>();
  private usage = { calls: 0, roundTrips: 0, inputTokens: 0, outputTokens: 0 };
  private fresh = true;

  constructor(readonly planned: number) {}

  update(p: ProgressEvent): void {
    const k = key(p.label, p.shot);
    const row = this.rows.get(k);
    // A finished demonstration keeps its final state (a late token report cannot undo it).
    if (row?.done && !p.done) return;
    this.rows.set(k, { label: p.label, shot: p.shot, tokens: p.tokens, done: p.done, text: p.text });
    this.changed.add(k);
    // Usage only grows; reports from concurrent demonstrations may arrive slightly out of order.
    this.usage = {
      calls: Math.max(this.usage.calls, p.calls),
      roundTrips: Math.max(this.usage.roundTrips, p.roundTrips),
      inputTokens: Math.max(this.usage.inputTokens, p.inputTokens),
      outputTokens: Math.max(this.usage.outputTokens, p.outputTokens),
    };
  }

  get pending(): boolean {
    return this.fresh || this.changed.size > 0;
  }

  totals(): ProgressTotals {
    let done = 0;
    for (const r of this.rows.values()) if (r.done) done++;
    return { planned: this.planned, started: this.rows.size, done, ...this.usage };
  }

  /** The rows changed since the last take (all of them, with `reset`, the first time). */
  take(): ProgressBatch {
    const reset = this.fresh;
    this.fresh = false;
    const rows = [...this.changed].map((k) => this.rows.get(k)!);
    this.changed.clear();
    return { reset, rows, totals: this.totals() };
  }

  /** Every row (for a webview that reloaded), without touching what `take()` will return. */
  snapshot(): ProgressBatch {
    return { reset: true, rows: [...this.rows.values()], totals: this.totals() };
  }
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * Calls `flush` at most once per `intervalMs`: at once when the last flush is old enough, else once at the end of
 * the interval (a trailing call), so the latest state always goes out. `flushNow()` flushes at once (end of a run).
 */
export class Throttle {
  private last = -Infinity;
  private timer: unknown;

  constructor(
    private readonly intervalMs: number,
    private readonly flush: () => void,
    private readonly clock: Clock = systemClock,
  ) {}

  poke(): void {
    if (this.timer !== undefined) return;
    const wait = this.last + this.intervalMs - this.clock.now();
    if (wait <= 0) {
      this.fire();
      return;
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.fire();
    }, wait);
  }

  flushNow(): void {
    this.cancel();
    this.fire();
  }

  cancel(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    this.last = this.clock.now();
    this.flush();
  }
}
