/**
 * The replicated state on LevelDB: the key-value state machine that committed Raft entries are
 * applied to (state_apply.ts), with point reads, paginated listings, state snapshots that
 * stream (snapshot_writer.ts) and restores that verify before they replace anything
 * (snapshot_restore.ts). Values are opaque bytes (ciphertext from core's barrier); keys are
 * paths in clear.
 *
 * Writes: each apply() is ONE LevelDB batch holding every write of its entries and the state
 * record with the new applied index and term, fsynced when asked. A crash leaves the state as
 * it was before or after the batch, never between, and replaying entries at or below the
 * applied index skips them, so applying after a restart is idempotent. Writes (apply, restore,
 * close, and the moment a snapshot is pinned) run one at a time, in call order.
 *
 * Failures: a failed write or fsync stops the store (COFFER_STORAGE_WRITE_FAILED, or
 * COFFER_STORAGE_DISK_FULL), and it refuses every call after, as the log store does; a record
 * that fails its check gives COFFER_STORAGE_CORRUPT_RECORD naming the key and is never used.
 *
 * Invariant: the state record's applied index and term describe exactly the user records and
 * client session records beside it, in every batch LevelDB ever made durable.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

import type { LogIndex, Term } from '@coffer/raft';

import { StorageError, StorageErrorCode } from '../errors.ts';
import { StoreGate } from '../store_gate.ts';
import { classifyLevelError, LevelFailure } from '../level_adapter.ts';
import type { ApplyResult } from './apply_result.ts';
import { utf8Bytes } from './byte_writer.ts';
import type { SnapshotManifest } from './snapshot_format.ts';
import type { SnapshotKey } from './snapshot_key.ts';
import { stageSnapshot } from './snapshot_restore.ts';
import { writeSnapshot, type SnapshotOptions } from './snapshot_writer.ts';
import { sessionLimitsDefault, type SessionLimits } from './session_apply.ts';
import { decodeSessionMeta, emptySessionMeta, type SessionMeta } from './session_record.ts';
import { planApply, type ApplyPlan, type StateEntry } from './state_apply.ts';
import { prefixedStateKeyBytes } from './state_command.ts';
import type { StateDatabase } from './state_database.ts';
import { nextGenerationName, writePointer } from './state_directory.ts';
import { hashState } from './state_hash.ts';
import { RecentValues } from './recent_values.ts';
import {
  dataPrefix,
  listRange,
  sessionMetaKey,
  stateRecordKey,
  userKeyBytes,
} from './state_keys.ts';
import { openGeneration, openState } from './state_open.ts';
import {
  decodeValueRecord,
  encodeStateRecord,
  arenaBytes,
  RecordArena,
  type StateMeta,
  type StoredValue,
} from './state_record.ts';

/** Named points of a restore, for crash tests. */
export const RestoreStep = {
  /** The snapshot is verified and durable in its staging directory; CURRENT is unchanged. */
  staged: 'staged',
  /** CURRENT names the restored state; the replaced one is not deleted yet. */
  switched: 'switched',
} as const;
/** Union of {@link RestoreStep} values. */
export type RestoreStep = (typeof RestoreStep)[keyof typeof RestoreStep];

/** Options for {@link LevelStateStore.open}. */
export interface LevelStateStoreOptions {
  /** Whether apply() fsyncs its batch unless told otherwise per call; true unless set. */
  readonly syncApply?: boolean;
  /** NB: fault injection for tests (a failing write); production code leaves it unset. */
  readonly wrapDatabase?: (db: StateDatabase) => StateDatabase;
  /** NB: crash tests only: called at each {@link RestoreStep}. */
  readonly onRestoreStep?: (step: RestoreStep) => void;
  /**
   * Limits of the client session table; {@link sessionLimitsDefault} unless set. NB: every
   * member of a cluster must use the same ones, or replicas diverge.
   */
  readonly sessionLimits?: Partial<SessionLimits>;
}

/** The most keys one page of a listing holds. */
export const listLimitMax = 1000;
export const listLimitDefault = 100;

