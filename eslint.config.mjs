// ESLint: typescript-eslint's recommended rules on every TypeScript and JavaScript source, plus the size limits the
// project keeps (functions of at most 80 lines in the constructs, the runtime and the emulator). Formatting is
// Prettier's (.prettierrc.json), so eslint-config-prettier turns off the rules that would disagree with it.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'build/',
      'assets/',
      'dist/',
      'cdk.out/',
      'templates/',
      'coverage/',
      '**/node_modules/',
      'examples/',
      'bench/.out/',
      'API.md',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // The code narrows with its own checks where the type system cannot follow (e.g. after a Map lookup it filled).
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Lazy loading of the AWS SDK and the schema libraries (runtime/sdk.ts, runtime/schemas/codecs.ts) needs require.
      '@typescript-eslint/no-require-imports': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['lib/**/*.ts', 'runtime/**/*.ts', 'cli/**/*.ts', 'contract/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }] },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    // Node's built-in globals (crypto, fetch) may be shadowed by an explicit require of the same module.
    rules: { 'no-redeclare': ['error', { builtinGlobals: false }] },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } },
    // Tests match the emulator's terminal output, ANSI escapes included.
    rules: { 'no-control-regex': 'off' },
  },
  prettier,
);
