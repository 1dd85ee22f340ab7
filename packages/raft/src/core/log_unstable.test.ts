// Goal: the unstable tail of the log (etcd log_unstable.go): entries and a received snapshot
// that the driver has not persisted yet. Method: unit tests on UnstableLog built directly,
// checking its offset, entries and snapshot after each call, including stale acknowledgements.
import { describe, expect, it } from 'vitest';
import { AssertionError } from './assert.ts';
import { UnstableLog } from './log_unstable.ts';
import { asIndex, asTerm, EntryType, type Entry, type SnapshotMetadata } from './types.ts';

function entry(index: number, term: number): Entry {
  return {
    index: asIndex(index),
    term: asTerm(term),
    type: EntryType.normal,
    data: new Uint8Array(0),
  };
}

function entries(first: number, ...terms: number[]): Entry[] {
  return terms.map((term, i) => entry(first + i, term));
}

function snapshot(index: number, term: number): SnapshotMetadata {
  return { index: asIndex(index), term: asTerm(term), confState: { voters: [], learners: [] } };
}

function unstable(offset: number, logEntries: Entry[], snap?: SnapshotMetadata): UnstableLog {
  const log = new UnstableLog(asIndex(offset));
  log.entries = logEntries;
  log.snapshot = snap;
  return log;
}

function indexes(log: UnstableLog): number[] {
  return log.entries.map((e) => e.index);
}

describe('UnstableLog', () => {
  it('UnstableLog.maybeFirstIndex is the index after a pending snapshot', () => {
    expect(unstable(5, entries(5, 1)).maybeFirstIndex()).toBeUndefined();
    expect(unstable(5, [], snapshot(4, 1)).maybeFirstIndex()).toBe(5);
    expect(unstable(5, entries(5, 1), snapshot(4, 1)).maybeFirstIndex()).toBe(5);
  });

  it('UnstableLog.maybeLastIndex prefers entries, then the snapshot, then nothing', () => {
    expect(unstable(5, entries(5, 1, 1)).maybeLastIndex()).toBe(6);
    expect(unstable(5, [], snapshot(4, 1)).maybeLastIndex()).toBe(4);
    expect(unstable(5, entries(5, 1), snapshot(4, 1)).maybeLastIndex()).toBe(5);
    expect(unstable(5, []).maybeLastIndex()).toBeUndefined();
  });

  it('UnstableLog.maybeTerm answers for its entries and the snapshot index only', () => {
    const log = unstable(5, entries(5, 2, 3), snapshot(4, 1));
    expect(log.maybeTerm(asIndex(4))).toBe(1);
    expect(log.maybeTerm(asIndex(5))).toBe(2);
    expect(log.maybeTerm(asIndex(6))).toBe(3);
    expect(log.maybeTerm(asIndex(7))).toBeUndefined();
    expect(log.maybeTerm(asIndex(3))).toBeUndefined();
    expect(unstable(5, entries(5, 2)).maybeTerm(asIndex(4))).toBeUndefined();
  });

  it('UnstableLog.stableTo drops entries up to a persisted index of the same term', () => {
    const log = unstable(5, entries(5, 1, 1, 2));
    log.stableTo(asIndex(6), asTerm(1));
    expect(log.offset).toBe(7);
    expect(indexes(log)).toEqual([7]);
  });

  it('UnstableLog.stableTo ignores an acknowledgement whose term no longer matches', () => {
    // The entry at that index was replaced by a newer leader's while the write was in flight.
    const log = unstable(5, entries(5, 1, 3));
    log.stableTo(asIndex(6), asTerm(2));
    expect(log.offset).toBe(5);
    expect(indexes(log)).toEqual([5, 6]);
  });

  it('UnstableLog.stableTo ignores an index below the offset or past the end', () => {
    const log = unstable(5, entries(5, 1));
    log.stableTo(asIndex(4), asTerm(1));
    log.stableTo(asIndex(9), asTerm(1));
    expect(log.offset).toBe(5);
    expect(indexes(log)).toEqual([5]);
  });

  it('UnstableLog.stableSnapTo forgets the snapshot at that index only', () => {
    const log = unstable(5, [], snapshot(4, 1));
    log.stableSnapTo(asIndex(3));
    expect(log.snapshot).toBeDefined();
    log.stableSnapTo(asIndex(4));
    expect(log.snapshot).toBeUndefined();
  });

  it('UnstableLog.restore replaces entries with a snapshot and moves the offset after it', () => {
    const log = unstable(5, entries(5, 1, 1));
    log.restore(snapshot(10, 3));
    expect(log.offset).toBe(11);
    expect(log.entries).toEqual([]);
    expect(log.snapshot?.index).toBe(10);
  });

  it('UnstableLog.truncateAndAppend appends directly after the last entry', () => {
    const log = unstable(5, entries(5, 1));
    log.truncateAndAppend(entries(6, 1, 1));
    expect(log.offset).toBe(5);
    expect(indexes(log)).toEqual([5, 6, 7]);
  });

  it('UnstableLog.truncateAndAppend replaces everything from an index at or before the offset', () => {
    const log = unstable(5, entries(5, 1, 1));
    log.truncateAndAppend(entries(4, 2, 2));
    expect(log.offset).toBe(4);
    expect(indexes(log)).toEqual([4, 5]);
    expect(log.entries.map((e) => e.term)).toEqual([2, 2]);
  });

  it('UnstableLog.truncateAndAppend cuts a conflicting suffix inside the unstable entries', () => {
    const log = unstable(5, entries(5, 1, 1, 1));
    log.truncateAndAppend(entries(6, 2));
    expect(log.offset).toBe(5);
    expect(log.entries.map((e) => [e.index, e.term])).toEqual([
      [5, 1],
      [6, 2],
    ]);
  });

  it('UnstableLog.truncateAndAppend ignores an empty list', () => {
    const log = unstable(5, entries(5, 1));
    log.truncateAndAppend([]);
    expect(indexes(log)).toEqual([5]);
  });

  it('UnstableLog.slice returns entries in [lo, hi)', () => {
    const log = unstable(5, entries(5, 1, 1, 2, 2));
    expect(log.slice(asIndex(6), asIndex(8)).map((e) => e.index)).toEqual([6, 7]);
    expect(log.slice(asIndex(5), asIndex(5))).toEqual([]);
  });

  it('UnstableLog.slice asserts when the range leaves the unstable entries', () => {
    const log = unstable(5, entries(5, 1, 1));
    expect(() => log.slice(asIndex(4), asIndex(6))).toThrow(AssertionError);
    expect(() => log.slice(asIndex(5), asIndex(8))).toThrow(AssertionError);
    expect(() => log.slice(asIndex(7), asIndex(6))).toThrow(AssertionError);
  });
});
