// ESLint (flat config): typescript-eslint's strictTypeChecked on every TypeScript file, plus the
// project's own rules. `npm run lint`; .ci/run runs it before the tests.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/.tmp/**', 'reports/**', '**/*.js', '**/*.mjs', 'vitest.config.ts', 'pipelines/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
      // Off: after noUncheckedIndexedAccess, `a[i]!` in numeric loops is how this code states a
      // bound it has already checked; 413 findings, none a bug. The type checker still runs.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Off: `return void-call()` in arrow callbacks is a style choice, not a correctness issue.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // Off: pipe reads JSON files and worker messages whose static types are optimistic; these
      // "unnecessary" checks are the guards against damaged input, and removing them is a risk.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Off: explicit String(x), `as T` on generic calls and single-use type parameters document
      // intent at boundaries (npy, JSON, worker data); they change no behaviour.
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
      // Off: some `async` functions without `await` implement Promise-returning interfaces
      // (TrainedModel.predictProba, bench entries), so a throw becomes a rejection as callers expect.
      '@typescript-eslint/require-await': 'off',
      // Numbers and booleans in messages are intended; objects and nullish values stay errors.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // A focused or skipped test silently shrinks the suite (conditional skips use skipIf/runIf).
      'no-restricted-properties': [
        'error',
        ...['describe', 'it', 'test'].flatMap((object) => ['only', 'skip'].map((property) => ({ object, property, message: 'no focused or skipped tests in the suite' }))),
      ],
    },
  },
  {
    // Tests assert on parsed JSON (JSON.parse is `any`): a wrong field fails the assertion itself.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-dynamic-delete': 'off',
    },
  },
  {
    // The CLI renderers and the benchmark runner are where output to the terminal belongs.
    files: ['runner/cli/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
