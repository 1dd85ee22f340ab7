/**
 * Writes a state snapshot: reads every user record through a LevelDB snapshot (a consistent
 * view, whatever applies meanwhile) and yields the stream as chunks of about chunkSizeBytes,
 * one frame each (snapshot_format.ts). Memory stays bounded by one frame and one nextv()
 * slice, whatever the number of keys.
 *
 * Every record is checked against its CRC before it is copied out, so a corrupted state is
 * reported (COFFER_STORAGE_CORRUPT_RECORD naming the key) instead of spread to a peer or a
 * backup.
 */
import type { LogIndex, Term } from '@coffer/raft';

import { StorageError, StorageErrorCode } from '../errors.ts';
import {
  chunkSizeBytesDefault,
  digestBytes,
  encodeManifest,
  encodePrefix,
  frameBodyBytesMax,
  FrameType,
  frameHeaderBytes,
  manifestProblem,
  type ManifestHeader,
} from './snapshot_format.ts';
import { buildEndFrame, sha256, StreamHashes, writeFrameHeader } from './snapshot_frames.ts';
import { snapshotKeyObject, type SnapshotKey } from './snapshot_key.ts';
import { stateKeyBytesMax, stateValueBytesMax } from './state_command.ts';
import type { StateRecord, StateSnapshotReader } from './state_database.ts';
import { readSessionSection, sessionSectionName } from './session_section.ts';
import { dataRange } from './state_keys.ts';
import {
  corruptStateRecord,
  valueHeaderBytes,
  valueOverheadBytes,
  valueRecordProblem,
  type StateMeta,
} from './state_record.ts';

/** A named, opaque extra section of a snapshot (core's client session table, ...). */
export interface SnapshotSection {
  readonly name: string;
  readonly data: Uint8Array;
}

/** What the caller adds to a snapshot of the state. */
export interface SnapshotOptions {
  /** The HMAC key; never logged, never stored. */
  readonly key: SnapshotKey;
  /** The cluster membership at the snapshot's index, opaque to storage. */
  readonly membership: Uint8Array;
  /** The keyring term the values were written under, opaque to storage. */
  readonly keyringTerm: number;
  /** Extra sections, restored with the state; they must describe the same index. */
  readonly sections?: readonly SnapshotSection[];
  /** The body size to aim at per chunk; 1 MiB unless set. */
  readonly chunkSizeBytes?: number;
}

/** The pinned view a snapshot reads from, with the state record read through it. */
export interface SnapshotSource {
  readonly reader: StateSnapshotReader;
  readonly meta: StateMeta;
  readonly location: string;
}

/**
 * Copies source[start, end) into target at targetStart. NB: nextv gives Buffers, whose copy()
 * needs no view object per call; the hot loop runs once per stored key.
 */
function copyBytes(
  source: Uint8Array,
  range: { readonly start: number; readonly end: number },
  to: { readonly target: Uint8Array; readonly at: number },
): void {
  if (Buffer.isBuffer(source)) {
    source.copy(to.target, to.at, range.start, range.end);
  } else {
    to.target.set(source.subarray(range.start, range.end), to.at);
  }
}

/** Collects data records into one frame buffer, then seals it. */
class DataFrame {
  readonly #frame: Uint8Array;
  readonly #view: DataView;
  #end = frameHeaderBytes;

  constructor(bodyBytes: number) {
    // NB: zeroed, not Buffer.allocUnsafe: the unused tail must not carry old heap contents.
    this.#frame = new Uint8Array(frameHeaderBytes + bodyBytes + digestBytes);
    this.#view = new DataView(this.#frame.buffer);
  }

  get bodyLength(): number {
    return this.#end - frameHeaderBytes;
  }

  fits(recordBytes: number): boolean {
    return this.#end + recordBytes + digestBytes <= this.#frame.byteLength;
  }

