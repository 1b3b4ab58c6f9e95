// ESLint flat config. Besides the recommended rules it enforces the layer boundaries described in
// docs/ARCHITECTURE.md: src/core and src/shared never import `vscode`; webview code imports only
// src/shared (the message protocol) and browser libraries, never node built-ins or the host.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import stylistic from '@stylistic/eslint-plugin';
import prettier from 'eslint-config-prettier';

const nodeBuiltins = ['node:*', 'fs', 'path', 'crypto', 'os', 'child_process', 'http', 'https', 'stream', 'url'];
// Seeded generators exist only in tests (test/support/rng.ts): production noise and sampling come from cryptoRandom().
// src/ may not import test or benchmark code, and only the built-in model itself may use its deterministic generator
// (providers/builtin/rng.ts drives the offline model's own sampling, never DP noise or Poisson samples).
const noTestCode = [
  {
    group: ['**/test/**', '**/bench/**', 'test/**', 'bench/**'],
    message: 'src/ must not import test or benchmark code (seeded generators are for tests only; see docs/TESTING.md).',
  },
  {
    group: ['**/builtin/rng', '**/builtin/rng.ts'],
    message: "The built-in model's deterministic generator is for the model only; DP randomness is cryptoRandom().",
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.vscode-test/**', 'out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // Formatting is Prettier's (npm run format); ESLint's own formatting rules are turned off.
  prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: { '@stylistic': stylistic },
    rules: {
      // Prettier formats at 120 columns (.prettierrc.json); this catches what it cannot wrap (comments, code
      // Prettier left long), leaving long string and template literals alone so messages stay greppable.
      '@stylistic/max-len': [
        'error',
        {
          code: 120,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
          ignoreUrls: true,
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['src/core/**/*.ts', 'src/shared/**/*.ts', 'src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'vscode', message: 'Only src/extension may import vscode.' }], patterns: noTestCode },
      ],
    },
  },
  {
    files: ['src/extension/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: noTestCode }] },
  },
  {
    // The two algorithms never lean on each other sideways: what both need lives in src/core/runs/.
    files: ['src/core/fewshot/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'Only src/extension may import vscode.' }],
          patterns: [
            ...noTestCode,
            {
              group: ['**/augpe', '**/augpe/**'],
              message: 'fewshot/ may not import augpe/: share code via src/core/runs/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/core/augpe/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'Only src/extension may import vscode.' }],
          patterns: [
            ...noTestCode,
            {
              group: ['**/fewshot', '**/fewshot/**'],
              message: 'augpe/ may not import fewshot/: share code via src/core/runs/.',
            },
          ],
        },
      ],
    },
  },
  {
    // Mechanism code draws every random bit from the RandomSource it is given (cryptoRandom() in production).
    files: ['src/core/fewshot/**/*.ts', 'src/core/augpe/**/*.ts', 'src/core/privacy/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'Use the RandomSource passed in (cryptoRandom() in production).',
        },
      ],
    },
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'src/shared is imported by the webview: no vscode.' }],
          patterns: [
            { group: nodeBuiltins, message: 'src/shared is imported by the webview: no node built-ins.' },
            ...noTestCode,
          ],
        },
      ],
    },
  },
  {
    files: ['webview/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'The webview talks to the host only through src/shared/protocol.ts.' }],
          patterns: [
            { group: nodeBuiltins, message: 'Webview code runs in a browser.' },
            {
              group: ['**/src/core/**', '**/src/extension/**', '**/src/cli/**'],
              message: 'Webview code may import only src/shared.',
            },
          ],
        },
      ],
    },
  },
);
