/**
 * Reads and verifies a state snapshot stream, cut into chunks any way (InstallSnapshot chunks,
 * file reads). Every frame is checked against its SHA-256 before it is parsed, the frames must
 * come in order (manifest, sections, data, end) and number 0, 1, 2, ..., the records must be
 * well-formed and in strictly ascending key order; at the end the key count, the whole-stream
 * SHA-256 and then the HMAC are checked. Only then does readSnapshot() resolve.
 *
 * Records are handed to onRecords frame by frame as they pass their checks, so a restore can
 * stage them while the stream flows; nothing may use them before readSnapshot() resolves.
 * Memory stays bounded by one frame, one input chunk and the extra sections (capped by
 * sectionBytesMax), whatever the number of keys.
 *
 * Failures, each naming the chunk (its position in the stream, counted from 0):
 * COFFER_STORAGE_SNAPSHOT_CORRUPT (a hash fails, a frame does not parse, out of order),
 * COFFER_STORAGE_SNAPSHOT_TRUNCATED (the stream ends early), COFFER_STORAGE_SNAPSHOT_AUTH_FAILED
 * (the HMAC fails: a wrong key or a forged stream), COFFER_STORAGE_FORMAT_UNSUPPORTED.
 */
import { isUtf8 } from 'node:buffer';
import { timingSafeEqual } from 'node:crypto';

import { StorageError, StorageErrorCode } from '../errors.ts';
import { ByteReader, ByteReadError } from './byte_reader.ts';
import { ChunkQueue } from './chunk_queue.ts';
import { stateKeyBytesMax, stateValueBytesMax } from './state_command.ts';
import {
  decodeManifest,
  digestBytes,
  endBodyBytes,
  frameBodyBytesMax,
  frameHeaderBytes,
  FrameType,
  prefixBytes,
  snapshotFormatVersion,
  snapshotMagic,
  type ManifestHeader,
  type SnapshotManifest,
} from './snapshot_format.ts';
import { sha256, StreamHashes } from './snapshot_frames.ts';
import { snapshotKeyObject, type SnapshotKey } from './snapshot_key.ts';
import { decodeSessionSection, sessionSectionName } from './session_section.ts';

/** One user record of a data chunk; the arrays are views of the chunk. */
export interface SnapshotRecord {
  readonly keyBytes: Uint8Array;
  readonly version: number;
  readonly value: Uint8Array;
}

/** Options for {@link readSnapshot}. */
export interface ReadSnapshotOptions {
  /** The HMAC key the snapshot was written under. */
  readonly key: SnapshotKey;
  /** Takes each data chunk's records, in order, before the next chunk is read. */
  readonly onRecords?: (records: readonly SnapshotRecord[]) => Promise<void> | void;
}

/** A snapshot that passed every check. */
export interface VerifiedSnapshot {
  readonly manifest: SnapshotManifest;
  /** The extra sections by name. */
  readonly sections: ReadonlyMap<string, Uint8Array>;
  /** The number of chunks (frames), the end chunk included. */
  readonly chunkCount: number;
  /** The stream's size in bytes. */
  readonly sizeBytes: number;
}

const frameNames: Record<number, string> = { 1: 'manifest', 2: 'section', 3: 'data', 4: 'end' };

function corrupt(position: number | 'prefix', problem: string): StorageError {
  const where = position === 'prefix' ? 'its prefix' : `chunk ${position}`;
  return new StorageError(
    StorageErrorCode.snapshotCorrupt,
    `Cannot use the state snapshot: ${where} ${problem}. Fetch the snapshot again or use another copy; the current state was not changed`,
  );
}

function truncated(problem: string): StorageError {
  return new StorageError(
    StorageErrorCode.snapshotTruncated,
    `Cannot use the state snapshot: the stream ended ${problem}. Fetch the whole snapshot again; the current state was not changed`,
  );
}

/** The records of a data frame's body, checked against the manifest and the previous key. */
class RecordParser {
  readonly #manifest: ManifestHeader;
  #previousKey: Uint8Array | undefined;
  count = 0;

  constructor(manifest: ManifestHeader) {
    this.#manifest = manifest;
  }

  parse(body: Uint8Array): SnapshotRecord[] {
    const reader = new ByteReader(body);
    const records: SnapshotRecord[] = [];
    while (reader.remaining() > 0) {
      records.push(this.#record(reader));
    }
    if (records.length === 0) {
      throw new ByteReadError('a data chunk holds no record');
    }
    return records;
  }

  #record(reader: ByteReader): SnapshotRecord {
    const keyLength = reader.u16('a key length');
    if (keyLength === 0 || keyLength > stateKeyBytesMax) {
      throw new ByteReadError(`a key length ${keyLength} is outside 1..${stateKeyBytesMax}`);
    }
    const keyBytes = reader.bytes(keyLength, 'a key');
    if (!isUtf8(keyBytes)) {
      throw new ByteReadError('a key is not UTF-8');
    }
    if (this.#previousKey !== undefined && Buffer.compare(this.#previousKey, keyBytes) >= 0) {
      throw new ByteReadError('keys are out of order');
    }
    const valueLength = reader.u32('a value length');
    if (valueLength > stateValueBytesMax) {
      throw new ByteReadError(`a value of ${valueLength} bytes is above ${stateValueBytesMax}`);
    }
    const version = reader.u64('a version');
    if (version < 1 || version > this.#manifest.index) {
      throw new ByteReadError(`version ${version} is outside 1..${this.#manifest.index}`);
    }
    const value = reader.bytes(valueLength, 'a value');
    this.#previousKey = keyBytes;
    this.count++;
    return { keyBytes, version, value };
  }
}

