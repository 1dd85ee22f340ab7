/**
 * `propose-conf-change ID CHANGE`: proposes one single-server membership change on the node.
 * CHANGE is `v<id>` (add or promote a voter), `l<id>` (add a learner or demote a voter) or
 * `r<id>` (remove), as in etcd's scripts.
 */
import { asNodeId, ConfChangeType, type ConfChange } from '../../index.ts';
import { parseCount, positionals, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

const changeTypes = {
  v: ConfChangeType.addVoter,
  l: ConfChangeType.addLearner,
  r: ConfChangeType.removeNode,
} as const;

function parseChange(word: string): ConfChange {
  const prefix = word.slice(0, 1);
  const type = prefix === 'v' || prefix === 'l' || prefix === 'r' ? changeTypes[prefix] : undefined;
  if (type === undefined) {
    throw new Error(`Write the change as v<id>, l<id> or r<id>, got "${word}"`);
  }
  return { type, nodeId: asNodeId(parseCount(word.slice(1), 'changed node id')) };
}

/** Handles `propose-conf-change`. */
export function handleProposeConfChange(env: InteractionEnv, testCase: TestCase): void {
  const [idText, changeText] = positionals(testCase);
  if (idText === undefined || changeText === undefined) {
    throw new Error('Give a node and a change, e.g. "propose-conf-change 1 v4"');
  }
  const node = env.upNode(parseCount(idText, 'node id'));
  env.writeResult(node.raw.proposeConfChange(parseChange(changeText)));
}
