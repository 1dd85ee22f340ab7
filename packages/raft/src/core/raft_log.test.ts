// Goal: the replicated log of one node (etcd log.go): the follower's AppendEntries checks of
// Raft Figure 2, the up-to-date rule of §5.4.1, the commit rule of §5.4.2, and reads that span
// the stored and the unstable parts. Method: a RaftLog over a MemoryStorage holding the
// persisted prefix, with unstable entries appended on top; assertions read terms and indexes.
import { describe, expect, it } from 'vitest';
import { AssertionError } from './assert.ts';
import { MemoryStorage } from './memory_storage.ts';
import { RaftLog } from './raft_log.ts';
import { asIndex, asTerm, EntryType, type Entry } from './types.ts';

function entry(index: number, term: number, sizeBytes = 0): Entry {
  return {
    index: asIndex(index),
    term: asTerm(term),
    type: EntryType.normal,
    data: new Uint8Array(sizeBytes),
  };
}

function entries(first: number, ...terms: number[]): Entry[] {
  return terms.map((term, i) => entry(first + i, term));
}

/** A log whose stored part holds `stored` and whose unstable part holds `unstable`. */
function newLog(options: {
  stored?: Entry[];
  unstable?: Entry[];
  committed?: number;
  compactTo?: number;
}): RaftLog {
  const storage = new MemoryStorage();
  storage.append(options.stored ?? []);
  if (options.compactTo !== undefined) {
    storage.createSnapshot(asIndex(options.compactTo), {
      confState: { voters: [], learners: [] },
      data: new Uint8Array(0),
    });
    storage.compact(asIndex(options.compactTo));
  }
  const log = new RaftLog(storage);
  log.append(options.unstable ?? []);
  log.commitTo(asIndex(options.committed ?? 0));
  return log;
}

function terms(log: RaftLog): number[] {
  const out: number[] = [];
  for (let i = log.firstIndex(); i <= log.lastIndex(); i++) {
    out.push(log.term(asIndex(i)) ?? -1);
  }
  return out;
}

