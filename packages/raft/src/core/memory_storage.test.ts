// Goal: the in-memory LogStorage (etcd storage.go MemoryStorage): reads within and outside the
// log, appends that replace a conflicting suffix, snapshots and compaction, snapshot chunks,
// and corrupt input (gaps, term regressions, writes below the snapshot) refused with typed
// COFFER_RAFT_* errors (STYLE.md §5.8, §8.6). Method: unit tests on MemoryStorage.
import { describe, expect, it } from 'vitest';
import { RaftError, RaftErrorCode } from './errors.ts';
import { MemoryStorage } from './memory_storage.ts';
import { asIndex, asNodeId, asTerm, EntryType, type ConfState, type Entry } from './types.ts';

const conf: ConfState = { voters: [asNodeId(1), asNodeId(2), asNodeId(3)], learners: [] };

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

/** A storage holding entries 1..5 of terms 1,1,2,2,3. */
function filled(): MemoryStorage {
  const storage = new MemoryStorage(conf);
  storage.append(entries(1, 1, 1, 2, 2, 3));
  return storage;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof RaftError) {
      return err.code;
    }
    throw err;
  }
  return undefined;
}

function snapshotAt(storage: MemoryStorage, index: number, data = new Uint8Array(0)): void {
  storage.createSnapshot(asIndex(index), { confState: conf, data });
}

