import { UsageError } from '../../core/errors';
import type { Dataset } from '../../core/data';
import type { SplitParts } from '../../core/evaluate/split';
import type { LedgerLocation } from '../../core/ledger';
import type { Io, Options } from '../args';

export const recordsOptions: Options = { records: { type: 'string' } };
export const recordsUsage = `  --records FILE     Aug-PE records to evaluate (synth --format json or jsonl)`;

export async function evaluateRecordsCommand(
  _values: Record<string, unknown>,
  _io: Io,
  _o: { ds: Dataset; parts: SplitParts; location: LedgerLocation; recordsRef: string },
): Promise<number> {
  throw new UsageError('evaluate --records is not built yet');
}
