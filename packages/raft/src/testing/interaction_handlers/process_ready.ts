/** `process-ready ID [ID ...]`: each node hands one Ready to the driver (persist, send, apply). */
import { positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `process-ready`. */
export function handleProcessReady(env: InteractionEnv, testCase: TestCase): void {
  for (const id of positionalCounts(testCase)) {
    env.processReady(id);
  }
}