describe('MemoryStorage', () => {
  it('MemoryStorage starts empty with the given membership and a zero hard state', () => {
    const storage = new MemoryStorage(conf);
    expect(storage.firstIndex()).toBe(1);
    expect(storage.lastIndex()).toBe(0);
    expect(storage.term(asIndex(0))).toBe(0);
    expect(storage.initialState()).toEqual({
      hardState: { term: 0, vote: 0, commit: 0 },
      confState: conf,
    });
  });

  it('MemoryStorage.setHardState is returned by initialState', () => {
    const storage = filled();
    const hardState = { term: asTerm(3), vote: asNodeId(2), commit: asIndex(4) };
    storage.setHardState(hardState);
    expect(storage.initialState().hardState).toEqual(hardState);
    expect(storage.hardState()).toEqual(hardState);
  });

  it('MemoryStorage.term answers within [firstIndex - 1, lastIndex] only', () => {
    const storage = filled();
    expect(storage.term(asIndex(0))).toBe(0);
    expect(storage.term(asIndex(3))).toBe(2);
    expect(storage.term(asIndex(5))).toBe(3);
    expect(storage.term(asIndex(6))).toBeUndefined();
    snapshotAt(storage, 3);
    storage.compact(asIndex(3));
    expect(storage.term(asIndex(2))).toBeUndefined();
    expect(storage.term(asIndex(3))).toBe(2);
  });

  it('MemoryStorage.entries returns [lo, hi) and at least one entry under the byte limit', () => {
    const storage = new MemoryStorage(conf);
    storage.append([entry(1, 1, 10), entry(2, 1, 10), entry(3, 1, 10)]);
    expect(storage.entries(asIndex(1), asIndex(4), 1000).map((e) => e.index)).toEqual([1, 2, 3]);
    expect(storage.entries(asIndex(1), asIndex(4), 25).map((e) => e.index)).toEqual([1, 2]);
    expect(storage.entries(asIndex(1), asIndex(4), 0).map((e) => e.index)).toEqual([1]);
    expect(storage.entries(asIndex(2), asIndex(3), 1000).map((e) => e.index)).toEqual([2]);
  });

  it('MemoryStorage.entries refuses a compacted range with COFFER_RAFT_LOG_UNAVAILABLE', () => {
    const storage = filled();
    snapshotAt(storage, 3);
    storage.compact(asIndex(3));
    expect(codeOf(() => storage.entries(asIndex(3), asIndex(5), 1000))).toBe(
      RaftErrorCode.logUnavailable,
    );
    expect(storage.entries(asIndex(4), asIndex(6), 1000).map((e) => e.index)).toEqual([4, 5]);
  });

  it('MemoryStorage.entries refuses a range past the end or an empty range with COFFER_RAFT_LOG_UNAVAILABLE', () => {
    const storage = filled();
    expect(codeOf(() => storage.entries(asIndex(4), asIndex(7), 1000))).toBe(
      RaftErrorCode.logUnavailable,
    );
    expect(codeOf(() => storage.entries(asIndex(3), asIndex(3), 1000))).toBe(
      RaftErrorCode.logUnavailable,
    );
    expect(codeOf(() => storage.entries(asIndex(0), asIndex(2), 1000))).toBe(
      RaftErrorCode.logUnavailable,
    );
  });

  it('MemoryStorage.append extends the log and replaces a conflicting suffix', () => {
    const storage = filled();
    storage.append(entries(6, 3, 3));
    expect(storage.lastIndex()).toBe(7);
    storage.append(entries(4, 4, 4));
    expect(storage.lastIndex()).toBe(5);
    expect([1, 2, 3, 4, 5].map((i) => storage.term(asIndex(i)))).toEqual([1, 1, 2, 4, 4]);
  });

  it('MemoryStorage.append ignores an empty list', () => {
    const storage = filled();
    storage.append([]);
    expect(storage.lastIndex()).toBe(5);
  });

  it('MemoryStorage.append refuses a gap after the last entry with COFFER_RAFT_LOG_CORRUPT', () => {
    const storage = filled();
    expect(
      codeOf(() => {
        storage.append(entries(7, 3));
      }),
    ).toBe(RaftErrorCode.logCorrupt);
    expect(storage.lastIndex()).toBe(5);
  });

  it('MemoryStorage.append refuses a gap inside the batch with COFFER_RAFT_LOG_CORRUPT', () => {
    const storage = filled();
    expect(
      codeOf(() => {
        storage.append([entry(6, 3), entry(8, 3)]);
      }),
    ).toBe(RaftErrorCode.logCorrupt);
    expect(
      codeOf(() => {
        storage.append([entry(6, 3), entry(6, 3)]);
      }),
    ).toBe(RaftErrorCode.logCorrupt);
    expect(storage.lastIndex()).toBe(5);
  });

  it('MemoryStorage.append refuses a term regression inside the batch with COFFER_RAFT_LOG_CORRUPT', () => {
    const storage = filled();
    expect(
      codeOf(() => {
        storage.append([entry(6, 4), entry(7, 3)]);
      }),
    ).toBe(RaftErrorCode.logCorrupt);
    expect(storage.lastIndex()).toBe(5);
  });

  it('MemoryStorage.append refuses a term below the entry it follows with COFFER_RAFT_LOG_CORRUPT', () => {
    // Invariant of memory_storage.ts: terms never decrease along the log, also across appends.
    const storage = filled();
    expect(
      codeOf(() => {
        storage.append(entries(6, 2));
      }),
    ).toBe(RaftErrorCode.logCorrupt);
    expect(
      codeOf(() => {
        storage.append(entries(4, 1));
      }),
    ).toBe(RaftErrorCode.logCorrupt);
    expect(storage.lastIndex()).toBe(5);
    expect(storage.term(asIndex(4))).toBe(2);
  });

  it('MemoryStorage.append refuses entries covered by the snapshot with COFFER_RAFT_LOG_CORRUPT', () => {
    const storage = filled();
    snapshotAt(storage, 3);
    storage.compact(asIndex(3));
    expect(
      codeOf(() => {
        storage.append(entries(3, 2, 2));
      }),
    ).toBe(RaftErrorCode.logCorrupt);
    expect(
      codeOf(() => {
        storage.append(entries(2, 1));
      }),
    ).toBe(RaftErrorCode.logCorrupt);
    expect(storage.firstIndex()).toBe(4);
    expect(storage.lastIndex()).toBe(5);
  });

  it('MemoryStorage.append after an installed snapshot refuses a term below the snapshot term', () => {
    const storage = new MemoryStorage(conf);
    storage.applySnapshot(
      { index: asIndex(10), term: asTerm(4), confState: conf },
      new Uint8Array(0),
    );
    expect(
      codeOf(() => {
        storage.append(entries(11, 3));
      }),
    ).toBe(RaftErrorCode.logCorrupt);
    storage.append(entries(11, 4, 5));
    expect(storage.lastIndex()).toBe(12);
  });

  it('MemoryStorage.createSnapshot records metadata and keeps the entries until compact', () => {
    const storage = filled();
    const data = new Uint8Array([1, 2, 3]);
    const metadata = storage.createSnapshot(asIndex(4), { confState: conf, data });
    expect(metadata).toEqual({ index: 4, term: 2, confState: conf });
    expect(storage.snapshotMetadata()).toEqual(metadata);
    expect(storage.snapshotData()).toEqual(data);
    expect(storage.firstIndex()).toBe(1);
    storage.compact(asIndex(4));
    expect(storage.firstIndex()).toBe(5);
    expect(storage.lastIndex()).toBe(5);
    expect(storage.usage()).toEqual({ entryCount: 1, sizeBytes: 0 });
  });

  it('MemoryStorage.createSnapshot refuses an index at or below the last snapshot or past the log', () => {
    const storage = filled();
    snapshotAt(storage, 3);
    expect(
      codeOf(() => {
        snapshotAt(storage, 3);
      }),
    ).toBe(RaftErrorCode.logUnavailable);
    expect(
      codeOf(() => {
        snapshotAt(storage, 2);
      }),
    ).toBe(RaftErrorCode.logUnavailable);
    expect(
      codeOf(() => {
        snapshotAt(storage, 6);
      }),
    ).toBe(RaftErrorCode.logUnavailable);
    expect(storage.snapshotMetadata().index).toBe(3);
  });

  it('MemoryStorage.compact refuses to pass the snapshot and ignores an index already compacted', () => {
    const storage = filled();
    snapshotAt(storage, 3);
    expect(
      codeOf(() => {
        storage.compact(asIndex(4));
      }),
    ).toBe(RaftErrorCode.logUnavailable);
    storage.compact(asIndex(3));
    storage.compact(asIndex(2));
    expect(storage.firstIndex()).toBe(4);
  });

  it('MemoryStorage.applySnapshot replaces the log and refuses an older snapshot', () => {
    const storage = filled();
    const data = new Uint8Array([9]);
    storage.applySnapshot({ index: asIndex(20), term: asTerm(5), confState: conf }, data);
    expect(storage.firstIndex()).toBe(21);
    expect(storage.lastIndex()).toBe(20);
    expect(storage.term(asIndex(20))).toBe(5);
    expect(storage.snapshotData()).toEqual(data);
    const older = { index: asIndex(10), term: asTerm(5), confState: conf };
    expect(
      codeOf(() => {
        storage.applySnapshot(older, data);
      }),
    ).toBe(RaftErrorCode.logCorrupt);
    expect(storage.snapshotMetadata().index).toBe(20);
  });

  it('MemoryStorage.snapshotChunk slices the snapshot data and marks the last slice done', () => {
    const storage = filled();
    snapshotAt(storage, 4, new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const first = storage.snapshotChunk(asIndex(4), 0, 4);
    const middle = storage.snapshotChunk(asIndex(4), 4, 4);
    const last = storage.snapshotChunk(asIndex(4), 8, 4);
    expect(first).toEqual({ data: new Uint8Array([0, 1, 2, 3]), done: false });
    expect(middle).toEqual({ data: new Uint8Array([4, 5, 6, 7]), done: false });
    expect(last).toEqual({ data: new Uint8Array([8, 9]), done: true });
  });

  it('MemoryStorage.snapshotChunk is undefined once that snapshot was replaced', () => {
    const storage = filled();
    snapshotAt(storage, 3, new Uint8Array([1]));
    snapshotAt(storage, 5, new Uint8Array([2]));
    expect(storage.snapshotChunk(asIndex(3), 0, 4)).toBeUndefined();
    expect(storage.snapshotChunk(asIndex(5), 0, 4)).toEqual({
      data: new Uint8Array([2]),
      done: true,
    });
  });

  it('MemoryStorage.snapshotChunk of an empty snapshot is one empty done chunk', () => {
    const storage = filled();
    snapshotAt(storage, 3);
    expect(storage.snapshotChunk(asIndex(3), 0, 4)).toEqual({
      data: new Uint8Array(0),
      done: true,
    });
  });

  it('MemoryStorage.usage counts entries and payload bytes after the snapshot', () => {
    const storage = new MemoryStorage(conf);
    storage.append([entry(1, 1, 3), entry(2, 1, 4), entry(3, 1, 5)]);
    expect(storage.usage()).toEqual({ entryCount: 3, sizeBytes: 12 });
  });
});
