/**
 * The values of the state database, each sealed with a CRC-32 that also covers its LevelDB
 * key, so a flipped bit in the key or the value, or a value under the wrong key, is caught on
 * read (STYLE.md 5.8: check data after a read, not only before the write).
 *
 *   user value    u8 1 (record version) | u64 version | value bytes    | u32le crc
 *   state record  u8 formatVersion | u64 appliedIndex | u64 appliedTerm | u32le crc
 *
 * crc = CRC-32 (node:zlib) over the LevelDB key, then every byte before the crc, stored
 * little-endian last. So the CRC over the key and the whole record is CRC-32's fixed residue
 * 0x2144df1c: a record is checked with two crc32 calls and no copy or view, which matters on
 * the snapshot path that checks every record. A value's version is the Raft index of the entry
 * that last wrote it: unique, increasing and the same on every replica, which is what
 * check-and-set compares.
 *
 * Invariant: a record that fails its check is never used: reading it throws
 * COFFER_STORAGE_CORRUPT_RECORD naming the key (or COFFER_STORAGE_FORMAT_UNSUPPORTED for a
 * state record of an unknown format).
 */
import { crc32 } from 'node:zlib';

import { StorageError, StorageErrorCode } from '../errors.ts';
import { dataPrefix, describeKey } from './state_keys.ts';

/** The format of the state directory this build reads and writes. */
export const stateFormatVersion = 1;
const valueRecordVersion = 1;
const crcBytes = 4;
/** CRC-32 over a message followed by its own CRC (little-endian). */
const crcResidue = 0x2144df1c;
/** Bytes before the value in a user value record: record version and version. */
export const valueHeaderBytes = 1 + 8;
/** Bytes of a user value record besides the value. */
export const valueOverheadBytes = valueHeaderBytes + crcBytes;
const stateRecordBytes = 1 + 8 * 2 + crcBytes;
const twoTo32 = 2 ** 32;

/** A stored user value: its opaque bytes (ciphertext) and its version. */
export interface StoredValue {
  /** The Raft index of the entry that last wrote this key. */
  readonly version: number;
  readonly value: Uint8Array;
}

/**
 * What the state record holds: how far the state has applied the log.
 *
 * NB: no key count. Keeping one exact would cost a read of every key a put or delete
 * touches, to learn whether it existed: measured at 7 to 9 µs per key on a 1M-key state, more
 * than the rest of applying an entry. Snapshots count the keys as they stream them instead.
 */
export interface StateMeta {
  readonly appliedIndex: number;
  readonly appliedTerm: number;
}

/** Seals record in place: writes the CRC over key and the bytes before it into its last four. */
export function seal(key: Uint8Array, record: Uint8Array): void {
  const end = record.byteLength - crcBytes;
  const crc = crc32(record.subarray(0, end), crc32(key));
  record[end] = crc & 0xff;
  record[end + 1] = (crc >>> 8) & 0xff;
  record[end + 2] = (crc >>> 16) & 0xff;
  record[end + 3] = crc >>> 24;
}

/** Whether record (sealed by {@link seal}) matches its key and bytes. */
export function isSealed(key: Uint8Array, record: Uint8Array): boolean {
  return crc32(record, crc32(key)) === crcResidue;
}

/** Reads a big-endian u64 at `at` (callers check it is a safe integer). */
export function readU64(bytes: Uint8Array, at: number): number {
  const high = ((bytes[at] ?? 0) << 24) | ((bytes[at + 1] ?? 0) << 16);
  const high2 = ((bytes[at + 2] ?? 0) << 8) | (bytes[at + 3] ?? 0);
  const low = ((bytes[at + 4] ?? 0) << 24) | ((bytes[at + 5] ?? 0) << 16);
  const low2 = ((bytes[at + 6] ?? 0) << 8) | (bytes[at + 7] ?? 0);
  return ((high | high2) >>> 0) * twoTo32 + ((low | low2) >>> 0);
}

/** Writes value as a big-endian u64 at `at`. */
export function writeU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, Math.floor(value / twoTo32));
  view.setUint32(at + 4, value % twoTo32);
}

/** The typed error for a stored record that fails its check. */
export function corruptStateRecord(
  key: Uint8Array,
  location: string,
  problem: string,
): StorageError {
  return new StorageError(
    StorageErrorCode.corruptRecord,
    `Cannot use state record ${describeKey(key)} in "${location}": ${problem}. Restore this node's state from a snapshot of a healthy peer`,
  );
}

/**
 * Encodes the keys and value records of one batch into a single allocation. NB: safe because
 * LevelDB copies what a batch puts, and an arena is never written again once its batch is
 * built; it saves an allocation and a DataView per record on the hot paths (apply, restore).
 */
export class RecordArena {
  readonly #buffer: Uint8Array;
  readonly #view: DataView;
  #end = 0;

