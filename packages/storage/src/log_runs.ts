/**
 * Entry runs: the log is stored as one record per write of consecutive entries, keyed by the
 * first index, rather than one record per entry. A Ready of 256 proposals is then one LevelDB
 * put, one checksum and one key, which is where group commit spends its CPU (measured in
 * bench:raft: per-entry records took about 40% of a leader's busy time).
 *
 * Pure functions: given the first index of each stored run and the in-memory view, they return
 * the LevelDB operations of a change and the runs after it; the store writes them and adopts
 * the new runs only once LevelDB accepted the batch.
 *
 * Invariant (with the view's log firstIndex()..lastIndex()): runs are in increasing order, each
 * run ends where the next begins, the last ends at lastIndex(), and the first starts at or below
 * firstIndex() (it may still hold compacted entries, ignored at load).
 */
import type { Entry, LogIndex, MemoryStorage } from '@coffer/raft';
import { encodeEntries } from '@coffer/raft/node';

import type { LevelOperation } from './level_adapter.ts';
import { encodeRecord, runKey } from './log_record.ts';

/** The operations of a change to the stored runs, and the runs once it is written. */
export interface RunChange {
  readonly operations: readonly LevelOperation[];
  readonly runs: readonly number[];
}

function putRun(first: number, entries: readonly Entry[]): LevelOperation {
  const key = runKey(first);
  return { type: 'put', key, value: encodeRecord(key, encodeEntries(entries)) };
}

function deleteRun(first: number): LevelOperation {
  return { type: 'del', key: runKey(first) };
}

/**
 * Appends entries (consecutive, non-empty) to a log whose last index is lastIndex, replacing
 * any stored suffix from the first new index on: runs that start there or later are deleted,
 * and a run that straddles it is rewritten with only the entries before it.
 */
export function appendRun(
  log: {
    readonly runs: readonly number[];
    readonly view: MemoryStorage;
    readonly lastIndex: number;
  },
  entries: readonly Entry[],
): RunChange {
  const { runs, view, lastIndex } = log;
  const first = entries[0]?.index;
  if (first === undefined) {
    return { operations: [], runs };
  }
  const operations: LevelOperation[] = [];
  const kept = [...runs];
  // The last kept run ends just before the lowest run deleted, or at lastIndex.
  let keptEnd = lastIndex;
  while (kept.length > 0 && (kept.at(-1) ?? 0) >= first) {
    const dropped = kept.pop() ?? 0;
    operations.push(deleteRun(dropped));
    keptEnd = dropped - 1;
  }
  const straddling = kept.at(-1);
  // NB: only a run the cut falls inside is rewritten; one that ends right before it stays.
  if (straddling !== undefined && keptEnd >= first) {
    kept.pop();
    operations.push(deleteRun(straddling));
    const keepFrom = Math.max(straddling, view.firstIndex());
    if (keepFrom < first) {
      const before = view.entries(keepFrom as LogIndex, first, Number.POSITIVE_INFINITY);
      operations.push(putRun(keepFrom, before));
      kept.push(keepFrom);
    }
  }
  operations.push(putRun(first, entries));
  kept.push(first);
  return { operations, runs: kept };
}

/** Deletes the runs whose entries all lie at or below base (the new log base). */
export function compactRuns(runs: readonly number[], lastIndex: number, base: number): RunChange {
  const operations: LevelOperation[] = [];
  let dropped = 0;
  for (const [i, first] of runs.entries()) {
    const end = (runs[i + 1] ?? lastIndex + 1) - 1;
    if (end > base) {
      break;
    }
    operations.push(deleteRun(first));
    dropped = i + 1;
  }
  return { operations, runs: runs.slice(dropped) };
}

/** Deletes every run (a received snapshot replaces the whole log). */
export function clearRuns(runs: readonly number[]): RunChange {
  return { operations: runs.map(deleteRun), runs: [] };
}
