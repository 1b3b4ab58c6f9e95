/**
 * A run's resumable state: one JSON file per reservation (<runs>/<id>.state.json), rewritten atomically
 * (src/core/io/atomic.ts) at every step, so a stop or a crash leaves the last finished step on disk. It holds DP
 * outputs (the population selected by a noisy histogram: post-processing, Dwork & Roth 2014, Prop 2.1) and public
 * parameters only, never a private row. The process id and host say whether a run without an end is still going.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { UserError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import type { RunStatus } from './checkpoint';

export interface RunStateBase {
  /** The reservation of this part of the run. */
  id: string;
  /** The first part's reservation: every part of one run is charged as one group in the ledger. */
  group: string;
  /** 'running' until the part ends; a 'running' state whose process is gone is a crash. */
  status: 'running' | RunStatus;
  /** The part that continued this one (a state is resumed once). */
  resumedBy?: string;
  pid: number;
  host: string;
}

export function stateFile(dir: string, id: string): string {
  return path.join(dir, `${id}.state.json`);
}

export function writeState(dir: string, state: RunStateBase): void {
  writeFileAtomic(stateFile(dir, state.id), JSON.stringify(state) + '\n');
}

/** Reads the state of run `id`, or refuses in one line when there is none. */
export function readState<T extends RunStateBase>(dir: string, id: string): T {
  const file = stateFile(dir, id);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError(
      `cannot resume ${id}: no saved state ${file}`,
      'Give the id of a run that stopped (its checkpoint is <id>.jsonl in the same folder).',
    );
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UserError(`cannot resume ${id}: ${file} is not valid JSON`);
  }
}

/** The process identity written into a state. */
export function thisProcess(): { pid: number; host: string } {
  return { pid: process.pid, host: hostname() };
}

/**
 * Whether the process that wrote a 'running' state may still be running: true for another host or this process (cannot
 * tell: the safe side) or a live pid here. A dead pid means the run crashed and its reservation is still open.
 */
export function mayBeRunning(state: Pick<RunStateBase, 'pid' | 'host'>): boolean {
  // Another host cannot be asked; this process may run it in another worker thread.
  if (state.host !== hostname() || state.pid === process.pid) return true;
  try {
    process.kill(state.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
