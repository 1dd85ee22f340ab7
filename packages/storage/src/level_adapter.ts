/**
 * The one file that imports classic-level, a CommonJS package with a native LevelDB binding
 * (STYLE.md 4.2; docs/adr/0002-leveldb-classic-level.md). It narrows LevelDB to the few calls
 * the log store makes, with binary keys and values, and it classifies LevelDB's errors so that
 * nothing else needs to know their shapes.
 *
 * Durability (classic-level README): `write(ops, { sync: true })` is one atomic LevelDB batch
 * that is fsynced before the promise resolves; with `sync: false` it survives a process crash
 * but not a power loss. LevelDB takes an exclusive lock on its directory: a second open fails.
 */
import { ClassicLevel } from 'classic-level';

/** One stored key and value. */
export interface LevelRecord {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** One operation of an atomic batch. */
export type LevelOperation =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: Uint8Array };

/** The LevelDB calls the log store makes. Tests wrap it to inject faults. */
export interface LevelDatabase {
  /** The directory the database lives in. */
  readonly location: string;
  /** Reads one value synchronously (LevelDB's own read, on the calling thread). */
  getSync(key: Uint8Array): Uint8Array | undefined;
  /** Writes operations as one atomic batch; with sync, fsyncs before resolving. */
  write(operations: readonly LevelOperation[], options: { sync: boolean }): Promise<void>;
  /** Iterates the records with gte <= key < lt in key order. */
  scan(range: { gte: Uint8Array; lt: Uint8Array }): AsyncIterable<LevelRecord>;
  /** Closes the database and releases its lock; resolves when already closed. */
  close(): Promise<void>;
}

/** Ways a LevelDB call can fail that the store reports with their own codes. */
export const LevelFailure = {
  /** Another process or handle holds the directory lock. */
  locked: 'locked',
  /** The file system returned ENOSPC. */
  diskFull: 'diskFull',
  /** Anything else: an I/O error, a closed handle, a corrupted table. */
  other: 'other',
} as const;
/** Union of {@link LevelFailure} values. */
export type LevelFailure = (typeof LevelFailure)[keyof typeof LevelFailure];

/** The errors in a cause chain, outermost first (bounded, in case of a cycle). */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current = error;
  while (current !== undefined && chain.length < 8) {
    chain.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
}

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

/**
 * Classifies an error from LevelDB. classic-level reports a held lock as LEVEL_LOCKED (as the
 * cause of LEVEL_DATABASE_NOT_OPEN when opening).
 *
 * NB: LevelDB reports ENOSPC only as text: code LEVEL_IO_ERROR with the message
 * "IO error: <file>: No space left on device" (strerror, seen on Linux with a full tmpfs). So
 * this is the one place that reads a third-party message; an injected error may carry
 * code ENOSPC instead.
 */
export function classifyLevelError(error: unknown): LevelFailure {
  for (const link of causeChain(error)) {
    const code = codeOf(link);
    if (code === 'LEVEL_LOCKED') {
      return LevelFailure.locked;
    }
    const message = link instanceof Error ? link.message : '';
    if (code === 'ENOSPC' || message.includes('No space left on device')) {
      return LevelFailure.diskFull;
    }
  }
  return LevelFailure.other;
}

/** Views a Buffer that classic-level returns as a plain Uint8Array over the same bytes. */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

class ClassicLevelDatabase implements LevelDatabase {
  readonly location: string;
  readonly #db: ClassicLevel<Uint8Array, Uint8Array>;

  constructor(db: ClassicLevel<Uint8Array, Uint8Array>) {
    this.#db = db;
    this.location = db.location;
  }

  getSync(key: Uint8Array): Uint8Array | undefined {
    const value = this.#db.getSync(key);
    return value === undefined ? undefined : plain(value);
  }

  write(operations: readonly LevelOperation[], options: { sync: boolean }): Promise<void> {
    // NB: a chained batch, not db.batch(array): measured 4.4 µs per put against 20 µs for the
    // array form on this machine (100 puts of 160 bytes per batch), and just as atomic.
    const batch = this.#db.batch();
    for (const op of operations) {
      if (op.type === 'put') {
        batch.put(op.key, op.value);
      } else {
        batch.del(op.key);
      }
    }
    return batch.write({ sync: options.sync });
  }

  async *scan(range: { gte: Uint8Array; lt: Uint8Array }): AsyncIterable<LevelRecord> {
    for await (const [key, value] of this.#db.iterator({ gte: range.gte, lt: range.lt })) {
      yield { key: plain(key), value: plain(value) };
    }
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}

/**
 * Opens (creating if missing) the LevelDB database in directory location, with binary keys and
 * values. Rejects with classic-level's error; classify it with {@link classifyLevelError}.
 */
export async function openLevelDatabase(location: string): Promise<LevelDatabase> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(location, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    createIfMissing: true,
  });
  await db.open();
  return new ClassicLevelDatabase(db);
}
