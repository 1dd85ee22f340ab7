/** `tick-heartbeat ID`: ticks the node heartbeatIntervalTicks times (a leader heartbeats). */
import { positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `tick-heartbeat`. */
export function handleTickHeartbeat(env: InteractionEnv, testCase: TestCase): void {
  for (const id of positionalCounts(testCase)) {
    env.tick(id, env.upNode(id).raw.raft.config.heartbeatIntervalTicks);
  }
}
