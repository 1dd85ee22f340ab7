/**
 * `raft-log ID`: the node's durable log (what its storage holds), one entry per line, and the
 * snapshot it starts from, if any.
 */
import { asIndex } from '../../index.ts';
import { parseCount, positionals, type TestCase } from '../datadriven.ts';
import { formatEntry, formatSnapshotMetadata } from '../interaction_format.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `raft-log`. */
export function handleRaftLog(env: InteractionEnv, testCase: TestCase): void {
  const [idText] = positionals(testCase);
  const storage = env.node(parseCount(idText ?? '', 'node id')).storage;
  const snapshot = storage.snapshotMetadata();
  if (snapshot.index > 0) {
    env.write(`snapshot ${formatSnapshotMetadata(snapshot)}`);
  }
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  if (last < first) {
    env.write(`log is empty: first index=${first}, last index=${last}`);
    return;
  }
  for (const entry of storage.entries(first, asIndex(last + 1), Number.MAX_SAFE_INTEGER)) {
    env.write(formatEntry(entry));
  }
}
