/**
 * `read-index ID CONTEXT`: asks the node for a linearizable read point named CONTEXT (thesis
 * §6.4). The answer shows up as a read state in a later Ready.
 */
import { parseCount, positionals, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

const encoder = new TextEncoder();

/** Handles `read-index`. */
export function handleReadIndex(env: InteractionEnv, testCase: TestCase): void {
  const [idText, context] = positionals(testCase);
  if (idText === undefined || context === undefined) {
    throw new Error('Give a node and a context, e.g. "read-index 1 r1"');
  }
  env.writeResult(env.upNode(parseCount(idText, 'node id')).raw.readIndex(encoder.encode(context)));
}
