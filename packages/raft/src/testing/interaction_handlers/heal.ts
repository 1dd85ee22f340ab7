/** `heal [ID ...]`: reconnects the nodes (default: all). Messages already dropped stay lost. */
import { positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `heal`. */
export function handleHeal(env: InteractionEnv, testCase: TestCase): void {
  const ids = positionalCounts(testCase);
  if (ids.length === 0) {
    env.isolated.clear();
  }
  for (const id of ids) {
    env.isolated.delete(id);
  }
}
