/**
 * Opening a state directory: read CURRENT, open the generation it names, check its state
 * record, and delete leftovers (staging from an interrupted restore, a replaced generation).
 * A new directory gets CURRENT first, naming generation 1, and then that generation.
 *
 * NB: only generation 1 is ever created here. A missing generation 1 is a store whose creation
 * was interrupted (CURRENT is written first), so it is created empty; a missing later
 * generation was switched to durably by a restore, so its absence is corruption.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { StorageError, StorageErrorCode } from '../errors.ts';
import { classifyLevelError, LevelFailure } from '../level_adapter.ts';
import { openStateDatabase, type StateDatabase } from './state_database.ts';
import {
  generationName,
  listGenerations,
  readPointer,
  removeLeftovers,
  writePointer,
} from './state_directory.ts';
import { stateRecordKey } from './state_keys.ts';
import { decodeStateRecord, encodeStateRecord, type StateMeta } from './state_record.ts';

/** An open generation with its checked state record. */
export interface OpenedState {
  readonly db: StateDatabase;
  readonly name: string;
  readonly meta: StateMeta;
}

/** Maps a failed LevelDB open (or file system call) to a typed error. */
export function openFailure(location: string, error: unknown): StorageError {
  switch (classifyLevelError(error)) {
    case LevelFailure.locked:
      return new StorageError(
        StorageErrorCode.locked,
        `Cannot open the state in "${location}": another process holds its lock. Stop the other node using this directory, or give this one its own`,
        { cause: error },
      );
    case LevelFailure.diskFull:
      return new StorageError(
        StorageErrorCode.diskFull,
        `Cannot open the state in "${location}": the disk is full. Free space on "${location}", then restart the node`,
        { cause: error },
      );
    case LevelFailure.other:
      return new StorageError(
        StorageErrorCode.io,
        `Cannot open the state in "${location}": LevelDB or the file system failed to open or read it`,
        { cause: error },
      );
  }
}

/** Whether the database holds no record at all. */
async function isEmpty(db: StateDatabase): Promise<boolean> {
  const range = { gte: Uint8Array.of(0), lt: Uint8Array.of(0xff) };
  for await (const slice of db.scan(range, { recordsPerSlice: 1 })) {
    return slice.length === 0;
  }
  return true;
}

/** Opens generation name (creating generation 1) and reads its state record. */
export async function openGeneration(
  location: string,
  name: string,
  wrap: (db: StateDatabase) => StateDatabase,
): Promise<OpenedState> {
  const initial = name === generationName(1);
  const db = wrap(await openStateDatabase(join(location, name), { createIfMissing: initial }));
  try {
    const record = db.getSync(stateRecordKey);
    if (record === undefined && initial && (await isEmpty(db))) {
      const meta = { appliedIndex: 0, appliedTerm: 0 };
      const batch = db.batch();
      batch.put(stateRecordKey, encodeStateRecord(stateRecordKey, meta));
      await batch.write({ sync: true });
      return { db, name, meta };
    }
    return { db, name, meta: decodeStateRecord(stateRecordKey, record, join(location, name)) };
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}

/** Reads CURRENT, writing it for a new store; refuses generations without one. */
async function currentGeneration(location: string): Promise<string> {
  await mkdir(location, { recursive: true });
  const current = await readPointer(location);
  if (current !== undefined) {
    return current;
  }
  const generations = await listGenerations(location);
  if (generations.length > 0) {
    throw new StorageError(
      StorageErrorCode.corruptRecord,
      `Cannot open the state in "${location}": it holds state directories but no CURRENT file naming the live one. Restore this node's state from a snapshot of a healthy peer`,
    );
  }
  const name = generationName(1);
  await writePointer(location, name);
  return name;
}

/**
 * Opens the state in location, creating it when new. Throws typed errors: LOCKED, IO,
 * DISK_FULL, CORRUPT_RECORD (a bad CURRENT or state record), FORMAT_UNSUPPORTED.
 */
export async function openState(
  location: string,
  wrap: (db: StateDatabase) => StateDatabase,
): Promise<OpenedState> {
  let opened: OpenedState;
  try {
    opened = await openGeneration(location, await currentGeneration(location), wrap);
  } catch (error) {
    throw error instanceof StorageError ? error : openFailure(location, error);
  }
  try {
    await removeLeftovers(location, opened.name);
  } catch (error) {
    await opened.db.close().catch(() => undefined);
    throw openFailure(location, error);
  }
  return opened;
}
