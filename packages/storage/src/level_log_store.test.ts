/**
 * Goal: LevelLogStore keeps the DurableLog contract on a real LevelDB, never uses a record that
 * fails verification, and stops for good after a failed write or a full disk, recovering on
 * reopen once the fault is gone.
 * Method: run @coffer/raft/testing's conformance suite twice against stores in a temporary
 * directory (default snapshot pieces, then 100-byte pieces so reads span pieces). Then tamper
 * with records through the adapter while the store is closed (flip a byte, truncate, move,
 * delete) and expect COFFER_STORAGE_CORRUPT_RECORD on reopen; inject write failures and ENOSPC
 * through the wrapDatabase hook; open one directory twice for the lock. Real disk, no clock.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  asIndex,
  asNodeId,
  asTerm,
  EntryType,
  type ConfState,
  type Entry,
  type HardState,
  type SnapshotMetadata,
} from '@coffer/raft';
import { encodeEntries, snapshotStreamOf, type PersistBatch } from '@coffer/raft/node';
import { describeLogStoreConformance, type LogStoreFactory } from '@coffer/raft/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { StorageErrorCode } from './errors.ts';
import { openLevelDatabase, type LevelDatabase, type LevelOperation } from './level_adapter.ts';
import { LevelLogStore, type LevelLogStoreOptions } from './level_log_store.ts';
import {
  encodeRecord,
  hardStateKey,
  logStateKey,
  pieceKey,
  pieceRange,
  runKey,
} from './log_record.ts';

function levelFactory(options: Omit<LevelLogStoreOptions, 'confState'>): LogStoreFactory {
  let root: string | undefined;
  let count = 0;
  return {
    open: (location, confState) => LevelLogStore.open(location, { ...options, confState }),
    async newLocation() {
      root ??= await mkdtemp(join(tmpdir(), 'coffer-level-conformance-'));
      count += 1;
      return join(root, `log-${count}`);
    },
    async cleanup() {
      if (root !== undefined) {
        await rm(root, { recursive: true, force: true });
      }
    },
    codes: { invalidWrite: StorageErrorCode.invalidWrite, closed: StorageErrorCode.notOpen },
  };
}

describeLogStoreConformance('LevelLogStore', levelFactory({}));
describeLogStoreConformance(
  'LevelLogStore (100-byte pieces)',
  levelFactory({ snapshotPieceSizeBytes: 100 }),
);

const conf: ConfState = { voters: [asNodeId(1), asNodeId(2), asNodeId(3)], learners: [] };

function entry(index: number, term: number): Entry {
  return {
    index: asIndex(index),
    term: asTerm(term),
    type: EntryType.normal,
    data: Uint8Array.of(index, 1, 2),
  };
}

function entries(first: number, count: number, term = 1): Entry[] {
  return Array.from({ length: count }, (_, i) => entry(first + i, term));
}

function batch(fields: Partial<PersistBatch>): PersistBatch {
  return { hardState: undefined, entries: [], installSnapshot: undefined, ...fields };
}

const hardState: HardState = { term: asTerm(1), vote: asNodeId(1), commit: asIndex(2) };
const metadata: SnapshotMetadata = { index: asIndex(3), term: asTerm(1), confState: conf };

async function codeOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
  return undefined;
}

async function errorOf(fn: () => unknown): Promise<Error & { code?: unknown }> {
  try {
    await fn();
  } catch (error) {
    return error as Error & { code?: unknown };
  }
  throw new Error('Expected a failure');
}

let root = '';
let count = 0;
const open: LevelLogStore[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-level-store-'));
});

afterEach(async () => {
  for (const store of open.splice(0)) {
    await store.close();
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function newLocation(): string {
  count += 1;
  return join(root, `log-${count}`);
}

async function openStore(
  location: string,
  options: LevelLogStoreOptions = {},
): Promise<LevelLogStore> {
  const store = await LevelLogStore.open(location, { confState: conf, ...options });
  open.push(store);
  return store;
}

/**
 * A closed store at a new location holding entries 1..5 in runs 1..2, 3..4 and 5, a hard state
 * and a snapshot at 3 (log base 1, so run 1 straddles the base).
 */
