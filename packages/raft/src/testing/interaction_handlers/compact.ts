/**
 * `compact ID [INDEX]`: snapshots the node's state machine at INDEX (default: its applied
 * index) and discards the log up to it, so a lagging follower needs the snapshot.
 */
import { asIndex } from '../../index.ts';
import { positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `compact`. */
export function handleCompact(env: InteractionEnv, testCase: TestCase): void {
  const [id, index] = positionalCounts(testCase);
  if (id === undefined) {
    throw new Error('Give a node, e.g. "compact 1" or "compact 1 5"');
  }
  const applied = env.upNode(id).raw.status().applied;
  env.compact(id, index === undefined ? applied : asIndex(index));
}