describe('RaftLog', () => {
  it('RaftLog.findConflict finds the first new or differing entry', () => {
    // Reference: Raft Figure 2, AppendEntries step 3.
    const log = newLog({ stored: entries(1, 1, 2, 3) });
    const cases: [Entry[], number | undefined][] = [
      [[], undefined],
      [entries(1, 1, 2, 3), undefined],
      [entries(2, 2, 3), undefined],
      [entries(3, 3), undefined],
      [entries(1, 1, 2, 3, 4, 4), 4],
      [entries(3, 3, 4, 4), 4],
      [entries(4, 4, 4), 4],
      [entries(1, 4, 4), 1],
      [entries(2, 1, 4, 4), 2],
      [entries(3, 1, 2, 4, 4), 3],
    ];
    for (const [ents, want] of cases) {
      expect(log.findConflict(ents), JSON.stringify(ents.map((e) => [e.index, e.term]))).toBe(want);
    }
  });

  it('RaftLog.findConflictByTerm returns the last index at or before index with term <= term', () => {
    // Reference: Raft §5.3 — the follower's hint lets the leader skip a whole term.
    const log = newLog({ stored: entries(1, 1, 1, 3, 3, 5, 5) });
    expect(log.findConflictByTerm(asIndex(6), asTerm(5))).toBe(6);
    expect(log.findConflictByTerm(asIndex(6), asTerm(4))).toBe(4);
    expect(log.findConflictByTerm(asIndex(6), asTerm(2))).toBe(2);
    expect(log.findConflictByTerm(asIndex(6), asTerm(0))).toBe(0);
    expect(log.findConflictByTerm(asIndex(3), asTerm(3))).toBe(3);
    expect(log.findConflictByTerm(asIndex(100), asTerm(3))).toBe(4);
  });

  it('RaftLog.findConflictByTerm returns the first index of unknown term below the compaction point', () => {
    // As etcd's findConflictByTerm: an index whose term is compacted away may match, so the
    // search stops there and the leader probes it.
    const log = newLog({ stored: entries(1, 1, 2, 3, 4), compactTo: 2 });
    expect(log.findConflictByTerm(asIndex(4), asTerm(1))).toBe(1);
    expect(log.findConflictByTerm(asIndex(4), asTerm(2))).toBe(2);
  });

  it('RaftLog.isUpToDate compares last term first, then last index', () => {
    // Reference: Raft §5.4.1 — the log with the later last term is more up to date; with
    // equal last terms, the longer log is.
    const log = newLog({ stored: entries(1, 1, 2, 3) });
    const cases: [number, number, boolean][] = [
      [2, 4, true],
      [3, 4, true],
      [4, 4, true],
      [2, 2, false],
      [3, 2, false],
      [4, 2, false],
      [2, 3, false],
      [3, 3, true],
      [4, 3, true],
    ];
    for (const [lastIndex, lastTerm, want] of cases) {
      expect(log.isUpToDate(asIndex(lastIndex), asTerm(lastTerm)), `${lastIndex}/${lastTerm}`).toBe(
        want,
      );
    }
  });

  it('RaftLog.maybeAppend refuses entries whose previous entry does not match', () => {
    // Reference: Raft Figure 2, AppendEntries step 2.
    const log = newLog({ stored: entries(1, 1, 2, 3) });
    expect(
      log.maybeAppend({ index: asIndex(3), term: asTerm(2) }, asIndex(3), entries(4, 4)),
    ).toEqual({ kind: 'mismatch' });
    expect(
      log.maybeAppend({ index: asIndex(4), term: asTerm(3) }, asIndex(3), entries(5, 4)),
    ).toEqual({ kind: 'mismatch' });
    expect(terms(log)).toEqual([1, 2, 3]);
    expect(log.committed).toBe(0);
  });

  it('RaftLog.maybeAppend never truncates on a stale append whose entries already match', () => {
    // Reference: Raft Figure 2 step 3 — truncate only at a real conflict; a delayed append
    // carrying a prefix we already hold must leave later entries alone.
    const log = newLog({ stored: entries(1, 1, 2, 3) });
    const outcome = log.maybeAppend(
      { index: asIndex(0), term: asTerm(0) },
      asIndex(0),
      entries(1, 1, 2),
    );
    expect(outcome).toEqual({ kind: 'appended', lastNewIndex: 2 });
    expect(terms(log)).toEqual([1, 2, 3]);
  });

  it('RaftLog.maybeAppend truncates a conflicting suffix and appends the new entries', () => {
    // Reference: Raft Figure 2 steps 3 and 4.
    const log = newLog({ stored: entries(1, 1, 2, 3) });
    const outcome = log.maybeAppend(
      { index: asIndex(1), term: asTerm(1) },
      asIndex(0),
      entries(2, 4, 4, 4),
    );
    expect(outcome).toEqual({ kind: 'appended', lastNewIndex: 4 });
    expect(terms(log)).toEqual([1, 4, 4, 4]);
  });

  it('RaftLog.maybeAppend appends only the part after the entries it already holds', () => {
    const log = newLog({ stored: entries(1, 1, 2, 3) });
    log.maybeAppend({ index: asIndex(1), term: asTerm(1) }, asIndex(0), entries(2, 2, 3, 3));
    expect(terms(log)).toEqual([1, 2, 3, 3]);
    expect(log.unstable.entries.map((e) => e.index)).toEqual([4]);
  });

  it('RaftLog.maybeAppend sets commit to min(leaderCommit, index of last new entry)', () => {
    // Reference: Raft Figure 2 step 5 — the leader's commit may cover entries this append did
    // not check, which may still differ from the leader's.
    const cases: [number, Entry[], number][] = [
      [3, [], 1],
      [3, entries(2, 1), 2],
      [1, entries(2, 1, 1), 1],
      [10, entries(2, 1, 1, 1, 1), 5],
    ];
    for (const [leaderCommit, ents, want] of cases) {
      const log = newLog({ stored: entries(1, 1, 1, 1) });
      log.maybeAppend({ index: asIndex(1), term: asTerm(1) }, asIndex(leaderCommit), ents);
      expect(log.committed, `leaderCommit ${leaderCommit}, ${ents.length} entries`).toBe(want);
    }
  });

  it('RaftLog.maybeAppend never lowers the commit index', () => {
    const log = newLog({ stored: entries(1, 1, 1, 1), committed: 3 });
    log.maybeAppend({ index: asIndex(3), term: asTerm(1) }, asIndex(1), []);
    expect(log.committed).toBe(3);
  });

  it('RaftLog.maybeAppend reports a conflict with a committed entry without changing the log', () => {
    // Reference: Raft §5.4 (Leader Completeness) — a committed entry is never replaced; a
    // leader that asks for it is a bug or corruption elsewhere.
    const log = newLog({ stored: entries(1, 1, 1, 1), committed: 2 });
    const outcome = log.maybeAppend(
      { index: asIndex(1), term: asTerm(1) },
      asIndex(3),
      entries(2, 2, 2),
    );
    expect(outcome).toEqual({ kind: 'conflictsWithCommitted', index: 2 });
    expect(terms(log)).toEqual([1, 1, 1]);
    expect(log.committed).toBe(2);
  });

  it('RaftLog.maybeCommit commits only an index of the given term', () => {
    // Reference: Raft §5.4.2 — a leader never commits an entry of an earlier term by counting.
    const log = newLog({ stored: entries(1, 1, 2, 3) });
    expect(log.maybeCommit(asIndex(2), asTerm(3))).toBe(false);
    expect(log.committed).toBe(0);
    expect(log.maybeCommit(asIndex(3), asTerm(3))).toBe(true);
    expect(log.committed).toBe(3);
    expect(log.maybeCommit(asIndex(2), asTerm(2))).toBe(false);
    expect(log.committed).toBe(3);
  });

  it('RaftLog.commitTo ignores a lower index and asserts past the last index', () => {
    const log = newLog({ stored: entries(1, 1, 1), committed: 2 });
    log.commitTo(asIndex(1));
    expect(log.committed).toBe(2);
    expect(() => {
      log.commitTo(asIndex(3));
    }).toThrow(AssertionError);
  });

  it('RaftLog.appliedTo asserts outside [applied, committed]', () => {
    const log = newLog({ stored: entries(1, 1, 1, 1), committed: 2 });
    log.appliedTo(asIndex(1));
    expect(log.applied).toBe(1);
    expect(() => {
      log.appliedTo(asIndex(3));
    }).toThrow(AssertionError);
    log.appliedTo(asIndex(2));
    expect(() => {
      log.appliedTo(asIndex(1));
    }).toThrow(AssertionError);
  });

  it('RaftLog.nextCommittedEntries hands out committed entries once, up to a byte limit', () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1, 4), entry(2, 1, 4), entry(3, 1, 4)]);
    const log = new RaftLog(storage);
    log.commitTo(asIndex(3));
    expect(log.hasNextCommittedEntries()).toBe(true);
    expect(log.nextCommittedEntries(6).map((e) => e.index)).toEqual([1]);
    expect(log.nextCommittedEntries(8).map((e) => e.index)).toEqual([1, 2]);
    expect(log.nextCommittedEntries(0).map((e) => e.index)).toEqual([1]);
    log.appliedTo(asIndex(3));
    expect(log.hasNextCommittedEntries()).toBe(false);
    expect(log.nextCommittedEntries(100)).toEqual([]);
  });

  it('RaftLog.nextCommittedEntries holds entries back while a received snapshot is pending', () => {
    const log = newLog({ stored: entries(1, 1, 1), committed: 2 });
    log.restore({ index: asIndex(10), term: asTerm(2), confState: { voters: [], learners: [] } });
    expect(log.hasNextCommittedEntries()).toBe(false);
    expect(log.nextCommittedEntries(100)).toEqual([]);
  });

  it('RaftLog.entriesFrom reads across the stored and unstable parts', () => {
    const log = newLog({ stored: entries(1, 1, 1), unstable: entries(3, 2, 2) });
    expect(log.entriesFrom(asIndex(2), 1000)?.map((e) => e.index)).toEqual([2, 3, 4]);
    expect(log.entriesFrom(asIndex(5), 1000)).toEqual([]);
  });

  it('RaftLog.entriesFrom is undefined for a compacted index', () => {
    const log = newLog({ stored: entries(1, 1, 1, 1), compactTo: 2 });
    expect(log.entriesFrom(asIndex(2), 1000)).toBeUndefined();
    expect(log.entriesFrom(asIndex(3), 1000)?.map((e) => e.index)).toEqual([3]);
  });

  it('RaftLog.slice stops at the byte limit across the stored and unstable parts', () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1, 10), entry(2, 1, 10)]);
    const log = new RaftLog(storage);
    log.append([entry(3, 2, 10), entry(4, 2, 10)]);
    expect(log.slice(asIndex(1), asIndex(5), 25).map((e) => e.index)).toEqual([1, 2]);
    expect(log.slice(asIndex(2), asIndex(5), 25).map((e) => e.index)).toEqual([2, 3]);
    expect(log.slice(asIndex(3), asIndex(5), 5).map((e) => e.index)).toEqual([3]);
    expect(log.slice(asIndex(1), asIndex(5), 1000).map((e) => e.index)).toEqual([1, 2, 3, 4]);
  });

  it('RaftLog.slice asserts on a range outside the log', () => {
    const log = newLog({ stored: entries(1, 1, 1, 1), compactTo: 1 });
    expect(() => log.slice(asIndex(1), asIndex(3), 100)).toThrow(AssertionError);
    expect(() => log.slice(asIndex(2), asIndex(5), 100)).toThrow(AssertionError);
    expect(() => log.slice(asIndex(3), asIndex(3), 100)).toThrow(AssertionError);
  });

  it('RaftLog.term is undefined outside [firstIndex - 1, lastIndex]', () => {
    const log = newLog({ stored: entries(1, 1, 2, 3, 4), compactTo: 2 });
    expect(log.term(asIndex(1))).toBeUndefined();
    expect(log.term(asIndex(2))).toBe(2);
    expect(log.term(asIndex(4))).toBe(4);
    expect(log.term(asIndex(5))).toBeUndefined();
  });

  it('RaftLog.append asserts when it would overwrite a committed entry', () => {
    const log = newLog({ stored: entries(1, 1, 1), committed: 2 });
    expect(() => log.append(entries(2, 2))).toThrow(AssertionError);
  });

  it('RaftLog.restore makes the snapshot the whole log and commits it', () => {
    const log = newLog({ stored: entries(1, 1, 1), unstable: entries(3, 1) });
    log.restore({ index: asIndex(20), term: asTerm(4), confState: { voters: [], learners: [] } });
    expect(log.committed).toBe(20);
    expect(log.firstIndex()).toBe(21);
    expect(log.lastIndex()).toBe(20);
    expect(log.lastTerm()).toBe(4);
    expect(log.snapshotMetadata().index).toBe(20);
  });

  it('RaftLog.stableTo moves persisted entries out of the unstable part', () => {
    const log = newLog({ stored: entries(1, 1), unstable: entries(2, 1, 1) });
    log.stableTo(asIndex(2), asTerm(1));
    expect(log.unstable.entries.map((e) => e.index)).toEqual([3]);
    expect(log.lastIndex()).toBe(3);
  });
});
