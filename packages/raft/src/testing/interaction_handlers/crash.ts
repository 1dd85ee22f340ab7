/**
 * `crash ID`: stops the node. It no longer ticks or handles Readys, messages to it are
 * dropped, and whatever it had not persisted is lost when it restarts.
 */
import { positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `crash`. */
export function handleCrash(env: InteractionEnv, testCase: TestCase): void {
  for (const id of positionalCounts(testCase)) {
    env.crash(id);
  }
}
