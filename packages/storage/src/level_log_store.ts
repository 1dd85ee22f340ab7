/**
 * The Raft log on LevelDB: @coffer/raft's DurableLog port (STYLE.md 2.2), implemented with
 * classic-level through level_adapter.ts. Keys and the checksummed record frame are in
 * log_record.ts; reading back and verifying at open is in level_log_loader.ts.
 *
 * Reads are synchronous and in memory: the entries since the log base live in a MemoryStorage
 * view (STYLE.md 3.3). On disk the entries of each write form one record, an entry run
 * (log_runs.ts). Snapshot data stays on disk, split into checksummed pieces, and
 * snapshotChunk() reads the pieces it needs with LevelDB's synchronous get.
 *
 * Writes: each persist() and stageSnapshotChunk() is ONE LevelDB batch, checked before it is
 * written (LogWriteChecks from @coffer/raft/node) and applied to the view only after LevelDB
 * accepted it; saveSnapshot() writes its pieces as they stream in, then switches in one batch.
 * Writes run one at a time, in call order.
 *
 * Snapshot data is written in generations: a received snapshot is staged under a fresh
 * generation, and installing it is a single log-state record that points at that generation.
 * Pieces of a replaced generation are deleted in the next batch, not the one that replaces
 * them, so a snapshotChunk() read racing a write never finds its piece gone; pieces of no
 * current generation left by a crash are deleted after the next open.
 *
 * Failures: a failed write or fsync marks the store failed (COFFER_STORAGE_WRITE_FAILED, or
 * COFFER_STORAGE_DISK_FULL for ENOSPC), and it refuses everything after, so the node stops and
 * never acknowledges what it could not persist. Reopening after a restart (and after freeing
 * space) recovers what was written before the failure.
 *
 * Invariant: the entry runs on disk hold exactly firstIndex()..lastIndex() of the view (the
 * first run may also hold compacted entries before it), and the log-state record names the
 * view's base, snapshot and snapshot generation.
 */
import assert from 'node:assert/strict';

import {
  MemoryStorage,
  type ConfState,
  type Entry,
  type InitialState,
  type LogIndex,
  type SnapshotChunk,
  type SnapshotData,
  type SnapshotMetadata,
  type Term,
} from '@coffer/raft';
import {
  LogWriteChecks,
  piecesOf,
  type DurableLog,
  type PersistBatch,
  type SaveSnapshotOutcome,
  type SnapshotStream,
  type SnapshotToSave,
  type StagedSnapshot,
} from '@coffer/raft/node';

import { StorageError, StorageErrorCode } from './errors.ts';
import { StoreGate } from './store_gate.ts';
import {
  classifyLevelError,
  LevelFailure,
  openLevelDatabase,
  type LevelDatabase,
  type LevelOperation,
} from './level_adapter.ts';
import { emptyLog, loadLog, type LoadedLog } from './level_log_loader.ts';
import { appendRun, clearRuns, compactRuns } from './log_runs.ts';
import {
  corruptRecord,
  decodeRecord,
  encodeHardState,
  encodeLogState,
  encodeRecord,
  hardStateKey,
  logStateKey,
  pieceKey,
  type LogState,
} from './log_record.ts';
const checks = new LogWriteChecks(
  (message) => new StorageError(StorageErrorCode.invalidWrite, message),
);

/** Options for {@link LevelLogStore.open}. */
export interface LevelLogStoreOptions {
  /** The membership of a new node: used only when the directory holds no log yet. */
  readonly confState?: ConfState;
  /** The size of the pieces a saved snapshot is split into; 1 MiB unless set. */
  readonly snapshotPieceSizeBytes?: number;
  /**
   * Wraps the database the store writes through. NB: for fault injection in tests (a failing
   * fsync, a full disk); production code leaves it unset.
   */
  readonly wrapDatabase?: (database: LevelDatabase) => LevelDatabase;
}

