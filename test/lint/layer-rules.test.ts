// The two algorithms never import each other (eslint.config.mjs): what both need lives in src/core/runs/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ESLint } from 'eslint';
import { repoRoot } from '../support/cli';

async function messages(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: repoRoot });
  const [r] = await eslint.lintText(code, { filePath: path.join(repoRoot, file) });
  return (r?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

test('fewshot/ and augpe/ may not import each other, but both may import runs/ (and still not vscode)', async () => {
  const refused = [
    ['src/core/augpe/run.ts', "import { buildPools } from '../fewshot/plan';\nexport const x = buildPools;\n"],
    ['src/core/augpe/prompts.ts', "import * as f from '../fewshot';\nexport const x = f;\n"],
    ['src/core/fewshot/run.ts', "import { runAugPe } from '../augpe/run';\nexport const x = runAugPe;\n"],
    ['src/core/fewshot/run.ts', "import * as vscode from 'vscode';\nexport const x = vscode;\n"],
    [
      'src/core/augpe/run.ts',
      "import { seededRandom } from '../../../test/support/rng';\nexport const x = seededRandom;\n",
    ],
  ] as const;
  for (const [file, code] of refused) {
    const ids = await messages(file, code);
    assert.ok(
      ids.some((m) => m.startsWith('no-restricted-imports:')),
      `${file} should be refused: ${ids.join(' | ') || 'no message'}`,
    );
  }
  for (const file of ['src/core/augpe/run.ts', 'src/core/fewshot/run.ts']) {
    const ids = await messages(file, "import { buildPools } from '../runs/pools';\nexport const x = buildPools;\n");
    assert.deepEqual(ids, [], file);
  }
});