  /**
   * Adds a LevelDB data key and its checked value record (u8 | u64 version | value | crc) as
   * u16 keyLength | key | u32 valueLength | u64 version | value: version and value are copied
   * from the record in one piece.
   */
  add(dbKey: Uint8Array, record: Uint8Array): void {
    const keyLength = dbKey.byteLength - 1;
    const valueLength = record.byteLength - valueOverheadBytes;
    const at = this.#end;
    this.#view.setUint16(at, keyLength);
    copyBytes(dbKey, { start: 1, end: dbKey.byteLength }, { target: this.#frame, at: at + 2 });
    this.#view.setUint32(at + 2 + keyLength, valueLength);
    const valueEnd = valueHeaderBytes + valueLength;
    copyBytes(record, { start: 1, end: valueEnd }, { target: this.#frame, at: at + 6 + keyLength });
    this.#end = at + 6 + keyLength + 8 + valueLength;
  }

  /** Seals the frame; returns it and its digest. */
  seal(seq: number): { frame: Uint8Array; digest: Uint8Array } {
    writeFrameHeader(this.#frame, { type: FrameType.data, seq, bodyLength: this.bodyLength });
    const digest = sha256(this.#frame.subarray(0, this.#end));
    this.#frame.set(digest, this.#end);
    return { frame: this.#frame.subarray(0, this.#end + digestBytes), digest };
  }
}

/** Seals whole-body frames (manifest, sections) and numbers every frame. */
class FrameCounter {
  readonly hashes: StreamHashes;
  seq = 0;

  constructor(hashes: StreamHashes) {
    this.hashes = hashes;
  }

  frame(type: FrameType, body: Uint8Array): Uint8Array {
    const frame = new Uint8Array(frameHeaderBytes + body.byteLength + digestBytes);
    writeFrameHeader(frame, { type, seq: this.seq, bodyLength: body.byteLength });
    frame.set(body, frameHeaderBytes);
    const sealed = frameHeaderBytes + body.byteLength;
    const digest = sha256(frame.subarray(0, sealed));
    frame.set(digest, sealed);
    return this.emit({ frame, digest });
  }

  /** Counts a sealed frame and feeds its digest to the stream hashes. */
  emit(sealed: { frame: Uint8Array; digest: Uint8Array }): Uint8Array {
    this.hashes.update(sealed.digest);
    this.seq++;
    return sealed.frame;
  }
}

function invalidOptions(problem: string): StorageError {
  return new StorageError(
    StorageErrorCode.invalidArgument,
    `Cannot write a snapshot of the state: ${problem}. Shrink it or raise the limit in snapshot_format.ts`,
  );
}

/** Why options cannot be used, or undefined when they can. */
function optionsProblem(options: SnapshotOptions): string | undefined {
  const chunk = options.chunkSizeBytes ?? chunkSizeBytesDefault;
  if (!Number.isSafeInteger(chunk) || chunk < 64 || chunk > frameBodyBytesMax) {
    return `the chunk size ${chunk} is outside 64..${frameBodyBytesMax} bytes`;
  }
  if (!Number.isSafeInteger(options.keyringTerm) || options.keyringTerm < 0) {
    return `the keyring term ${options.keyringTerm} is not a non-negative integer`;
  }
  if (options.sections?.some((section) => section.name === sessionSectionName)) {
    return `the section name ${JSON.stringify(sessionSectionName)} is reserved for the store`;
  }
  return undefined;
}

function manifestFor(
  source: SnapshotSource,
  options: SnapshotOptions,
  sections: readonly SnapshotSection[],
): ManifestHeader {
  const manifest = {
    formatVersion: 1,
    index: source.meta.appliedIndex as LogIndex,
    term: source.meta.appliedTerm as Term,
    keyringTerm: options.keyringTerm,
    membership: options.membership,
    sections: sections.map((s) => ({ name: s.name, byteLength: s.data.byteLength })),
  };
  const problem = optionsProblem(options) ?? manifestProblem(manifest);
  if (problem !== undefined) {
    throw invalidOptions(problem);
  }
  return manifest;
}

/** The section frames: every section's bytes in order, concatenated and cut into chunks. */
function* sectionFrames(
  counter: FrameCounter,
  sections: readonly SnapshotSection[],
  chunkSizeBytes: number,
): Generator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for (const { data } of sections) {
    for (let offset = 0; offset < data.byteLength;) {
      const take = Math.min(chunkSizeBytes - pendingBytes, data.byteLength - offset);
      pending.push(data.subarray(offset, offset + take));
      pendingBytes += take;
      offset += take;
      if (pendingBytes === chunkSizeBytes) {
        yield counter.frame(FrameType.section, Buffer.concat(pending));
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) {
    yield counter.frame(FrameType.section, Buffer.concat(pending));
  }
}

/** Checks one stored record; returns its size in a data frame. */
function checkedRecordBytes(source: SnapshotSource, [key, value]: StateRecord): number {
  const problem = valueRecordProblem(key, value);
  if (problem !== undefined) {
    throw corruptStateRecord(key, source.location, problem);
  }
  const keyLength = key.byteLength - 1;
  const valueLength = value.byteLength - valueOverheadBytes;
  if (keyLength < 1 || keyLength > stateKeyBytesMax || valueLength > stateValueBytesMax) {
    throw corruptStateRecord(key, source.location, 'its key or value is outside the limits');
  }
  return 2 + keyLength + 4 + 8 + valueLength;
}

/** The data frames: every user record, in key order. Returns the number of records. */
async function* dataFrames(
  counter: FrameCounter,
  source: SnapshotSource,
  chunkSizeBytes: number,
): AsyncGenerator<Uint8Array, number> {
  let frame = new DataFrame(chunkSizeBytes);
  let count = 0;
  for await (const slice of source.reader.scan(dataRange)) {
    for (const record of slice) {
      const recordBytes = checkedRecordBytes(source, record);
      if (!frame.fits(recordBytes)) {
        if (frame.bodyLength > 0) {
          yield counter.emit(frame.seal(counter.seq));
        }
        frame = new DataFrame(Math.max(chunkSizeBytes, recordBytes));
      }
      frame.add(record[0], record[1]);
      count++;
    }
  }
  if (frame.bodyLength > 0) {
    yield counter.emit(frame.seal(counter.seq));
  }
  return count;
}

/**
 * Yields the snapshot of source as chunks. Closes source.reader when done or abandoned.
 * Throws COFFER_STORAGE_CORRUPT_RECORD when a stored record fails its check.
 */
export async function* writeSnapshot(
  source: SnapshotSource,
  options: SnapshotOptions,
): AsyncGenerator<Uint8Array> {
  try {
    const chunkSizeBytes = options.chunkSizeBytes ?? chunkSizeBytesDefault;
    // The store's own session table rides as the first section (session_section.ts).
    const sessions = await readSessionSection(source.reader, source.location);
    const sections = [...(sessions === undefined ? [] : [sessions]), ...(options.sections ?? [])];
    const manifest = manifestFor(source, options, sections);
    const counter = new FrameCounter(new StreamHashes(snapshotKeyObject(options.key)));
    const prefix = encodePrefix();
    counter.hashes.update(prefix);
    const first = counter.frame(FrameType.manifest, encodeManifest(manifest));
    yield Buffer.concat([prefix, first]);
    yield* sectionFrames(counter, sections, chunkSizeBytes);
    const count = yield* dataFrames(counter, source, chunkSizeBytes);
    yield buildEndFrame(counter.hashes, counter.seq, count);
  } finally {
    await source.reader.close();
  }
}
