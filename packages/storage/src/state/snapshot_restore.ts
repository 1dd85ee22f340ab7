/**
 * Stages a snapshot into a new generation directory while the stream is verified, so the live
 * state is never touched until the whole stream passed every check (snapshot_reader.ts). The
 * store then switches CURRENT to the staged generation (state_directory.ts).
 *
 * Writes are pipelined: the batch of one chunk is written while the next chunk is read and
 * checked, with at most one batch in flight. Batches are unsynced; the final one (the state
 * record) is synced, then every file of the generation is fsynced before it can be switched to.
 *
 * Invariant: on any failure the staging directory is deleted and the error rethrown; the live
 * state and CURRENT are unchanged.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

import { readSnapshot, type SnapshotRecord, type VerifiedSnapshot } from './snapshot_reader.ts';
import { decodeSessionSection, sessionSectionName } from './session_section.ts';
import type { SnapshotKey } from './snapshot_key.ts';
import { openStateDatabase, type StateDatabase } from './state_database.ts';
import { fsyncTree } from './state_directory.ts';
import { stateRecordKey } from './state_keys.ts';
import { arenaBytes, encodeStateRecord, RecordArena } from './state_record.ts';

/** LevelDB's memtable while bulk loading: fewer, larger tables, at a bounded memory cost. */
const stagingWriteBufferBytes = 16 * 1024 * 1024;

/** A staged, verified, durable generation, ready to be switched to. */
export interface StagedSnapshot extends VerifiedSnapshot {
  /** The generation directory's name inside the store's location. */
  readonly name: string;
}

/** At most one batch in flight: the next waits for the previous one. */
class BatchPipeline {
  readonly #db: StateDatabase;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(db: StateDatabase) {
    this.#db = db;
  }

  async write(records: readonly SnapshotRecord[]): Promise<void> {
    await this.#inFlight;
    const batch = this.#db.batch();
    let sizeBytes = 0;
    for (const { keyBytes, value } of records) {
      sizeBytes += arenaBytes(keyBytes.byteLength, value.byteLength);
    }
    const arena = new RecordArena(sizeBytes);
    for (const { keyBytes, version, value } of records) {
      const { key, record } = arena.entry(keyBytes, version, value);
      batch.put(key, record);
    }
    const written = batch.write({ sync: false });
    // Reported by the next write or drain(); NB: never left unhandled meanwhile.
    written.catch(() => undefined);
    this.#inFlight = written;
  }

  drain(): Promise<void> {
    return this.#inFlight;
  }
}

/**
 * Reads, verifies and stages a snapshot into a new generation `name` under location. Rejects
 * with the reader's typed error (or an I/O error) after deleting the staging directory.
 */
export async function stageSnapshot(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: { readonly location: string; readonly name: string; readonly key: SnapshotKey },
): Promise<StagedSnapshot> {
  const directory = join(options.location, options.name);
  let db: StateDatabase | undefined;
  let pipeline: BatchPipeline | undefined;
  try {
    db = await openStateDatabase(directory, {
      createIfMissing: true,
      writeBufferSizeBytes: stagingWriteBufferBytes,
    });
    const writer = new BatchPipeline(db);
    pipeline = writer;
    const verified = await readSnapshot(chunks, {
      key: options.key,
      onRecords: (records) => writer.write(records),
    });
    await writer.drain();
    const { index, term } = verified.manifest;
    const last = db.batch();
    const sessions = verified.sections.get(sessionSectionName);
    for (const { key, value } of sessions === undefined ? [] : decodeSessionSection(sessions)) {
      if (value !== undefined) {
        last.put(key, value);
      }
    }
    const meta = { appliedIndex: index, appliedTerm: term };
    last.put(stateRecordKey, encodeStateRecord(stateRecordKey, meta));
    await last.write({ sync: true });
    await db.close();
    db = undefined;
    await fsyncTree(directory);
    // The session table is the store's own: the caller gets only its own sections back.
    const sections = new Map(verified.sections);
    sections.delete(sessionSectionName);
    return { ...verified, sections, name: options.name };
  } catch (error) {
    await pipeline?.drain().catch(() => undefined);
    await db?.close().catch(() => undefined);
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}