/** Fills the extra sections from section frames, in manifest order. */
class SectionFiller {
  readonly sections = new Map<string, Uint8Array>();
  readonly #order: { readonly name: string; readonly data: Uint8Array }[];
  #section = 0;
  #offset = 0;

  constructor(manifest: ManifestHeader) {
    this.#order = manifest.sections.map((s) => ({
      name: s.name,
      data: new Uint8Array(s.byteLength),
    }));
    for (const { name, data } of this.#order) {
      this.sections.set(name, data);
    }
    this.#skipFull();
  }

  get done(): boolean {
    return this.#section === this.#order.length;
  }

  fill(body: Uint8Array): void {
    let at = 0;
    while (at < body.byteLength) {
      const current = this.#order[this.#section];
      if (current === undefined) {
        throw new ByteReadError('there are more section bytes than the manifest lists');
      }
      const take = Math.min(current.data.byteLength - this.#offset, body.byteLength - at);
      current.data.set(body.subarray(at, at + take), this.#offset);
      this.#offset += take;
      at += take;
      this.#skipFull();
    }
  }

  #skipFull(): void {
    while (this.#order[this.#section]?.data.byteLength === this.#offset) {
      this.#section++;
      this.#offset = 0;
    }
  }
}

/** The verifier's state between frames. */
interface Progress {
  manifest: ManifestHeader | undefined;
  sections: SectionFiller | undefined;
  records: RecordParser | undefined;
}

/** The frame type that may come next. */
function allowedTypes(progress: Progress): readonly number[] {
  if (progress.manifest === undefined) {
    return [FrameType.manifest];
  }
  if (progress.sections?.done === false) {
    return [FrameType.section];
  }
  return [FrameType.data, FrameType.end];
}

async function readPrefix(queue: ChunkQueue): Promise<Uint8Array> {
  if (!(await queue.fill(prefixBytes))) {
    throw truncated('inside its prefix');
  }
  const prefix = queue.take(prefixBytes);
  if (!Buffer.from(prefix.subarray(0, snapshotMagic.byteLength)).equals(snapshotMagic)) {
    throw corrupt('prefix', 'does not start with "COFFSNAP": this is not a Coffer state snapshot');
  }
  const version = new DataView(prefix.buffer, prefix.byteOffset + 8, 4).getUint32(0);
  if (version !== snapshotFormatVersion) {
    throw new StorageError(
      StorageErrorCode.formatUnsupported,
      `Cannot use the state snapshot: its format version is ${version} and this build reads ${snapshotFormatVersion}. Restore it with a Coffer build that reads it`,
    );
  }
  return prefix;
}

/** Reads the next whole frame; undefined when the stream ended cleanly between frames. */
async function readFrame(queue: ChunkQueue, position: number): Promise<Uint8Array | undefined> {
  if (!(await queue.fill(1))) {
    return undefined;
  }
  if (!(await queue.fill(frameHeaderBytes))) {
    throw truncated(`inside the header of chunk ${position}`);
  }
  const bodyLength = new DataView(queue.peek(frameHeaderBytes).buffer).getUint32(5);
  if (bodyLength > frameBodyBytesMax) {
    throw corrupt(position, `declares a body of ${bodyLength} bytes, above ${frameBodyBytesMax}`);
  }
  const frameBytes = frameHeaderBytes + bodyLength + digestBytes;
  if (!(await queue.fill(frameBytes))) {
    throw truncated(`inside chunk ${position}`);
  }
  return queue.take(frameBytes);
}

/** Checks a frame's hash, number and type; returns its type, body and digest. */
function openFrame(
  frame: Uint8Array,
  position: number,
  progress: Progress,
): { type: number; body: Uint8Array; digest: Uint8Array } {
  const sealed = frame.byteLength - digestBytes;
  const digest = sha256(frame.subarray(0, sealed));
  if (Buffer.compare(digest, frame.subarray(sealed)) !== 0) {
    throw corrupt(position, 'fails its SHA-256 check');
  }
  const view = new DataView(frame.buffer, frame.byteOffset, frameHeaderBytes);
  const type = view.getUint8(0);
  const seq = view.getUint32(1);
  if (seq !== position) {
    throw corrupt(position, `is numbered ${seq}`);
  }
  const allowed = allowedTypes(progress);
  if (!allowed.includes(type)) {
    const expected = allowed.map((t) => `"${frameNames[t] ?? t}"`).join(' or ');
    const actual = `"${frameNames[type] ?? type}"`;
    throw corrupt(position, `is of type ${actual} where one of type ${expected} belongs`);
  }
  return { type, body: frame.subarray(frameHeaderBytes, sealed), digest };
}

