/**
 * `tick-election ID`: ticks the node electionTimeoutTicks times. A follower whose randomized
 * timeout is the default (no jitter) campaigns; a leader runs one CheckQuorum round.
 */
import { positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `tick-election`. */
export function handleTickElection(env: InteractionEnv, testCase: TestCase): void {
  for (const id of positionalCounts(testCase)) {
    env.tick(id, env.upNode(id).raw.raft.config.electionTimeoutTicks);
  }
}