async function written(options: LevelLogStoreOptions = {}): Promise<string> {
  const location = newLocation();
  const store = await openStore(location, options);
  await store.persist(batch({ entries: entries(1, 2) }), { sync: true });
  await store.persist(batch({ entries: entries(3, 2) }), { sync: true });
  await store.persist(batch({ entries: entries(5, 1), hardState }), { sync: true });
  await store.saveSnapshot(
    {
      metadata,
      chunks: snapshotStreamOf(
        Uint8Array.from({ length: 250 }, (_, i) => i),
        70,
      ),
    },
    { keepEntries: 2 },
  );
  await store.close();
  return location;
}

/** Changes the stored records of a closed store through the adapter. */
async function tamper(
  location: string,
  change: (db: LevelDatabase) => LevelOperation[],
): Promise<void> {
  const db = await openLevelDatabase(location);
  try {
    await db.write(change(db), { sync: true });
  } finally {
    await db.close();
  }
}

function stored(db: LevelDatabase, key: Uint8Array): Uint8Array {
  const value = db.getSync(key);
  if (value === undefined) {
    throw new Error('Test setup: record missing');
  }
  return Uint8Array.from(value);
}

function flipped(value: Uint8Array, position: number): Uint8Array {
  const copy = Uint8Array.from(value);
  copy[position] = (copy[position] ?? 0) ^ 0x01;
  return copy;
}

/** A well-formed run record of count entries from first (term 1), as the store writes it. */
function validRun(first: number, count: number): Uint8Array {
  return encodeRecord(runKey(first), encodeEntries(entries(first, count)));
}

async function piecesStored(location: string): Promise<number> {
  const db = await openLevelDatabase(location);
  let n = 0;
  for await (const record of db.scan(pieceRange)) {
    n += record.key.byteLength > 0 ? 1 : 0;
  }
  await db.close();
  return n;
}

describe('LevelLogStore verification', () => {
  const cases: readonly [string, string, (db: LevelDatabase) => LevelOperation[]][] = [
    [
      'a flipped byte in a run body',
      'entry-run/3',
      (db) => [{ type: 'put', key: runKey(3), value: flipped(stored(db, runKey(3)), 20) }],
    ],
    [
      'a flipped bit in a run checksum',
      'entry-run/3',
      (db) => [{ type: 'put', key: runKey(3), value: flipped(stored(db, runKey(3)), 2) }],
    ],
    [
      'a truncated run',
      'entry-run/5',
      (db) => [{ type: 'put', key: runKey(5), value: stored(db, runKey(5)).subarray(0, 12) }],
    ],
    [
      'a run cut inside its header',
      'entry-run/5',
      (db) => [{ type: 'put', key: runKey(5), value: stored(db, runKey(5)).subarray(0, 4) }],
    ],
    [
      'a run moved to another index',
      'entry-run/5',
      (db) => [{ type: 'put', key: runKey(5), value: stored(db, runKey(3)) }],
    ],
    ['a missing run in the middle', 'entry-run/3', () => [{ type: 'del', key: runKey(3) }]],
    [
      'a run overlapping the run before it',
      'entry-run/4',
      () => [{ type: 'put', key: runKey(4), value: validRun(4, 1) }],
    ],
    [
      'a run wholly at or below the log base',
      'entry-run/1',
      () => [{ type: 'put', key: runKey(1), value: validRun(1, 1) }],
    ],
    [
      'a run whose body holds other indexes',
      'entry-run/3',
      () => [
        {
          type: 'put',
          key: runKey(3),
          value: encodeRecord(runKey(3), encodeEntries(entries(4, 2))),
        },
      ],
    ],
    [
      'a record of a kind this version does not write (an old per-entry record)',
      'unknown/040000000000000004',
      () => [
        { type: 'put', key: Uint8Array.of(4, 0, 0, 0, 0, 0, 0, 0, 4), value: new Uint8Array(9) },
      ],
    ],
    [
      'a flipped byte in the hard state',
      'hard-state',
      (db) => [{ type: 'put', key: hardStateKey, value: flipped(stored(db, hardStateKey), 12) }],
    ],
    [
      'a flipped byte in the log state',
      'log-state',
      (db) => [{ type: 'put', key: logStateKey, value: flipped(stored(db, logStateKey), 15) }],
    ],
    ['a missing log state', 'log-state', () => [{ type: 'del', key: logStateKey }]],
    [
      'a flipped byte in a snapshot piece',
      'snapshot-piece/1/1',
      (db) => [
        { type: 'put', key: pieceKey(1, 1), value: flipped(stored(db, pieceKey(1, 1)), 30) },
      ],
    ],
    [
      'a missing snapshot piece',
      'snapshot-piece/1/2',
      () => [{ type: 'del', key: pieceKey(1, 2) }],
    ],
  ];
  for (const [what, record, change] of cases) {
    it(`LevelLogStore.open refuses ${what} with COFFER_STORAGE_CORRUPT_RECORD naming "${record}"`, async () => {
      const location = await written({ snapshotPieceSizeBytes: 100 });
      await tamper(location, change);
      const error = await errorOf(() => openStore(location));
      expect(error.code).toBe(StorageErrorCode.corruptRecord);
      expect(error.message).toContain(`"${record}"`);
      expect(error.message).toContain(location);
    });
  }

  it('LevelLogStore.open releases the lock after refusing a corrupt log', async () => {
    const location = await written();
    await tamper(location, () => [{ type: 'del', key: runKey(3) }]);
    expect(await codeOf(() => openStore(location))).toBe(StorageErrorCode.corruptRecord);
    await tamper(location, () => []);
  });

  it('LevelLogStore.snapshotChunk throws COFFER_STORAGE_CORRUPT_RECORD for a piece corrupted after open', async () => {
    let raw: LevelDatabase | undefined;
    const location = await written({ snapshotPieceSizeBytes: 100 });
    const store = await openStore(location, {
      snapshotPieceSizeBytes: 100,
      wrapDatabase: (db) => (raw = db),
    });
    const key = pieceKey(1, 0);
    const value = raw === undefined ? new Uint8Array(0) : flipped(stored(raw, key), 40);
    await raw?.write([{ type: 'put', key, value }], { sync: false });
    expect(store.snapshotChunk(asIndex(3), 150, 50)?.data.byteLength).toBe(50);
    expect(await codeOf(() => store.snapshotChunk(asIndex(3), 0, 50))).toBe(
      StorageErrorCode.corruptRecord,
    );
  });
});

