/**
 * `set-randomized-election-timeout ID timeout=T`: fixes the node's randomized election timeout
 * at T ticks, in [electionTimeoutTicks, 2 * electionTimeoutTicks). It is set now and stays
 * through later role changes, since the node's random source then returns the same jitter.
 */
import { findSingleArg, parseCount, positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `set-randomized-election-timeout`. */
export function handleSetRandomizedElectionTimeout(env: InteractionEnv, testCase: TestCase): void {
  const timeout = parseCount(findSingleArg(testCase, 'timeout') ?? '', 'timeout');
  for (const id of positionalCounts(testCase)) {
    const raft = env.upNode(id).raw.raft;
    const base = raft.config.electionTimeoutTicks;
    if (timeout < base || timeout >= 2 * base) {
      throw new Error(`Pick a timeout in [${base}, ${2 * base}), got ${timeout}`);
    }
    env.jitterTicks.set(id, timeout - base);
    raft.randomizedElectionTimeout = timeout;
  }
}