const defaultPieceSizeBytes = 1024 * 1024;
const emptyConfState: ConfState = { voters: [], learners: [] };
const emptyBytes = new Uint8Array(0);

/** Where the current snapshot's data lies. */
interface SnapshotLayout {
  readonly generation: number;
  readonly pieceSizes: readonly number[];
}

/** A snapshot being received, with where its staged chunks lie. */
interface Staging extends StagedSnapshot, SnapshotLayout {}

function put(key: Uint8Array, body: Uint8Array): LevelOperation {
  return { type: 'put', key, value: encodeRecord(key, body) };
}

function del(key: Uint8Array): LevelOperation {
  return { type: 'del', key };
}

function pieceKeys(layout: SnapshotLayout): Uint8Array[] {
  return layout.pieceSizes.map((_, seq) => pieceKey(layout.generation, seq));
}

/** Maps a failed open to a typed error. */
function openError(location: string, error: unknown): StorageError {
  switch (classifyLevelError(error)) {
    case LevelFailure.locked:
      return new StorageError(
        StorageErrorCode.locked,
        `Cannot open the Raft log in "${location}": another process holds its lock. Stop the other node using this directory, or give this one its own`,
        { cause: error },
      );
    case LevelFailure.diskFull:
      return diskFullError(location, error);
    case LevelFailure.other:
      return new StorageError(
        StorageErrorCode.io,
        `Cannot open the Raft log in "${location}": LevelDB failed to open or read it`,
        { cause: error },
      );
  }
}

function diskFullError(location: string, cause: unknown): StorageError {
  return new StorageError(
    StorageErrorCode.diskFull,
    `Cannot write the Raft log in "${location}": the disk is full. Free space on "${location}", then restart the node`,
    { cause },
  );
}

/** The Raft log of one node in a LevelDB directory. */
export class LevelLogStore implements DurableLog {
  readonly #db: LevelDatabase;
  readonly #location: string;
  readonly #pieceSizeBytes: number;
  readonly #view: MemoryStorage;
  #snapshot: SnapshotLayout;
  #staging: Staging | undefined;
  #nextGeneration: number;
  #garbage: Uint8Array[];
  /** The first index of each entry run on disk (log_runs.ts). */
  #runs: readonly number[];
  readonly #gate: StoreGate;

  private constructor(db: LevelDatabase, loaded: LoadedLog, pieceSizeBytes: number) {
    this.#db = db;
    this.#location = db.location;
    this.#gate = new StoreGate(() => this.#location);
    this.#pieceSizeBytes = pieceSizeBytes;
    this.#view = loaded.view;
    this.#snapshot = { generation: loaded.generation, pieceSizes: loaded.pieceSizes };
    this.#nextGeneration = loaded.nextGeneration;
    this.#garbage = [...loaded.garbage];
    this.#runs = loaded.runs;
  }

  /**
   * Opens the log in directory location, creating it for a new node when it holds none, and
   * verifies everything stored (COFFER_STORAGE_CORRUPT_RECORD). A directory another process
   * uses gives COFFER_STORAGE_LOCKED.
   */
  static async open(location: string, options: LevelLogStoreOptions = {}): Promise<LevelLogStore> {
    const pieceSizeBytes = options.snapshotPieceSizeBytes ?? defaultPieceSizeBytes;
    assert(
      Number.isSafeInteger(pieceSizeBytes) && pieceSizeBytes > 0,
      'snapshotPieceSizeBytes > 0',
    );
    let db: LevelDatabase;
    try {
      db = await openLevelDatabase(location);
    } catch (error) {
      throw openError(location, error);
    }
    db = options.wrapDatabase?.(db) ?? db;
    try {
      const loaded = await loadLog(db);
      const confState = options.confState ?? emptyConfState;
      const store = new LevelLogStore(db, loaded ?? emptyLog(confState), pieceSizeBytes);
      if (loaded === undefined) {
        await store.#create(confState);
      }
      return store;
    } catch (error) {
      await db.close().catch(() => undefined);
      // Our own typed errors pass through; a LevelDB read that failed while loading is I/O.
      throw error instanceof StorageError ? error : openError(location, error);
    }
  }