/** A wrapper whose writes fail with error once armed. */
function faulty(db: LevelDatabase, fault: { error: Error | undefined }): LevelDatabase {
  return {
    location: db.location,
    getSync: (key) => db.getSync(key),
    scan: (range) => db.scan(range),
    close: () => db.close(),
    write: (operations, options) =>
      fault.error === undefined ? db.write(operations, options) : Promise.reject(fault.error),
  };
}

describe('LevelLogStore failures', () => {
  it('LevelLogStore.persist fails the store with COFFER_STORAGE_WRITE_FAILED when the write fails', async () => {
    const location = newLocation();
    const fault: { error: Error | undefined } = { error: undefined };
    const store = await openStore(location, { wrapDatabase: (db) => faulty(db, fault) });
    await store.persist(batch({ entries: entries(1, 2) }), { sync: true });
    fault.error = Object.assign(new Error('IO error: fsync: Input/output error'), {
      code: 'LEVEL_IO_ERROR',
    });
    const error = await errorOf(() =>
      store.persist(batch({ entries: entries(3, 1) }), { sync: true }),
    );
    expect(error.code).toBe(StorageErrorCode.writeFailed);
    expect(error.cause).toBe(fault.error);
    fault.error = undefined;
    const later: (() => unknown)[] = [
      () => store.persist(batch({ entries: entries(3, 1) }), { sync: true }),
      () => store.lastIndex(),
      () => store.entries(asIndex(1), asIndex(2), Infinity),
      () =>
        store.saveSnapshot(
          {
            metadata: { ...metadata, index: asIndex(1) },
            chunks: snapshotStreamOf(new Uint8Array(1)),
          },
          { keepEntries: 0 },
        ),
      () => store.snapshotData(),
    ];
    for (const call of later) {
      expect(await codeOf(call)).toBe(StorageErrorCode.writeFailed);
    }
    await store.close();
    const reopened = await openStore(location);
    expect(reopened.lastIndex()).toBe(2);
  });

  it('LevelLogStore.persist fails the store when the database closed under it', async () => {
    let raw: LevelDatabase | undefined;
    const store = await openStore(newLocation(), { wrapDatabase: (db) => (raw = db) });
    await raw?.close();
    expect(
      await codeOf(() => store.persist(batch({ entries: entries(1, 1) }), { sync: true })),
    ).toBe(StorageErrorCode.writeFailed);
    expect(
      await codeOf(() =>
        store.stageSnapshotChunk({ metadata, offsetBytes: 0, data: new Uint8Array(1), done: true }),
      ),
    ).toBe(StorageErrorCode.writeFailed);
  });

  it('LevelLogStore reports a full disk with COFFER_STORAGE_DISK_FULL and reopens once space returns', async () => {
    const location = newLocation();
    const fault: { error: Error | undefined } = { error: undefined };
    const store = await openStore(location, { wrapDatabase: (db) => faulty(db, fault) });
    await store.persist(batch({ entries: entries(1, 3), hardState }), { sync: true });
    fault.error = Object.assign(
      new Error(`IO error: ${location}/000003.log: No space left on device`),
      {
        code: 'LEVEL_IO_ERROR',
      },
    );
    const error = await errorOf(() =>
      store.persist(batch({ entries: entries(4, 1) }), { sync: true }),
    );
    expect(error.code).toBe(StorageErrorCode.diskFull);
    expect(error.message).toContain(`Free space on "${location}", then restart the node`);
    expect(
      await codeOf(() => store.persist(batch({ entries: entries(4, 1) }), { sync: true })),
    ).toBe(StorageErrorCode.diskFull);
    await store.close();
    const reopened = await openStore(location);
    expect(reopened.lastIndex()).toBe(3);
    expect(reopened.initialState().hardState).toEqual(hardState);
    await reopened.persist(batch({ entries: entries(4, 1) }), { sync: true });
    expect(reopened.lastIndex()).toBe(4);
  });

  it('LevelLogStore.open classifies an ENOSPC-coded error as a full disk', async () => {
    const location = newLocation();
    const enospc = Object.assign(new Error('write failed'), { code: 'ENOSPC' });
    const fault = { error: enospc as Error | undefined };
    const error = await errorOf(() =>
      openStore(location, { wrapDatabase: (db) => faulty(db, fault) }),
    );
    expect(error.code).toBe(StorageErrorCode.diskFull);
    expect((await openStore(location)).lastIndex()).toBe(0);
  });

  it('LevelLogStore.open fails with COFFER_STORAGE_LOCKED when the directory is in use', async () => {
    const location = newLocation();
    await openStore(location);
    const error = await errorOf(() => openStore(location));
    expect(error.code).toBe(StorageErrorCode.locked);
    expect(error.cause).toMatchObject({
      code: 'LEVEL_DATABASE_NOT_OPEN',
      cause: { code: 'LEVEL_LOCKED' },
    });
  });
});

