/**
 * The CI sweep of the simulator, shared by the sim_ci*.test.ts files so that Vitest can run the
 * halves in separate workers: one test per seed, each completing at least 2,000 client
 * operations and keeping every checked property, linearizability included.
 */
import { expect, it } from 'vitest';
import { describeRunFailure, runSeed } from './simulator.ts';

/** Client operations each CI seed completes. */
export const ciOpsPerSeed = 2000;

/** Declares one test per seed in [first, first + count), with voterCount voters if given. */
export function defineSeedTests(range: {
  first: number;
  count: number;
  voterCount?: number;
}): void {
  const voters = range.voterCount === undefined ? {} : { voterCount: range.voterCount };
  const label = range.voterCount === undefined ? '' : ` with ${range.voterCount} voter(s)`;
  for (let seed = range.first; seed < range.first + range.count; seed++) {
    it(`runSeed keeps every property for seed ${seed}${label}`, { timeout: 120_000 }, () => {
      const result = runSeed(seed, { opsTarget: ciOpsPerSeed, ...voters });
      expect(result.ok, describeRunFailure(result)).toBe(true);
      expect(result.stats.opsCompleted).toBeGreaterThanOrEqual(ciOpsPerSeed);
    });
  }
}
