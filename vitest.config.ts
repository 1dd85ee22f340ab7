/**
 * One Vitest run over every workspace: unit tests beside the code in packages/, cross-package
 * tests in test/, process-fault tests in chaos/. Workspace imports resolve to src/ through the
 * "@coffer/source" export condition, so tests never need a build first.
 *
 * Two groups, one after the other:
 * - `unit` (packages/): in-process tests on fake clocks, with the simulations; CPU-bound, so
 *   two files run at once, one per core of the CI machine (Vitest's own default would be one
 *   worker on two cores: one per core, less one). A few of them start a short-lived child (the
 *   CLI's server and audit-verify commands, a full tmpfs, core dumps): single processes with
 *   generous deadlines, not clusters.
 * - `process` (test/ and chaos/): each file starts real node processes (a cluster, a server,
 *   children to SIGKILL) and spends most of its time waiting on them; one file at a time, so
 *   two clusters never contend for the cores and every wait keeps the margin it was written
 *   with.
 */
import { availableParallelism } from 'node:os';

import { defineConfig } from 'vitest/config';

const conditions = ['@coffer/source', 'node', 'import', 'module', 'default'];
const exclude = ['**/node_modules/**', '**/dist/**'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@coffer/source'] } },
  test: {
    pool: 'forks',
    passWithNoTests: false,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          exclude,
          maxWorkers: Math.max(2, availableParallelism() - 1),
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'process',
          include: ['test/**/*.test.ts', 'chaos/**/*.test.ts'],
          exclude,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