describe('LevelLogStore snapshot pieces', () => {
  const incoming: SnapshotMetadata = { index: asIndex(20), term: asTerm(2), confState: conf };

  it('LevelLogStore deletes the pieces of an unfinished staging after reopen and a write', async () => {
    const location = newLocation();
    const store = await openStore(location);
    await store.stageSnapshotChunk({
      metadata: incoming,
      offsetBytes: 0,
      data: new Uint8Array(10),
      done: false,
    });
    await store.close();
    expect(await piecesStored(location)).toBe(1);
    const reopened = await openStore(location);
    await reopened.persist(batch({ entries: entries(1, 1) }), { sync: true });
    await reopened.close();
    expect(await piecesStored(location)).toBe(0);
  });

  it('LevelLogStore deletes the pieces of a replaced snapshot in the next write', async () => {
    const location = await written({ snapshotPieceSizeBytes: 100 });
    expect(await piecesStored(location)).toBe(3);
    const store = await openStore(location, { snapshotPieceSizeBytes: 100 });
    await store.saveSnapshot(
      {
        metadata: { ...metadata, index: asIndex(5) },
        chunks: snapshotStreamOf(new Uint8Array(50)),
      },
      { keepEntries: 0 },
    );
    await store.persist(batch({ entries: entries(6, 1) }), { sync: true });
    await store.close();
    expect(await piecesStored(location)).toBe(1);
    expect((await openStore(location)).snapshotMetadata().index).toBe(5);
  });
});
