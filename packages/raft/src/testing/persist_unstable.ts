/**
 * For tests that drive a Raft directly (no RawNode): do what a driver does with a Ready's
 * entries before acknowledgements can come back, so the test sees the leader commit as it would
 * in a running node.
 */
import { MemoryStorage, type Raft } from '../index.ts';

/**
 * Writes r's unstable entries to its MemoryStorage, marks them stable and tells the core they
 * are on disk (a leader counts its own copy toward a quorum only from then on).
 */
export function persistUnstable(r: Raft): void {
  const unstable = [...r.log.unstable.entries];
  const last = unstable.at(-1);
  const storage = r.log.storage;
  if (!(storage instanceof MemoryStorage)) {
    throw new Error('persistUnstable: the Raft must run on a MemoryStorage');
  }
  if (last !== undefined) {
    storage.append(unstable);
    r.log.stableTo(last.index, last.term);
  }
  r.onPersisted();
}
