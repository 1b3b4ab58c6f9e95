import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  defaultAccountant,
  openLedger,
  parseLedger,
  releaseHash,
  type LedgerDataset,
  type StoredCharge,
} from '../../../src/core/ledger';
import {
  epsilonFor,
  isMechanismKind,
  MECHANISM_KINDS,
  specOf,
  validateSpec,
  type MechanismSpec,
} from '../../../src/core/privacy';
import { tempDir } from '../../support/tmp';

/**
 * The stored mechanism kinds, FROZEN. The rule (privacy/types.ts, docs/LEDGER.md, after dp_accounting's dp_event.py):
 * the meaning of a stored kind never changes; a new meaning gets a new kind appended at the end. So this list may only
 * grow at its end: never edit, reorder or remove an entry here to make a test pass.
 */
const FROZEN_KINDS = ['poisson-gaussian', 'gaussian'] as const;

/** One spec of every frozen kind, and the ε it has had since the kind was introduced (δ = 1e-6, PLD). */
const EXAMPLES: Record<(typeof FROZEN_KINDS)[number], MechanismSpec> = {
  'poisson-gaussian': { kind: 'poisson-gaussian', sigma: 0.9, samplingRate: 0.01, steps: 640 },
  gaussian: { kind: 'gaussian', sigma: 8, steps: 3 },
};

test('the stored kinds only grow: the frozen list is a prefix of MECHANISM_KINDS, every kind is accepted', () => {
  assert.deepEqual(MECHANISM_KINDS.slice(0, FROZEN_KINDS.length), [...FROZEN_KINDS]);
  assert.equal(
    MECHANISM_KINDS.length,
    FROZEN_KINDS.length,
    'a new kind was added: append it to FROZEN_KINDS and EXAMPLES in this test (never change an old one)',
  );
  assert.ok(Object.isFrozen(MECHANISM_KINDS));
  for (const k of FROZEN_KINDS) assert.ok(isMechanismKind(k), k);
  assert.equal(isMechanismKind('subsampled-gaussian'), false);
  for (const k of FROZEN_KINDS) assert.doesNotThrow(() => validateSpec(EXAMPLES[k]));
});

test('every stored kind round-trips through a ledger line: written, re-read and valued the same', async () => {
  const ws = tempDir('pfs-kinds-');
  const ledger = openLedger(ws);
  const content = 'label,text\na,one\n';
  const ds: LedgerDataset = {
    identity: { path: 'data/kinds.csv', contentSha256: releaseHash(content), bytes: content.length },
    units: 100_000,
  };
  const charges = FROZEN_KINDS.map((k) => ({ partition: '*' as const, mechanism: EXAMPLES[k] }));
  const r = await ledger.reserve(ds, { algorithm: 'kinds-test', charges });
  await r.settle({ released: releaseHash('x') });
  const parsed = parseLedger(readFileSync(ledger.file, 'utf8'), path.basename(ledger.file));
  const run = parsed.lines.find((l) => l.type === 'run' && l.status === 'reserved');
  assert.ok(run && run.type === 'run');
  const stored = run.charges as StoredCharge[];
  assert.deepEqual(
    stored.map((c) => c.kind),
    [...FROZEN_KINDS],
  );
  for (const [i, k] of FROZEN_KINDS.entries()) {
    assert.deepEqual(specOf(stored[i]!), EXAMPLES[k], `${k} does not round-trip`);
    const accountant = defaultAccountant();
    assert.equal(accountant.epsilonFor([specOf(stored[i]!)], 1e-6), epsilonFor([EXAMPLES[k]], 1e-6, 'pld'));
  }
});
