/**
 * The LevelDB calls the state store makes, over classic-level: synchronous point reads, atomic
 * chained batches, ranged scans read in large slices with iterator.nextv(), and explicit
 * snapshots, which scans and reads can be pinned to.
 *
 * NB: a second import of classic-level beside level_adapter.ts (STYLE.md 4.2 wants one adapter
 * per CommonJS dependency). The log's adapter narrows LevelDB to what the log needs and is
 * being reworked separately; the state needs snapshots and nextv, which it does not expose.
 * TODO(#5): merge the two adapters once both have settled.
 *
 * Durability (classic-level README): a batch written with sync is fsynced before the promise
 * resolves; without sync it survives a process crash but not a power loss.
 */
import { ClassicLevel } from 'classic-level';

import type { KeyRange } from './state_keys.ts';

/** One stored key and value, as nextv() gives them (Buffers, which are Uint8Arrays). */
export type StateRecord = readonly [key: Uint8Array, value: Uint8Array];

/** An atomic batch of puts and deletes, written at once. */
export interface StateBatch {
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
  /** Writes every operation as one atomic LevelDB batch; with sync, fsyncs before resolving. */
  write(options: { readonly sync: boolean }): Promise<void>;
}

/** Reads of one consistent view: the live database, or a snapshot of it. */
export interface StateReader {
  /** Reads one value on the calling thread. */
  getSync(key: Uint8Array): Uint8Array | undefined;
  /**
   * The records in range, in key order, in slices of up to recordsPerSlice (1,000 unless
   * set). With readAhead (the default) the next slice is read while the caller works on this
   * one; turn it off for a scan that will stop after its first slice.
   */
  scan(range: KeyRange, options?: ScanOptions): AsyncIterable<readonly StateRecord[]>;
}

/** A snapshot of the database: reads see it as it was when the snapshot was taken. */
export interface StateSnapshotReader extends StateReader {
  /** Releases the snapshot; resolves when already released. */
  close(): Promise<void>;
}

/** The state store's view of one LevelDB database. Tests wrap it to inject faults. */
export interface StateDatabase extends StateReader {
  readonly location: string;
  batch(): StateBatch;
  /** Takes a snapshot now; reads through it never see later writes. */
  snapshot(): StateSnapshotReader;
  /**
   * Compacts the whole key range (LevelDB's CompactRange): for benchmarks that measure a
   * settled database rather than the compaction backlog of a bulk load.
   */
  compactAll(): Promise<void>;
  /** Closes the database (and its snapshots and iterators) and releases its lock. */
  close(): Promise<void>;
}

type Level = ClassicLevel<Uint8Array, Uint8Array>;
type LevelSnapshot = ReturnType<Level['snapshot']>;

const recordsPerSliceDefault = 1000;
/** Bytes one nextv() call may gather before it returns (classic-level's default is 16 KiB). */
const sliceBytesMax = 1024 * 1024;

/** Options of a scan. */
export interface ScanOptions {
  readonly recordsPerSlice?: number;
  readonly readAhead?: boolean;
}

async function* scanLevel(
  db: Level,
  range: KeyRange,
  options: ScanOptions & { readonly snapshot: LevelSnapshot | undefined },
): AsyncGenerator<readonly StateRecord[]> {
  const size = options.recordsPerSlice ?? recordsPerSliceDefault;
  const iterator = db.iterator({
    ...range,
    snapshot: options.snapshot,
    highWaterMarkBytes: sliceBytesMax,
    // A full scan (a snapshot, a hash) must not evict the blocks that serve point reads.
    fillCache: false,
  });
  // With read-ahead, the next slice is read (on LevelDB's thread) while the caller works on
  // this one.
  let next: Promise<StateRecord[]> | undefined = iterator.nextv(size);
  try {
    for (;;) {
      const slice: StateRecord[] = await (next ?? iterator.nextv(size));
      if (slice.length === 0) {
        return;
      }
      next = options.readAhead === false ? undefined : iterator.nextv(size);
      yield slice;
    }
  } finally {
    // NB: a read may still be in flight when the caller stops early; close after it settles.
    await next?.then(
      () => undefined,
      () => undefined,
    );
    await iterator.close();
  }
}

class ClassicStateDatabase implements StateDatabase {
  readonly location: string;
  readonly #db: Level;

  constructor(db: Level) {
    this.#db = db;
    this.location = db.location;
  }

  getSync(key: Uint8Array): Uint8Array | undefined {
    return this.#db.getSync(key);
  }

  scan(range: KeyRange, options?: ScanOptions): AsyncIterable<readonly StateRecord[]> {
    return scanLevel(this.#db, range, { ...options, snapshot: undefined });
  }

  batch(): StateBatch {
    // NB: a chained batch, not db.batch(array): about five times faster per put (measured
    // with 300-byte records), and just as atomic.
    const batch = this.#db.batch();
    return {
      put: (key, value) => batch.put(key, value),
      del: (key) => batch.del(key),
      write: (options) => batch.write({ sync: options.sync }),
    };
  }

  snapshot(): StateSnapshotReader {
    const db = this.#db;
    const snapshot = db.snapshot();
    return {
      getSync: (key) => db.getSync(key, { snapshot }),
      scan: (range, options) => scanLevel(db, range, { ...options, snapshot }),
      close: () => snapshot.close(),
    };
  }

  compactAll(): Promise<void> {
    return this.#db.compactRange(Uint8Array.of(0), Uint8Array.of(0xff));
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}

/** Options for {@link openStateDatabase}. */
export interface StateDatabaseOptions {
  /** Create the database when the directory holds none (else opening fails). */
  readonly createIfMissing: boolean;
  /** LevelDB's memtable size: larger means fewer, larger table files on bulk loads. */
  readonly writeBufferSizeBytes?: number;
}

/**
 * Opens the LevelDB database in directory location with binary keys and values. Compression
 * is off: values are ciphertext, which does not compress. Rejects with classic-level's error;
 * classify it with classifyLevelError from level_adapter.ts.
 */
export async function openStateDatabase(
  location: string,
  options: StateDatabaseOptions,
): Promise<StateDatabase> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(location, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    createIfMissing: options.createIfMissing,
    errorIfExists: false,
    compression: false,
    // NB: LevelDB maps the table files it holds open, and mapped pages that a snapshot reads
    // count as resident: 64 open files keep a 1M-key snapshot under 300 MB of RSS (measured
    // in bench:storage) at a small cost to random reads.
    maxOpenFiles: 64,
    ...(options.writeBufferSizeBytes === undefined
      ? {}
      : { writeBufferSize: options.writeBufferSizeBytes }),
  });
  await db.open();
  return new ClassicStateDatabase(db);
}