const keyDecoder = new TextDecoder();

/** The user key of a LevelDB data key, as text (keys are well-formed UTF-8 by construction). */
function userKeyText(dbKey: Uint8Array): string {
  return keyDecoder.decode(userKeyBytes(dbKey));
}

/** Text whose UTF-8 bytes keyDecoder does not decode back to it: a lone surrogate, a BOM first. */
const decodesOtherwise = /^\ufeff|[\ud800-\udfff]/;

/**
 * userKeyText(dbKey) where dbKey holds key's UTF-8 bytes: key itself unless its bytes decode to
 * other text, so no decoder runs for the usual key. NB: the same text in every case, so the
 * cache of recent values is keyed as before.
 */
function cacheKeyOf(key: string, dbKey: Uint8Array): string {
  return decodesOtherwise.test(key) ? userKeyText(dbKey) : key;
}

/** Options for {@link LevelStateStore.list}. */
export interface ListOptions {
  /** Continue after this key: the cursor of the previous page. */
  readonly after?: string;
  /** Keys per page, 1..listLimitMax; 100 unless set. */
  readonly limit?: number;
}

/** One page of a listing. */
export interface ListPage {
  /** Keys in ascending order (UTF-8 byte order, which is code point order). */
  readonly keys: readonly string[];
  /** Pass as `after` for the next page; undefined on the last page. */
  readonly cursor: string | undefined;
}

/** A snapshot of the state pinned at one applied index, ready to stream. */
export interface StateSnapshot {
  readonly index: LogIndex;
  readonly term: Term;
  /** The stream; iterate it once. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Releases the pinned view if the stream will not be read to its end. */
  close(): Promise<void>;
}

/** Options for {@link LevelStateStore.restore}. */
export interface RestoreOptions {
  /** The HMAC key the snapshot was written under. */
  readonly key: SnapshotKey;
}

/** What a restore installed. */
export interface RestoredState {
  readonly manifest: SnapshotManifest;
  /** The snapshot's extra sections by name (the caller restores what they describe). */
  readonly sections: ReadonlyMap<string, Uint8Array>;
}

/** The replicated key-value state of one node, in a directory of its own. */
export class LevelStateStore {
  readonly #location: string;
  readonly #options: LevelStateStoreOptions;
  readonly #sessionLimits: SessionLimits;
  #db: StateDatabase;
  #generation: string;
  #whereGeneration: string | undefined;
  /** Recently read or written values, exact (recent_values.ts). */
  readonly #recent = new RecentValues();
  #whereText = '';
  #meta: StateMeta;
  /** The applied index as of the last synced write: what survives a power loss. */
  #durableIndex: number;
  readonly #gate: StoreGate;

  private constructor(
    location: string,
    opened: { db: StateDatabase; name: string; meta: StateMeta },
    options: LevelStateStoreOptions,
  ) {
    this.#location = location;
    this.#gate = new StoreGate(() => this.#location);
    this.#options = options;
    this.#sessionLimits = { ...sessionLimitsDefault, ...options.sessionLimits };
    this.#db = opened.db;
    this.#generation = opened.name;
    this.#meta = opened.meta;
    // NB: LevelDB's recovery at open writes what its log held into a synced table, so what
    // open reads back is durable.
    this.#durableIndex = opened.meta.appliedIndex;
  }

  /**
   * Opens the state in directory location, creating an empty one when there is none, and
   * deletes what an interrupted restore left. A directory another process uses gives
   * COFFER_STORAGE_LOCKED; a damaged one COFFER_STORAGE_CORRUPT_RECORD.
   */
  static async open(
    location: string,
    options: LevelStateStoreOptions = {},
  ): Promise<LevelStateStore> {
    const opened = await openState(location, options.wrapDatabase ?? ((db) => db));
    return new LevelStateStore(location, opened, options);
  }

  /** The index of the last entry applied (durable once its batch was synced). */
  appliedIndex(): LogIndex {
    this.#live('read the applied index');
    return this.#meta.appliedIndex as LogIndex;
  }