/** Checks the end frame against everything read before it. */
function checkEnd(
  end: { frame: Uint8Array; body: Uint8Array; position: number },
  hashes: StreamHashes,
  records: RecordParser,
): void {
  if (end.body.byteLength !== endBodyBytes) {
    throw corrupt(
      end.position,
      `is an end chunk of ${end.body.byteLength} bytes, not ${endBodyBytes}`,
    );
  }
  const view = new DataView(end.body.buffer, end.body.byteOffset, 8);
  const keyCount = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
  if (keyCount !== records.count) {
    throw corrupt(end.position, `counts ${keyCount} keys but the stream holds ${records.count}`);
  }
  const { whole, hmac } = hashes.finish(end.frame.subarray(0, frameHeaderBytes), keyCount);
  if (!Buffer.from(whole).equals(end.body.subarray(8, 8 + digestBytes))) {
    throw corrupt(end.position, 'does not match the stream: the whole-stream SHA-256 check fails');
  }
  if (!timingSafeEqual(hmac, end.body.subarray(8 + digestBytes))) {
    throw new StorageError(
      StorageErrorCode.snapshotAuthFailed,
      'Cannot use the state snapshot: its HMAC does not verify, so it was written under another key or forged. Check that it comes from this cluster and its keyring; the current state was not changed',
    );
  }
}

/** Checks the end frame and that nothing follows it; returns what the stream held. */
async function finishStream(
  end: { frame: Uint8Array; body: Uint8Array; position: number },
  state: { hashes: StreamHashes; queue: ChunkQueue; progress: Progress },
): Promise<VerifiedSnapshot> {
  const { manifest, sections, records } = state.progress;
  if (manifest === undefined || sections === undefined || records === undefined) {
    throw corrupt(end.position, 'ends a stream without a manifest');
  }
  checkEnd(end, state.hashes, records);
  if (await state.queue.fill(1)) {
    throw corrupt(end.position, 'is followed by more bytes');
  }
  return {
    manifest: { ...manifest, keyCount: records.count },
    sections: sections.sections,
    chunkCount: end.position + 1,
    sizeBytes: state.queue.consumedBytes,
  };
}

/** Dispatches one checked frame. */
async function takeFrame(
  progress: Progress,
  frame: { type: number; body: Uint8Array },
  onRecords: ReadSnapshotOptions['onRecords'],
): Promise<void> {
  switch (frame.type) {
    case FrameType.manifest: {
      const manifest = decodeManifest(frame.body);
      progress.manifest = manifest;
      progress.sections = new SectionFiller(manifest);
      progress.records = new RecordParser(manifest);
      return;
    }
    case FrameType.section:
      progress.sections?.fill(frame.body);
      return;
    default: {
      const records = progress.records?.parse(frame.body) ?? [];
      await onRecords?.(records);
    }
  }
}

/**
 * Reads and verifies a snapshot from chunks. Resolves only when every check passed; rejects
 * with a typed error naming the chunk otherwise.
 */
export async function readSnapshot(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ReadSnapshotOptions,
): Promise<VerifiedSnapshot> {
  const hashes = new StreamHashes(snapshotKeyObject(options.key));
  const queue = new ChunkQueue(chunks);
  try {
    hashes.update(await readPrefix(queue));
    const progress: Progress = { manifest: undefined, sections: undefined, records: undefined };
    for (let position = 0; ; position++) {
      const frame = await readFrame(queue, position);
      if (frame === undefined) {
        throw truncated(
          position === 0 ? 'after its prefix' : `after chunk ${position - 1}, before its end chunk`,
        );
      }
      const opened = openFrame(frame, position, progress);
      if (opened.type === FrameType.end) {
        return await finishStream(
          { frame, body: opened.body, position },
          { hashes, queue, progress },
        );
      }
      hashes.update(opened.digest);
      try {
        await takeFrame(progress, opened, options.onRecords);
      } catch (error) {
        throw error instanceof ByteReadError
          ? corrupt(position, `does not parse: ${error.message}`)
          : error;
      }
    }
  } finally {
    await queue.close();
  }
}

/**
 * Verifies a snapshot without restoring it (an operator checking a backup): every check of a
 * restore, nothing written. Resolves with the manifest and sections; rejects like a restore.
 */
export async function verifySnapshot(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: { readonly key: SnapshotKey },
): Promise<VerifiedSnapshot> {
  const verified = await readSnapshot(chunks, { key: options.key });
  const sessions = verified.sections.get(sessionSectionName);
  if (sessions !== undefined) {
    // Checks every session record as a restore would.
    decodeSessionSection(sessions);
  }
  return verified;
}
