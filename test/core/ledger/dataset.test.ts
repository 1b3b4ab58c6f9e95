// ledgerDatasetOf: the one place the editor and the CLI turn a loaded dataset into what the ledger charges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../../../src/core/data';
import { defaultAccountant, Ledger, ledgerDatasetOf } from '../../../src/core/ledger';
import { tempDir } from '../../support/tmp';

test('a unit column reaches the ledger: records keyed by unit, runs recorded per unit, a row-level reader refused', async () => {
  const ws = tempDir('pfs-dataset-');
  const rows = ['text,label,user_id'];
  for (let i = 0; i < 40; i++) rows.push(`message ${i},l${i % 2},u${i % 10}`);
  writeFileSync(path.join(ws, 'd.csv'), `${rows.join('\n')}\n`);
  const byUnit = await loadDataset('d.csv', { root: ws, unitColumn: 'user_id' });
  const ds = ledgerDatasetOf(byUnit);
  assert.equal(ds.unitColumn, 'user_id');
  assert.equal(ds.units, 10);
  assert.ok(ds.records!.every((r) => r.key.startsWith('unit\u0000')));
  const ledger = new Ledger(ws, { accountant: defaultAccountant() });
  await ledger.reserve(ds, {
    algorithm: 'aug-pe',
    charges: [{ partition: '*', mechanism: { kind: 'gaussian', sigma: 5, steps: 2 } }],
  });
  const again = await ledger.status(ledgerDatasetOf(await loadDataset('d.csv', { root: ws, unitColumn: 'user_id' })));
  assert.ok(again.spent > 0, 'the same unit column finds the charged records');
  const byRow = ledgerDatasetOf(await loadDataset('d.csv', { root: ws }));
  assert.equal(byRow.unitColumn, undefined);
  await assert.rejects(
    () =>
      ledger.reserve(byRow, {
        algorithm: 'aug-pe',
        charges: [{ partition: '*', mechanism: { kind: 'gaussian', sigma: 5, steps: 2 } }],
      }),
    /privacy unit is row .* used unit column "user_id"/,
  );
});