  /**
   * The applied index as of the last synced write. Compact the Raft log only up to here: an
   * unsynced apply survives a process crash but not a power loss. See {@link flush}.
   */
  durableIndex(): LogIndex {
    this.#live('read the durable index');
    return this.#durableIndex as LogIndex;
  }

  /** The term of the last entry applied. */
  appliedTerm(): Term {
    this.#live('read the applied term');
    return this.#meta.appliedTerm as Term;
  }

  /**
   * Applies committed entries as one atomic batch and returns one result per entry. Entries at
   * or below the applied index are skipped; the rest must follow it without a gap
   * (COFFER_STORAGE_INVALID_WRITE otherwise, with nothing written).
   */
  apply(
    entries: readonly StateEntry[],
    options?: { readonly sync?: boolean },
  ): Promise<readonly ApplyResult[]> {
    return this.#gate.exclusive('apply entries', async () => {
      const plan = planApply(entries, this.#meta, {
        read: (dbKey, key) => this.#readValue(dbKey, key),
        readRaw: (key) => this.#read(() => this.#db.getSync(key), undefined),
        sessionLimits: this.#sessionLimits,
        location: this.#where(),
      });
      if (plan.meta !== undefined) {
        const sync = options?.sync ?? this.#options.syncApply ?? true;
        await this.#commit(plan, sync);
        this.#meta = plan.meta;
        this.#durableIndex = sync ? plan.meta.appliedIndex : this.#durableIndex;
      }
      return plan.results;
    });
  }

  /**
   * Makes every apply so far durable: one synced write of the state record. LevelDB appends
   * every batch to one log in order, so syncing it makes the earlier unsynced batches durable
   * too. Then durableIndex() equals appliedIndex().
   */
  flush(): Promise<void> {
    return this.#gate.exclusive('flush the state', async () => {
      await this.#commit({ results: [], writes: [], sessionWrites: [], meta: this.#meta }, true);
      this.#durableIndex = this.#meta.appliedIndex;
    });
  }

  /** The value and version stored under key, or undefined when there is none. */
  get(key: string): StoredValue | undefined {
    const stored = this.#stored(key);
    // A copy in a plain Uint8Array: the caller may keep it (and mutate it), and it is not a view.
    return stored === undefined
      ? undefined
      : { version: stored.version, value: new Uint8Array(stored.value) };
  }

  /**
   * The version stored under key, or undefined when there is none: the record is checked as by
   * get(), but its value is not copied (a cache of a decoded value checks it is current).
   */
  versionOf(key: string): number | undefined {
    return this.#stored(key)?.version;
  }

  /** The stored value of key (not a copy: callers copy before handing it out). */
  #stored(key: string): StoredValue | undefined {
    const db = this.#live('read a key');
    const cached = this.#recent.get(key);
    if (cached !== undefined) {
      return cached ?? undefined;
    }
    const dbKey = prefixedStateKeyBytes(dataPrefix, key);
    if (dbKey === undefined) {
      return undefined;
    }
    const record = this.#read(() => db.getSync(dbKey), key);
    if (record === undefined) {
      this.#recent.set(key, null);
      return undefined;
    }
    const { version, value } = decodeValueRecord(dbKey, record, this.#where());
    const stored = { version, value: new Uint8Array(value) };
    this.#recent.set(key, stored);
    return stored;
  }

  /**
   * The session clock (the largest leader stamp applied) and the number of live client
   * sessions, for status and tests.
   */
  sessionStatus(): Pick<SessionMeta, 'clockMs' | 'count'> {
    const db = this.#live('read the session table');
    const bytes = this.#read(() => db.getSync(sessionMetaKey), undefined);
    const meta =
      bytes === undefined
        ? emptySessionMeta()
        : decodeSessionMeta(sessionMetaKey, bytes, this.#where());
    return { clockMs: meta.clockMs, count: meta.count };
  }

  /** One page of the keys that start with prefix, in ascending order. */
  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const db = this.#live('list keys');
    const limit = options.limit ?? listLimitDefault;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > listLimitMax) {
      throw new StorageError(
        StorageErrorCode.invalidArgument,
        `Cannot list keys: the limit ${limit} is outside 1..${listLimitMax}. Ask for 1 to ${listLimitMax} keys per page`,
      );
    }
    const after = options.after === undefined ? undefined : utf8Bytes(options.after);
    const range = listRange(utf8Bytes(prefix), after);
    const keys: string[] = [];
    try {
      const slices = db.scan(range, { recordsPerSlice: limit + 1, readAhead: false });
      for await (const slice of slices) {
        for (const [key, record] of slice) {
          if (keys.length === limit) {
            return { keys, cursor: keys.at(-1) };
          }
          // Checked, though only the key is returned (STYLE.md 5.8).
          decodeValueRecord(key, record, this.#where());
          keys.push(Buffer.from(key.subarray(1)).toString('utf8'));
        }
      }
    } catch (error) {
      throw this.#readError(error, `list keys under ${JSON.stringify(prefix)}`);
    }
    return { keys, cursor: undefined };
  }

  /**
   * Pins a snapshot of the state after every apply queued before this call, and returns it
   * ready to stream. Sections given in options must describe the same applied index.
   */
  snapshot(options: SnapshotOptions): Promise<StateSnapshot> {
    return this.#gate.exclusive('snapshot the state', () => {
      const reader = this.#db.snapshot();
      let closed: Promise<void> | undefined;
      const close = (): Promise<void> => (closed ??= reader.close());
      const meta = this.#meta;
      const pinned = {
        getSync: (key: Uint8Array) => reader.getSync(key),
        scan: reader.scan.bind(reader),
        close,
      };
      const source = { reader: pinned, meta, location: this.#where() };
      const chunks = this.#guard(writeSnapshot(source, options), 'stream a snapshot');
      return Promise.resolve({
        index: meta.appliedIndex as LogIndex,
        term: meta.appliedTerm as Term,
        chunks,
        close,
      });
    });
  }

  /**
   * Replaces the state with a snapshot, after verifying all of it. A corrupt, truncated or
   * wrongly keyed stream rejects with a typed error naming the chunk, and leaves the state
   * as it was.
   */
  restore(
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: RestoreOptions,
  ): Promise<RestoredState> {
    return this.#gate.exclusive('restore a snapshot', async () => {
      let name: string;
      try {
        name = await nextGenerationName(this.#location);
      } catch (error) {
        throw this.#readError(error, 'restore a snapshot');
      }
      const staged = await stageSnapshot(chunks, {
        location: this.#location,
        name,
        key: options.key,
      });
      this.#options.onRestoreStep?.(RestoreStep.staged);
      await this.#switchTo(name);
      return { manifest: staged.manifest, sections: staged.sections };
    });
  }

  /** The hex SHA-256 of the whole state (see state_hash.ts), to compare replicas. */
  stateHash(): Promise<string> {
    return this.#gate.exclusive('hash the state', async () => {
      const reader = this.#db.snapshot();
      try {
        return await hashState(reader, this.#meta, this.#where());
      } catch (error) {
        throw this.#readError(error, 'hash the state');
      } finally {
        await reader.close();
      }
    });
  }

  /** Closes the database once queued work finishes; later calls fail with COFFER_STORAGE_NOT_OPEN. */
  close(): Promise<void> {
    return this.#gate.close(() => this.#db.close());
  }

  /** Opens the staged generation, points CURRENT at it, then drops the old one. */
  async #switchTo(name: string): Promise<void> {
    const old = { db: this.#db, name: this.#generation };
    const opened = await openGeneration(
      this.#location,
      name,
      this.#options.wrapDatabase ?? ((db) => db),
    ).catch((error: unknown) => {
      throw this.#fail(error, 'open the restored state');
    });
    try {
      await writePointer(this.#location, name);
    } catch (error) {
      await opened.db.close().catch(() => undefined);
      throw this.#fail(error, 'switch to the restored state');
    }
    this.#options.onRestoreStep?.(RestoreStep.switched);
    this.#db = opened.db;
    this.#recent.clear();
    this.#generation = name;
    this.#meta = opened.meta;
    this.#durableIndex = opened.meta.appliedIndex;
    await old.db.close().catch(() => undefined);
    // NB: a failure here leaves only garbage, which the next open deletes.
    await rm(join(this.#location, old.name), { recursive: true, force: true }).catch(
      () => undefined,
    );
  }

  /** Writes a planned batch: every touched key, then the state record. */
  async #commit(plan: ApplyPlan, sync: boolean): Promise<void> {
    const meta = plan.meta ?? this.#meta;
    const batch = this.#db.batch();
    let sizeBytes = 0;
    for (const { dbKey, current } of plan.writes) {
      sizeBytes +=
        current === undefined ? 0 : arenaBytes(dbKey.byteLength - 1, current.value.byteLength);
    }
    const arena = new RecordArena(sizeBytes);
    for (const { dbKey, current } of plan.writes) {
      if (current === undefined) {
        batch.del(dbKey);
      } else {
        const { key, record } = arena.entry(dbKey.subarray(1), current.version, current.value);
        batch.put(key, record);
      }
    }
    for (const { key, value } of plan.sessionWrites) {
      if (value === undefined) {
        batch.del(key);
      } else {
        batch.put(key, value);
      }
    }
    batch.put(stateRecordKey, encodeStateRecord(stateRecordKey, meta));
    try {
      await batch.write({ sync });
    } catch (error) {
      this.#recent.clear();
      throw this.#fail(error, 'write the state');
    }
    // NB: before the batch counts as applied (the caller advances the meta after this returns),
    // so a read at the new applied index never sees an older cached value.
    for (const { key, dbKey, current } of plan.writes) {
      this.#recent.set(
        cacheKeyOf(key, dbKey),
        current === undefined ? null : { version: current.version, value: current.value.slice() },
      );
    }
  }

  /** Marks the store failed after a write that may or may not have reached the disk. */
  #fail(error: unknown, what: string): StorageError {
    const failure =
      classifyLevelError(error) === LevelFailure.diskFull
        ? new StorageError(
            StorageErrorCode.diskFull,
            `Cannot ${what} in "${this.#location}": the disk is full. Free space on "${this.#location}", then restart the node`,
            { cause: error },
          )
        : error instanceof StorageError
          ? error
          : new StorageError(
              StorageErrorCode.writeFailed,
              `Cannot ${what} in "${this.#location}": a write or its fsync failed, so the store stopped. Restart the node`,
              { cause: error },
            );
    return this.#gate.fail(failure);
  }

  #readValue(dbKey: Uint8Array, key: string): StoredValue | undefined {
    return this.#stored(cacheKeyOf(key, dbKey));
  }

  /** Runs a LevelDB read, mapping its failure to COFFER_STORAGE_IO. */
  #read<T>(read: () => T, key: string | undefined): T {
    try {
      return read();
    } catch (error) {
      const what = key === undefined ? 'read a key' : `read key ${JSON.stringify(key)}`;
      throw this.#readError(error, what);
    }
  }

  #readError(error: unknown, what: string): StorageError {
    return error instanceof StorageError
      ? error
      : new StorageError(
          StorageErrorCode.io,
          `Cannot ${what} in "${this.#location}": LevelDB failed to read it`,
          { cause: error },
        );
  }

  /** Maps failures of a snapshot stream to typed errors. */
  async *#guard(chunks: AsyncGenerator<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
    try {
      yield* chunks;
    } catch (error) {
      throw this.#readError(error, what);
    }
  }

  #where(): string {
    // NB: memoized per generation: every read passes it (for a corruption message), so the
    // join stays off the read path.
    if (this.#whereGeneration !== this.#generation) {
      this.#whereGeneration = this.#generation;
      this.#whereText = join(this.#location, this.#generation);
    }
    return this.#whereText;
  }

  /** The database, when the store is open and has not failed. */
  #live(what: string): StateDatabase {
    this.#gate.check(what);
    return this.#db;
  }
}
