/** `isolate ID [ID ...]`: drops every message to or from the nodes until `heal`. */
import { positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `isolate`. */
export function handleIsolate(env: InteractionEnv, testCase: TestCase): void {
  for (const id of positionalCounts(testCase)) {
    env.node(id);
    env.isolated.add(id);
  }
}
