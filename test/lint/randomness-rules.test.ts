// The ESLint rules that keep seeded generators out of production code (eslint.config.mjs; docs/TESTING.md, "The
// seeded generator stays out of production"). Each snippet is linted as if it were a file at the given path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ESLint } from 'eslint';
import { repoRoot } from '../support/cli';

async function ruleIds(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: repoRoot });
  const [r] = await eslint.lintText(code, { filePath: path.join(repoRoot, file) });
  return (r?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

test('src/ may not import the seeded test generator, the built-in model generator, or use Math.random in mechanisms', async () => {
  const bad = [
    [
      'src/core/fewshot/run.ts',
      "import { seededRandom } from '../../../test/support/rng';\nexport const r = seededRandom;\n",
    ],
    [
      'src/core/augpe/run.ts',
      "import { seededRandom } from '../providers/builtin/rng';\nexport const r = seededRandom;\n",
    ],
    ['src/cli/main.ts', "import { seededRandom } from '../../test/support/rng';\nexport const r = seededRandom;\n"],
    ['src/extension/extension.ts', "import { x } from '../../bench/augpe/main';\nexport const r = x;\n"],
    [
      'src/shared/protocol.ts',
      "import { seededRandom } from '../../test/support/rng';\nexport const r = seededRandom;\n",
    ],
    ['src/core/privacy/noise.ts', 'export const r = Math.random();\n'],
  ] as const;
  for (const [file, code] of bad) {
    const ids = await ruleIds(file, code);
    assert.ok(
      ids.some((m) => /^no-restricted-(imports|properties):/.test(m)),
      `${file} should be refused: ${ids.join(' | ') || 'no message'}`,
    );
  }
  // The built-in model may use its own generator; tests may use the seeded one.
  const ok = [
    ['src/core/providers/builtin/index.ts', "import { seededRandom } from './rng';\nexport const r = seededRandom;\n"],
    ['test/core/x.test.ts', "import { seededRandom } from '../support/rng';\nexport const r = seededRandom;\n"],
  ] as const;
  for (const [file, code] of ok) {
    const ids = await ruleIds(file, code);
    assert.ok(!ids.some((m) => m.startsWith('no-restricted')), `${file} should be allowed: ${ids.join(' | ')}`);
  }
});
