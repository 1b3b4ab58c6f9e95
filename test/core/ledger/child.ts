// Child process for the multi-process ledger tests: node --import tsx child.ts <mode> <workspace> [arg] [barrier].
import { Ledger, releaseHash, type LedgerDataset } from '../../../src/core/ledger';
import { gdpAccountant, gdpFilter } from './gdp-accountant';

const [mode, ws, arg, startAt] = process.argv.slice(2);
const ds: LedgerDataset = {
  identity: { path: 'data/train.csv', contentSha256: releaseHash('data/train.csv'), bytes: 14 },
  units: 1000,
};
const ledger = new Ledger(ws!, { accountant: gdpAccountant(), filter: gdpFilter() });
const one = {
  algorithm: 'child',
  charges: [{ partition: '*' as const, mechanism: { kind: 'gaussian' as const, sigma: 10, steps: 1 } }],
};

async function main() {
  // Start together: every child says it is ready (its start-up, which takes seconds on a busy machine, is over) and
  // waits for the parent's "go" on stdin, which the parent sends once all of them are ready.
  if (startAt === 'barrier') {
    process.stdout.write('ready\n');
    await new Promise<void>((r) => {
      process.stdin.once('data', () => r());
      process.stdin.once('end', () => r());
    });
    process.stdin.destroy();
  }
  if (mode === 'append') {
    for (let i = 0; i < Number(arg); i++) {
      const r = await ledger.reserve(ds, { ...one, note: `pid ${process.pid} run ${i}` });
      await r.settle({ released: releaseHash(`${process.pid}:${i}`) });
      // Every 5 runs, leave the lock free for 500 ms: a child waiting for it retries at least every 200 ms (the
      // store's retry cap) and takes it, so the writers interleave (a child taking the lock again at once could
      // otherwise write many runs in a row: 4 switches in 24 measured runs was the low end).
      if (i % 5 === 4) await new Promise((r) => setTimeout(r, 500));
    }
    process.stdout.write('done\n');
  } else if (mode === 'race') {
    let ok = 0;
    for (let i = 0; i < Number(arg); i++) {
      try {
        await ledger.reserve(ds, one);
        ok++;
      } catch (e) {
        if ((e as Error).name !== 'BudgetExceededError') throw e;
      }
    }
    process.stdout.write(`${ok}\n`);
  } else if (mode === 'hang') {
    const r = await ledger.reserve(ds, {
      ...one,
      charges: [{ partition: '*', mechanism: { kind: 'gaussian', sigma: 10, steps: Number(arg) } }],
    });
    process.stdout.write(`reserved ${r.id}\n`);
    setInterval(() => undefined, 1000);
  } else if (mode === 'hold-lock') {
    await ledger.store.withLock(true, () => {
      process.stdout.write('locked\n');
      return new Promise(() => setInterval(() => undefined, 1000));
    });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exitCode = 1;
});
