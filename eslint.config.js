// ESLint flat config: typescript-eslint strict-type-checked, errors only (STYLE.md 4.4).
// A style rule a machine can check becomes a rule here whose message links STYLE.md (9.4).
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const styleLink = 'See STYLE.md 4.3 (no enum, namespace or parameter properties).';

export default defineConfig(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/coverage/**',
      '.tmp/**',
      '**/*.cjs',
      // Generated from the .proto files by packages/client/scripts/generate_types.ts.
      'packages/client/src/generated/**',
    ],
  },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['eslint.config.js', 'vitest.config.ts'],
          defaultProject: 'tsconfig.tools.json',
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      curly: ['error', 'all'],
      'max-lines-per-function': [
        'error',
        { max: 70, skipBlankLines: true, skipComments: true, IIFEs: true },
      ],
      'max-params': ['error', 3],
      // Messages name values (STYLE.md 5.6), and Term, LogIndex and NodeId are branded numbers.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/max-params': 'off',
      'no-restricted-syntax': [
        'error',
        {
          selector: 'TSEnumDeclaration',
          message: `No enum: use an \`as const\` object plus its union type. ${styleLink}`,
        },
        {
          selector: 'TSModuleDeclaration[kind="namespace"]',
          message: `No namespace: use ES modules. ${styleLink}`,
        },
        {
          selector: 'TSParameterProperty',
          message: `No parameter properties: declare the field and assign it. ${styleLink}`,
        },
      ],
    },
  },
  {
    // describe() blocks are long by nature; each it() stays short by review, not by lint.
    files: ['**/*.test.ts'],
    rules: { 'max-lines-per-function': 'off' },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
