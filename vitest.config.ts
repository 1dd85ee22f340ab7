/**
 * One Vitest run over every workspace: unit tests beside the code in packages/, cross-package
 * tests in test/, process-fault tests in chaos/. Workspace imports resolve to src/ through the
 * "@coffer/source" export condition, so tests never need a build first.
 */
import { defineConfig } from 'vitest/config';

const conditions = ['@coffer/source', 'node', 'import', 'module', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@coffer/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'chaos/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    passWithNoTests: false,
  },
});
