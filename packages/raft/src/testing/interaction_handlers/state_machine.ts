/**
 * `state-machine ID [ID ...]`: the payloads each node's state machine has applied, in order,
 * so a script can show that a snapshot or a replay rebuilt the same state.
 */
import { positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `state-machine`. */
export function handleStateMachine(env: InteractionEnv, testCase: TestCase): void {
  const ids = positionalCounts(testCase);
  for (const id of ids.length === 0 ? env.ids() : ids) {
    const values = env.node(id).applied.map((v) => v.value);
    env.write(`${id}: [${values.join(' ')}]`);
  }
}
