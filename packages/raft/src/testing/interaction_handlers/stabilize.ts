/**
 * `stabilize [ID ...]`: handles Readys and delivers messages among the nodes (default all)
 * until none has work left. Messages to other nodes stay queued.
 */
import { positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `stabilize`. */
export function handleStabilize(env: InteractionEnv, testCase: TestCase): void {
  const ids = positionalCounts(testCase);
  env.stabilize(ids.length === 0 ? env.ids() : ids);
}
