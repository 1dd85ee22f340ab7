/** `transfer-leadership from=ID to=ID`: the leader hands leadership to a voter (thesis §3.10). */
import { asNodeId } from '../../index.ts';
import { findSingleArg, parseCount, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `transfer-leadership`. */
export function handleTransferLeadership(env: InteractionEnv, testCase: TestCase): void {
  const from = findSingleArg(testCase, 'from');
  const to = findSingleArg(testCase, 'to');
  if (from === undefined || to === undefined) {
    throw new Error('Give both ends, e.g. "transfer-leadership from=1 to=2"');
  }
  const node = env.upNode(parseCount(from, 'from'));
  env.writeResult(node.raw.transferLeader(asNodeId(parseCount(to, 'to'))));
}
