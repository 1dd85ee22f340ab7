/**
 * `restart ID`: rebuilds the node from its storage, as after a crash (crashing it first if it
 * is up). The state machine restarts from the snapshot and the committed log is replayed.
 */
import { positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `restart`. */
export function handleRestart(env: InteractionEnv, testCase: TestCase): void {
  for (const id of positionalCounts(testCase)) {
    env.restart(id);
  }
}
