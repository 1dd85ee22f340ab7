/**
 * `propose ID value [value ...]`: proposes the values as one batch on the node. A refusal is
 * printed with its code (not leader, transfer in progress, uncommitted log full).
 */
import { positionals, parseCount, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

const encoder = new TextEncoder();

/** Handles `propose`. */
export function handlePropose(env: InteractionEnv, testCase: TestCase): void {
  const [idText, ...values] = positionals(testCase);
  if (idText === undefined || values.length === 0) {
    throw new Error('Give a node and at least one value, e.g. "propose 1 foo"');
  }
  const node = env.upNode(parseCount(idText, 'node id'));
  env.writeResult(node.raw.propose(values.map((v) => encoder.encode(v))));
}