  /** An arena for records whose keys and values total sizeBytes, from {@link arenaBytes}. */
  constructor(sizeBytes: number) {
    this.#buffer = new Uint8Array(sizeBytes);
    this.#view = new DataView(this.#buffer.buffer);
  }

  /**
   * The LevelDB data key of a user key (given as UTF-8 bytes, without the prefix) and its
   * value record. NB: key and record lie side by side in the arena, so the CRC over both is
   * one crc32 call instead of two.
   */
  entry(
    keyBytes: Uint8Array,
    version: number,
    value: Uint8Array,
  ): { key: Uint8Array; record: Uint8Array } {
    const start = this.#end;
    const key = this.#take(1 + keyBytes.byteLength);
    key[0] = dataPrefix;
    key.set(keyBytes, 1);
    const at = this.#end;
    const record = this.#take(valueOverheadBytes + value.byteLength);
    record[0] = valueRecordVersion;
    writeU64(this.#view, at + 1, version);
    record.set(value, valueHeaderBytes);
    const crcAt = this.#end - crcBytes;
    this.#view.setUint32(crcAt, crc32(this.#buffer.subarray(start, crcAt)), true);
    return { key, record };
  }

  #take(bytes: number): Uint8Array {
    const slice = this.#buffer.subarray(this.#end, this.#end + bytes);
    this.#end += bytes;
    return slice;
  }
}

/** Bytes an arena needs for a record of a key of keyBytes and a value of valueBytes. */
export function arenaBytes(keyBytes: number, valueBytes: number): number {
  return 1 + keyBytes + valueOverheadBytes + valueBytes;
}

/** The value stored under key (a LevelDB data key) for version and value. */
export function encodeValueRecord(key: Uint8Array, version: number, value: Uint8Array): Uint8Array {
  const arena = new RecordArena(arenaBytes(key.byteLength - 1, value.byteLength));
  return arena.entry(key.subarray(1), version, value).record;
}

/** Why a stored user value fails its check, or undefined when it is intact. */
export function valueRecordProblem(key: Uint8Array, record: Uint8Array): string | undefined {
  if (record.byteLength < valueOverheadBytes) {
    return `it is truncated to ${record.byteLength} bytes`;
  }
  if (!isSealed(key, record)) {
    return 'its checksum does not match its key and bytes';
  }
  if (record[0] !== valueRecordVersion) {
    return `its record version is ${record[0]}, not ${valueRecordVersion}`;
  }
  const version = readU64(record, 1);
  if (!Number.isSafeInteger(version) || version < 1) {
    return `its version ${version} is not a positive safe integer`;
  }
  return undefined;
}

/** Checks and decodes a stored user value; the value is a view of the record's bytes. */
export function decodeValueRecord(
  key: Uint8Array,
  record: Uint8Array,
  location: string,
): StoredValue {
  const problem = valueRecordProblem(key, record);
  if (problem !== undefined) {
    throw corruptStateRecord(key, location, problem);
  }
  const value = record.subarray(valueHeaderBytes, record.byteLength - crcBytes);
  return { version: readU64(record, 1), value };
}

/** The state record stored under key for meta. */
export function encodeStateRecord(key: Uint8Array, meta: StateMeta): Uint8Array {
  const record = new Uint8Array(stateRecordBytes);
  const view = new DataView(record.buffer);
  record[0] = stateFormatVersion;
  writeU64(view, 1, meta.appliedIndex);
  writeU64(view, 9, meta.appliedTerm);
  seal(key, record);
  return record;
}

/** Checks and decodes the state record (a missing one is reported as corrupt). */
export function decodeStateRecord(
  key: Uint8Array,
  record: Uint8Array | undefined,
  location: string,
): StateMeta {
  if (record === undefined) {
    throw corruptStateRecord(key, location, 'it is missing');
  }
  if (record.byteLength < 1 + crcBytes || !isSealed(key, record)) {
    throw corruptStateRecord(key, location, 'its checksum does not match its key and bytes');
  }
  if (record[0] !== stateFormatVersion) {
    throw new StorageError(
      StorageErrorCode.formatUnsupported,
      `Cannot open the state in "${location}": its format version is ${record[0]} and this build reads ${stateFormatVersion}. Run a Coffer build that reads it`,
    );
  }
  if (record.byteLength !== stateRecordBytes) {
    throw corruptStateRecord(
      key,
      location,
      `it holds ${record.byteLength} bytes, not ${stateRecordBytes}`,
    );
  }
  const meta = { appliedIndex: readU64(record, 1), appliedTerm: readU64(record, 9) };
  if (!Number.isSafeInteger(meta.appliedIndex) || !Number.isSafeInteger(meta.appliedTerm)) {
    throw corruptStateRecord(key, location, 'a number in it is above 2^53 - 1');
  }
  return meta;
}
