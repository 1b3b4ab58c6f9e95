/**
 * A child process for the resume test (test/cli/synth-resume.test.ts): runs the same Aug-PE plan as
 * `synth data.csv --labels card_arrival,exchange_rate --count 6 --epsilon 2 --iterations 4` and kills itself with
 * SIGKILL once histogram 2 is selected, before the variations that follow: a crash between iterations, which leaves
 * the reservation open and the run's state saying 'running'.
 */
import path from 'node:path';
import { prepareAugPe, runAugPe } from '../../src/core/augpe';
import { loadDataset } from '../../src/core/data';
import { defaultAccountant, Ledger } from '../../src/core/ledger';
import { createProvider } from '../../src/core/providers';

async function main(root: string): Promise<void> {
  const ds = await loadDataset(path.join(root, 'data.csv'), { root });
  const ledger = new Ledger(root, { accountant: defaultAccountant() });
  const { plan, summary } = await prepareAugPe(ds, ledger, {
    labels: ['card_arrival', 'exchange_rate'],
    count: 6,
    epsilon: 2,
    iterations: 4,
  });
  const provider = createProvider({ kind: 'builtin' });
  await runAugPe({
    dataset: ds,
    plan,
    provider,
    embedder: provider,
    ledger,
    units: summary.units,
    onProgress: (p) => {
      if (p.phase === 'variations' && p.iteration === 2) process.kill(process.pid, 'SIGKILL');
    },
  });
  throw new Error('the run should have been killed');
}

void main(process.argv[2]!);
