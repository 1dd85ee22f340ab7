// Goal: show that the simulator is deterministic and that its checks have teeth: each
// deliberately broken variant of the core (broken_variants.ts) is caught within a stated number
// of seeds, by a property that the bug breaks.
// Method: runSeed with a variant, seeds 0, 1, 2, ... until the first failure; the bound in each
// test name is the number of seeds tried before the test gives up. Runs are deterministic, so a
// bound that holds once holds every time (until the simulator or the core changes). The
// determinism tests replay a seed and compare every trace line.
import { describe, expect, it } from 'vitest';
import { BrokenVariant } from './broken_variants.ts';
import type { SimProperty } from './checks.ts';
import { describeRunFailure, runSeed, type RunResult } from './simulator.ts';

/** Runs seeds 0.. until one fails; returns it, or undefined when all of the first `bound` pass. */
function firstCaught(variant: BrokenVariant, bound: number): RunResult | undefined {
  for (let seed = 0; seed < bound; seed++) {
    const result = runSeed(seed, { variant, opsTarget: 2000 });
    if (!result.ok) {
      return result;
    }
  }
  return undefined;
}

function expectCaught(
  variant: BrokenVariant,
  options: { bound: number; by: readonly SimProperty[] },
): void {
  const result = firstCaught(variant, options.bound);
  expect(result, `${variant} survived ${options.bound} seeds`).toBeDefined();
  if (result === undefined) {
    return;
  }
  const property = result.firstViolation?.property;
  expect(options.by, describeRunFailure(result)).toContain(property);
  expect(result.trace.length).toBeGreaterThan(0);
}

describe('runSeed', () => {
  it('runSeed gives the same trace byte for byte for the same seed', { timeout: 60_000 }, () => {
    const first = runSeed(3, { opsTarget: 400, keepFullTrace: true });
    const second = runSeed(3, { opsTarget: 400, keepFullTrace: true });
    expect(first.fullTrace?.length).toBeGreaterThan(1000);
    expect(second.fullTrace?.join('\n')).toBe(first.fullTrace?.join('\n'));
    expect(second.stats).toEqual(first.stats);
  });

  it(
    'runSeed gives the same trace digest for the same seed at full size',
    { timeout: 60_000 },
    () => {
      const first = runSeed(11);
      const second = runSeed(11);
      expect(second.stats.traceDigest).toBe(first.stats.traceDigest);
      expect(second.stats.events).toBe(first.stats.events);
      expect(second.trace).toEqual(first.trace);
    },
  );

  it('runSeed draws a different run for a different seed', () => {
    expect(runSeed(4, { opsTarget: 200 }).stats.traceDigest).not.toBe(
      runSeed(5, { opsTarget: 200 }).stats.traceDigest,
    );
  });

  it('runSeed completes the client operations it is asked for', { timeout: 60_000 }, () => {
    const result = runSeed(8, { opsTarget: 2000 });
    expect(result.ok, describeRunFailure(result)).toBe(true);
    expect(result.stats.opsCompleted).toBeGreaterThanOrEqual(2000);
  });

  it(
    'runSeed reports the seed, the first violated property and the events before it',
    { timeout: 60_000 },
    () => {
      const result = runSeed(0, { variant: BrokenVariant.noDedup, traceTailSize: 25 });
      expect(result.ok).toBe(false);
      expect(result.firstViolation?.property).toBe('linearizability');
      expect(result.trace).toHaveLength(25);
      const report = describeRunFailure(result);
      expect(report).toContain('FAIL seed 0: linearizability');
      expect(report).toContain('npm run sim -- --seed 0 --seeds 1');
    },
  );
});

describe('broken variants', () => {
  // Bounds: each is several times the number of seeds the variant needed when measured over
  // seeds 0-99 (see the report of the simulator issue), so that a change of the simulator's
  // random draws does not make a sound test flaky.
  it(
    'runSeed catches votes counted from an older term within 20 seeds',
    { timeout: 300_000 },
    () => {
      expectCaught(BrokenVariant.oldTermVotes, {
        bound: 20,
        by: [
          'electionSafety',
          'leaderCompleteness',
          'logMatching',
          'stateMachineSafety',
          'linearizability',
        ],
      });
    },
  );

  it(
    'runSeed catches committing a previous-term entry by counting replicas within 150 seeds',
    { timeout: 300_000 },
    () => {
      expectCaught(BrokenVariant.commitPreviousTermByCount, {
        bound: 150,
        by: ['leaderCompleteness', 'stateMachineSafety', 'linearizability'],
      });
    },
  );

  it(
    'runSeed catches answering a vote (or an append) before persisting it within 20 seeds',
    { timeout: 300_000 },
    () => {
      expectCaught(BrokenVariant.sendBeforeSync, {
        bound: 20,
        by: [
          'electionSafety',
          'leaderCompleteness',
          'logMatching',
          'stateMachineSafety',
          'linearizability',
        ],
      });
    },
  );

  it(
    'runSeed catches a leader counting its own unpersisted copy while appends leave before its fsync within 40 seeds',
    { timeout: 300_000 },
    () => {
      // Regression guard for the early send of thesis §10.2.1 (node/early_messages.ts): caught
      // first at seed 7 when measured.
      expectCaught(BrokenVariant.leaderCountsUnpersisted, {
        bound: 40,
        by: ['leaderCompleteness', 'stateMachineSafety', 'linearizability'],
      });
    },
  );

  it(
    'runSeed catches serving ReadIndex without the heartbeat round within 30 seeds',
    { timeout: 300_000 },
    () => {
      expectCaught(BrokenVariant.readIndexWithoutHeartbeat, {
        bound: 30,
        by: ['readIndexSafety', 'linearizability'],
      });
    },
  );

  it(
    'runSeed catches serving ReadIndex before the leader commits an entry of its term within 10 seeds',
    { timeout: 300_000 },
    () => {
      expectCaught(BrokenVariant.readIndexBeforeTermCommit, {
        bound: 10,
        by: ['readIndexSafety', 'linearizability'],
      });
    },
  );

  it(
    'runSeed catches applying an entry twice after a retried proposal within 5 seeds',
    { timeout: 300_000 },
    () => {
      expectCaught(BrokenVariant.noDedup, { bound: 5, by: ['linearizability'] });
    },
  );
});