  initialState(): InitialState {
    return this.#live('read the log').initialState();
  }

  entries(lo: LogIndex, hi: LogIndex, sizeBytesMax: number): readonly Entry[] {
    return this.#live('read the log').entries(lo, hi, sizeBytesMax);
  }

  term(index: LogIndex): Term | undefined {
    return this.#live('read the log').term(index);
  }

  firstIndex(): LogIndex {
    return this.#live('read the log').firstIndex();
  }

  lastIndex(): LogIndex {
    return this.#live('read the log').lastIndex();
  }

  logSizeBytes(): number {
    return this.#live('read the log').logSizeBytes();
  }

  snapshotMetadata(): SnapshotMetadata {
    return this.#live('read the log').snapshotMetadata();
  }

  snapshotChunk(
    snapshotIndex: LogIndex,
    offsetBytes: number,
    sizeBytesMax: number,
  ): SnapshotData | undefined {
    const view = this.#live('read the snapshot');
    if (snapshotIndex !== view.snapshotMetadata().index) {
      return undefined;
    }
    const sizeBytes = this.#snapshot.pieceSizes.reduce((n, size) => n + size, 0);
    const end = Math.min(sizeBytes, offsetBytes + sizeBytesMax);
    return { data: this.#readSnapshot(offsetBytes, end), done: end >= sizeBytes };
  }

  /**
   * Streams the current snapshot piece by piece. A snapshot replaced while it is read fails the
   * stream with COFFER_STORAGE_SNAPSHOT_REPLACED (its pieces are about to be deleted).
   */
  snapshotData(): SnapshotStream {
    this.#live('read the snapshot');
    return this.#streamSnapshot(this.#snapshot);
  }

  async *#streamSnapshot(layout: SnapshotLayout): SnapshotStream {
    if (layout.pieceSizes.length === 0) {
      yield emptyBytes;
      return;
    }
    for (const [seq, size] of layout.pieceSizes.entries()) {
      this.#live('read the snapshot');
      if (this.#snapshot.generation !== layout.generation) {
        throw new StorageError(
          StorageErrorCode.snapshotReplaced,
          `Cannot read snapshot generation ${layout.generation} in "${this.#location}": a newer snapshot replaced it while it was read. Read the current one`,
        );
      }
      yield this.#readPiece(layout.generation, seq, size);
      // NB: a macrotask between pieces, so a large snapshot does not hold the event loop.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  stageSnapshotChunk(chunk: SnapshotChunk): Promise<void> {
    return this.#gate.exclusive('stage a snapshot chunk', async () => {
      const step = checks.checkChunk(this.#view, this.#staging, chunk);
      const operations: LevelOperation[] = [];
      let staging = this.#staging;
      if (step === 'start') {
        operations.push(...(staging === undefined ? [] : pieceKeys(staging).map(del)));
        const generation = this.#nextGeneration++;
        staging = {
          metadata: chunk.metadata,
          generation,
          pieceSizes: [],
          sizeBytes: 0,
          done: false,
        };
      }
      assert(staging !== undefined, 'checkChunk continues only a staged snapshot');
      const key = pieceKey(staging.generation, staging.pieceSizes.length);
      operations.push(put(key, chunk.data));
      // Synced: the install batch later points at these pieces, and LevelDB does not promise
      // that an unsynced write survives a power loss that a later synced one survives.
      await this.#commit(operations, true);
      this.#staging = {
        ...staging,
        pieceSizes: [...staging.pieceSizes, chunk.data.byteLength],
        sizeBytes: staging.sizeBytes + chunk.data.byteLength,
        done: chunk.done,
      };
    });
  }

  persist(batch: PersistBatch, options: { sync: boolean }): Promise<void> {
    return this.#gate.exclusive('persist a batch', async () => {
      const view = this.#view;
      checks.checkPersist(view, this.#staging, batch);
      const operations: LevelOperation[] = [];
      const install = batch.installSnapshot;
      let runs = this.#runs;
      if (install !== undefined) {
        const cleared = clearRuns(runs);
        operations.push(this.#installLogState(install), ...cleared.operations);
        runs = cleared.runs;
      }
      const lastIndex = install === undefined ? view.lastIndex() : install.index;
      const appended = appendRun({ runs, view, lastIndex }, batch.entries);
      operations.push(...appended.operations);
      if (batch.hardState !== undefined) {
        operations.push(put(hardStateKey, encodeHardState(batch.hardState)));
      }
      await this.#commit(operations, options.sync);
      this.#runs = appended.runs;
      if (install !== undefined) {
        this.#applyInstall(install);
      }
      view.append(batch.entries);
      if (batch.hardState !== undefined) {
        view.setHardState(batch.hardState);
      }
    });
  }

  /**
   * Writes the snapshot's pieces as they stream in, each piece its own small synced batch
   * queued with the other writes (so persists go on meanwhile), then switches to the new
   * snapshot and compacts in one atomic batch. Pieces of a save that fails or is superseded
   * are deleted with the next batch.
   */
  async saveSnapshot(
    snapshot: SnapshotToSave,
    options: { keepEntries: number },
  ): Promise<SaveSnapshotOutcome> {
    this.#live('save a snapshot');
    const { metadata } = snapshot;
    const layout = { generation: this.#nextGeneration++, pieceSizes: [] as number[] };
    const written: Uint8Array[] = [];
    try {
      for await (const piece of piecesOf(snapshot.chunks, this.#pieceSizeBytes)) {
        const key = pieceKey(layout.generation, layout.pieceSizes.length);
        await this.#gate.exclusive('save a snapshot piece', () =>
          this.#commit([put(key, piece)], true),
        );
        written.push(key);
        layout.pieceSizes.push(piece.byteLength);
      }
    } catch (error) {
      this.#garbage.push(...written);
      throw error;
    }
    return this.#gate
      .exclusive('save a snapshot', async () => {
        const view = this.#view;
        if (metadata.index <= view.snapshotMetadata().index) {
          this.#garbage.push(...written);
          return 'superseded';
        }
        checks.checkSaveSnapshot(view, metadata, options.keepEntries);
        const base = Math.max(view.firstIndex() - 1, metadata.index - options.keepEntries);
        const compacted = compactRuns(this.#runs, view.lastIndex(), base);
        const baseTerm = view.term(base as LogIndex);
        assert(baseTerm !== undefined, 'the compaction index lies inside the log');
        const state = { snapshot: metadata, base: { index: base as LogIndex, term: baseTerm } };
        await this.#commit(
          [...compacted.operations, this.#logStatePut({ ...state, ...layout })],
          true,
        );
        this.#runs = compacted.runs;
        view.createSnapshot(metadata.index, { confState: metadata.confState, data: emptyBytes });
        view.compact(base as LogIndex);
        this.#replaceSnapshot(layout);
        return 'saved';
      })
      .catch((error: unknown) => {
        if (this.#gate.isOpen) {
          this.#garbage.push(...written);
        }
        throw error;
      });
  }

  /** Closes the database once queued writes finish; later calls fail with COFFER_STORAGE_NOT_OPEN. */
  close(): Promise<void> {
    this.#staging = undefined;
    return this.#gate.close(() => this.#db.close());
  }

  /** Writes the records of a new, empty log. */
  async #create(confState: ConfState): Promise<void> {
    const view = this.#view;
    const snapshot = view.snapshotMetadata();
    const base = { index: snapshot.index, term: snapshot.term };
    const state = { snapshot: { ...snapshot, confState }, base, ...this.#snapshot };
    const operations = [
      this.#logStatePut(state),
      put(hardStateKey, encodeHardState(view.hardState())),
    ];
    await this.#commit(operations, true);
  }

  #logStatePut(state: Omit<LogState, 'pieceCount' | 'sizeBytes'> & SnapshotLayout): LevelOperation {
    const { snapshot, base, generation, pieceSizes } = state;
    const sizeBytes = pieceSizes.reduce((n, size) => n + size, 0);
    const logState = { snapshot, base, generation, pieceCount: pieceSizes.length, sizeBytes };
    return put(logStateKey, encodeLogState(logState));
  }

  /** The log-state put that installs the staged snapshot. */
  #installLogState(metadata: SnapshotMetadata): LevelOperation {
    const staging = this.#staging;
    assert(staging !== undefined, 'checkPersist installs only a staged snapshot');
    const base = { index: metadata.index, term: metadata.term };
    return this.#logStatePut({ snapshot: metadata, base, ...staging });
  }

  #applyInstall(metadata: SnapshotMetadata): void {
    const staging = this.#staging;
    assert(staging !== undefined, 'checkPersist installs only a staged snapshot');
    this.#view.applySnapshot(metadata, emptyBytes);
    this.#staging = undefined;
    this.#replaceSnapshot(staging);
  }

  /** Makes layout the current snapshot; the old pieces go in the next batch. */
  #replaceSnapshot(layout: SnapshotLayout): void {
    this.#garbage.push(...pieceKeys(this.#snapshot));
    this.#snapshot = { generation: layout.generation, pieceSizes: layout.pieceSizes };
  }

  /** Reads bytes [start, end) of the current snapshot from its pieces, verifying each. */
  #readSnapshot(start: number, end: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, end - start));
    let pieceStart = 0;
    for (const [seq, size] of this.#snapshot.pieceSizes.entries()) {
      const pieceEnd = pieceStart + size;
      if (pieceStart >= end) {
        break;
      }
      if (pieceEnd > start && size > 0) {
        const body = this.#readPiece(this.#snapshot.generation, seq, size);
        const from = Math.max(start, pieceStart);
        out.set(
          body.subarray(from - pieceStart, Math.min(end, pieceEnd) - pieceStart),
          from - start,
        );
      }
      pieceStart = pieceEnd;
    }
    return out;
  }

  #readPiece(generation: number, seq: number, sizeBytes: number): Uint8Array {
    const key = pieceKey(generation, seq);
    let value: Uint8Array | undefined;
    try {
      value = this.#db.getSync(key);
    } catch (error) {
      throw new StorageError(
        StorageErrorCode.io,
        `Cannot read snapshot piece ${seq} in "${this.#location}": LevelDB failed to read it`,
        { cause: error },
      );
    }
    const body = decodeRecord({ key, value }, this.#location, (bytes) => bytes);
    if (body.byteLength !== sizeBytes) {
      throw corruptRecord(
        key,
        this.#location,
        `it holds ${body.byteLength} bytes, not ${sizeBytes}`,
      );
    }
    return body;
  }

  /** Writes one batch, with the pending garbage deletes first; a failure stops the store. */
  async #commit(operations: readonly LevelOperation[], sync: boolean): Promise<void> {
    const garbage = this.#garbage;
    const all = garbage.length === 0 ? operations : [...garbage.map(del), ...operations];
    try {
      await this.#db.write(all, { sync });
    } catch (error) {
      const failure =
        classifyLevelError(error) === LevelFailure.diskFull
          ? diskFullError(this.#location, error)
          : new StorageError(
              StorageErrorCode.writeFailed,
              `Cannot write the Raft log in "${this.#location}": the write or its fsync failed, so the store stopped. Restart the node`,
              { cause: error },
            );
      throw this.#gate.fail(failure);
    }
    this.#garbage = this.#garbage.slice(garbage.length);
  }

  /** The view, when the store is open and has not failed. */
  #live(what: string): MemoryStorage {
    this.#gate.check(what);
    return this.#view;
  }
}
