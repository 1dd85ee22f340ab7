/**
 * Goal: MemoryDurableLog keeps the DurableLog contract (the shared conformance suite) and
 * models durability: a crash image holds only what a synced write made durable, and a failed
 * write changes nothing and stops the log.
 * Method: run describeLogStoreConformance with "locations" that map to the image each closed
 * log leaves; then drive single logs through synced and unsynced writes, crash images and an
 * injected write failure. No I/O, no clock.
 */
import { describe, expect, it } from 'vitest';

import {
  asIndex,
  asNodeId,
  asTerm,
  EntryType,
  RaftErrorCode,
  type ConfState,
  type Entry,
} from '../index.ts';
import { collectSnapshotStream, snapshotStreamOf, type PersistBatch } from '../node.ts';
import { describeLogStoreConformance } from './log_store_conformance.ts';
import { MemoryDurableLog, type MemoryLogImage } from './memory_durable_log.ts';

const conf: ConfState = { voters: [asNodeId(1)], learners: [] };

function entry(index: number, term: number): Entry {
  return {
    index: asIndex(index),
    term: asTerm(term),
    type: EntryType.normal,
    data: Uint8Array.of(index),
  };
}

function batch(fields: Partial<PersistBatch>): PersistBatch {
  return { hardState: undefined, entries: [], installSnapshot: undefined, ...fields };
}

/** Each location remembers the log opened there last; reopening starts from its image. */
const opened = new Map<string, MemoryDurableLog>();
let locationCount = 0;

describeLogStoreConformance('MemoryDurableLog', {
  open(location, confState) {
    const previous = opened.get(location);
    const log =
      previous === undefined
        ? new MemoryDurableLog(confState)
        : MemoryDurableLog.fromImage(previous.image());
    opened.set(location, log);
    return Promise.resolve(log);
  },
  newLocation() {
    locationCount += 1;
    return Promise.resolve(`memory-${locationCount}`);
  },
  cleanup() {
    opened.clear();
    return Promise.resolve();
  },
  codes: { invalidWrite: RaftErrorCode.logCorrupt, closed: RaftErrorCode.stopped },
});

function lastIndexOf(image: MemoryLogImage): number {
  return MemoryDurableLog.fromImage(image).lastIndex();
}

describe('MemoryDurableLog', () => {
  it('MemoryDurableLog.crashImage drops writes made without sync', async () => {
    const log = new MemoryDurableLog(conf);
    await log.persist(batch({ entries: [entry(1, 1), entry(2, 1)] }), { sync: true });
    await log.persist(batch({ entries: [entry(3, 1)] }), { sync: false });
    expect(lastIndexOf(log.crashImage())).toBe(2);
    expect(lastIndexOf(log.image())).toBe(3);
  });

  it('MemoryDurableLog.crashImage keeps unsynced writes once a later write syncs', async () => {
    const log = new MemoryDurableLog(conf);
    await log.persist(batch({ entries: [entry(1, 1)] }), { sync: false });
    await log.persist(
      batch({ hardState: { term: asTerm(1), vote: asNodeId(1), commit: asIndex(1) } }),
      { sync: true },
    );
    const restarted = MemoryDurableLog.fromImage(log.crashImage());
    expect(restarted.lastIndex()).toBe(1);
    expect(restarted.initialState().hardState.commit).toBe(1);
  });

  it('MemoryDurableLog.fromImage restores kept entries below a saved snapshot', async () => {
    const log = new MemoryDurableLog(conf);
    await log.persist(batch({ entries: [1, 2, 3, 4].map((i) => entry(i, 1)) }), { sync: false });
    const metadata = { index: asIndex(3), term: asTerm(1), confState: conf };
    await log.saveSnapshot(
      { metadata, chunks: snapshotStreamOf(Uint8Array.of(7)) },
      { keepEntries: 1 },
    );
    const restarted = MemoryDurableLog.fromImage(log.crashImage());
    expect(restarted.firstIndex()).toBe(3);
    expect(restarted.snapshotMetadata()).toEqual(metadata);
    expect(await collectSnapshotStream(restarted.snapshotData())).toEqual(Uint8Array.of(7));
  });

  it('MemoryDurableLog.failNextWrite rejects that write, changes nothing and stops the log', async () => {
    const log = new MemoryDurableLog(conf);
    await log.persist(batch({ entries: [entry(1, 1)] }), { sync: true });
    const failure = new Error('fsync failed');
    log.failNextWrite(failure);
    await expect(log.persist(batch({ entries: [entry(2, 1)] }), { sync: true })).rejects.toBe(
      failure,
    );
    expect(lastIndexOf(log.image())).toBe(1);
    expect(() => log.lastIndex()).toThrow(
      expect.objectContaining({ code: RaftErrorCode.stopped, cause: failure }),
    );
    await expect(
      log.persist(batch({ entries: [entry(2, 1)] }), { sync: true }),
    ).rejects.toMatchObject({
      code: RaftErrorCode.stopped,
    });
  });
});
