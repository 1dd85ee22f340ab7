/** `tick ID [count=N]`: ticks the node N times (default 1), for lease and timeout edges. */
import { findSingleArg, parseCount, positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `tick`. */
export function handleTick(env: InteractionEnv, testCase: TestCase): void {
  const countText = findSingleArg(testCase, 'count');
  const count = countText === undefined ? 1 : parseCount(countText, 'count');
  for (const id of positionalCounts(testCase)) {
    env.tick(id, count);
  }
}
