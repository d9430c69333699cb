// ESLint: typescript-eslint's recommended rules, and the boundaries of docs/architecture.md as import rules.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'out/', 'test-output/', 'leaklint-report/', 'bench/.tmp/', '.vscode-test/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  { files: ['webview-ui/**/*.ts'], languageOptions: { globals: { ...globals.browser } } },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // The boundaries of docs/architecture.md. The engine reads no file system, loads no native code and knows no
  // adapter; adapters reach the engine only through its front door (src/engine/index.ts); only the extension
  // imports vscode.
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...['fs', 'fs/promises', 'node:fs', 'node:fs/promises'].map((name) => ({
              name,
              message: 'The engine reads files through FileAccess (src/engine/files).',
            })),
            ...['child_process', 'node:child_process', 'worker_threads'].map((name) => ({
              name,
              message: 'Processes belong to the runtime (src/runtime, src/worker).',
            })),
            { name: 'onnxruntime-node', message: 'The engine builds graphs; the background worker runs them.' },
            { name: 'vscode', message: 'Only src/extension talks to VS Code.' },
          ],
          patterns: [
            { group: ['**/cli/**', '**/extension/**', '**/worker/**', '**/runtime/**', '**/node/**', '**/shared/**'], message: 'The engine knows no adapter.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/engine/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['onnxruntime-node'].map((name) => ({ name, message: 'Only the background worker (src/worker) loads onnxruntime-node.' })),
          patterns: [{ group: ['**/engine/**'], message: 'Adapters import the engine through its front door: ../engine (src/engine/index.ts).' }],
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts', 'webview-ui/**/*.ts'],
    ignores: ['src/extension/**', 'src/engine/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'Only src/extension talks to VS Code.' }, 'onnxruntime-node'],
          patterns: [{ group: ['**/engine/**'], message: 'Adapters import the engine through its front door: ../engine (src/engine/index.ts).' }],
        },
      ],
    },
  },
  {
    files: ['src/worker/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'Only src/extension talks to VS Code.' }],
          patterns: [{ group: ['**/engine/**'], message: 'Adapters import the engine through its front door.' }],
        },
      ],
    },
  },
  {
    files: ['webview-ui/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['vscode'],
          patterns: [
            { group: ['**/engine', '**/engine/**', '**/extension/**'], message: 'The webview gets display data through src/shared/webviewProtocol.ts only.' },
          ],
        },
      ],
    },
  },
  // Small rooms and no import cycles in the product code (no-cycle sees the imports that exist at run time;
  // test/unit/import-cycles.test.ts counts type-only imports too). A deliberate exception to a size rule is a disable
  // comment on the line before the function that names the rule and gives the reason after "--".
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
    rules: {
      'max-lines': ['error', { max: 700, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 120, skipBlankLines: true, skipComments: true }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  // Tests read raw model JSON of any shape.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  { files: ['test/integration/suite/*.test.js', 'test/integration/suite-reload/*.test.js'], languageOptions: { globals: { ...globals.mocha } } },
);
