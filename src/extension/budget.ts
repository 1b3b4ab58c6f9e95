// Pure logic of "Set Privacy Budget…" (no vscode import, so it is unit-tested in plain Node): reading the new total
// ε typed into the input box, and the texts the command shows.
import { formatDelta, formatNumber } from '../shared/format';
import type { BudgetMessage } from '../shared/protocol';

/** The panels' one number format (src/shared/format.ts): 0.52, 1.48, 24.08; two significant digits below 0.1. */
export const fmt = formatNumber;

/** `x` rounded UP to 4 significant digits, so a figure we suggest as the minimum is never below the true one. */
export function ceil4(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return Math.max(0, x);
  const unit = 10 ** (Math.floor(Math.log10(x)) - 3);
  let r = Number((Math.ceil(x / unit) * unit).toPrecision(4));
  // Floating point can land one unit low (e.g. 1.0000000001 / 0.001); step up until it is not below x.
  while (r < x) r = Number((r + unit).toPrecision(4));
  return r;
}

/** A plain decimal number, optionally with an exponent: no hex, no `Infinity`, no empty string (all of which Number()
 * takes). */
const DECIMAL = /^\+?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

export type TotalInput = { ok: true; epsilon: number } | { ok: false; message: string };

/**
 * Reads the new total ε typed for a dataset whose budget is `current`. Refused: anything but a positive finite
 * decimal number, and a total below what is already spent (the releases made stay made: the guarantee of the
 * dataset is at least the spent ε whatever the total says, so such a total would be a false promise).
 * Ledger.setTotal itself checks only that ε is positive and finite (src/core/ledger/ledger.ts); the spent check is
 * the editor's, as the brief for this command asks.
 */
export function parseTotalEpsilon(text: string, current: Pick<BudgetMessage, 'spent'>): TotalInput {
  const t = text.trim();
  if (t === '') return { ok: false, message: 'Enter the new total ε: a positive number, e.g. 4.' };
  const x = DECIMAL.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(x) || x <= 0)
    return { ok: false, message: `The total ε must be a positive finite number; "${t}" is not.` };
  if (x < current.spent) {
    const min = ceil4(current.spent);
    return {
      ok: false,
      message: `This dataset has already spent ε = ${fmt(current.spent)}, so its total cannot be lower: what was released stays released. Enter ${min} or more.`,
    };
  }
  return { ok: true, epsilon: x };
}

/** One line for the input box: the dataset's total, spent and remaining budget. */
export function describeBudget(b: BudgetMessage): string {
  const over = b.remaining < 0 ? ` (over the total by ${fmt(-b.remaining)})` : '';
  return `Total ε ${fmt(b.total)} at δ ${formatDelta(b.delta)}; spent ${fmt(b.spent)}; remaining ${fmt(Math.max(0, b.remaining))}${over}.`;
}

/** The modal confirmation shown before the total is raised (raising weakens the guarantee of every release). */
export function raiseConfirmation(
  name: string,
  from: number,
  to: number,
  delta: number,
): { message: string; detail: string; button: string } {
  return {
    message: `Raise the privacy budget of ${name} from ε = ${fmt(from)} to ε = ${fmt(to)}?`,
    detail:
      `The dataset's guarantee becomes ε = ${fmt(to)} for all releases, past and future: everything released from it ` +
      `so far and everything released later is, taken together, only (ε = ${fmt(to)}, δ = ${formatDelta(delta)})-DP. ` +
      'Lowering the total later does not take back what was released under the higher one.',
    button: `Raise to ε = ${fmt(to)}`,
  };
}

/**
 * The ledger's refusal hints name the CLI (`private-fewshot budget <path> --set-total EPS`); in the editor they point
 * at the Set Privacy Budget… button instead. Text without that command is returned unchanged.
 */
export function editorHint(hint: string, datasetPath: string): string {
  return hint
    .split(`private-fewshot budget ${datasetPath} --set-total EPS`)
    .join('Set Privacy Budget… (the button below)');
}
