/**
 * The on-disk layout of the Raft log in LevelDB: keys, the checksummed record frame around
 * every value, and the bodies of the hard state and log state records. Pure functions; the
 * store does the I/O.
 *
 * Keys (one prefix byte, then fixed-width big-endian numbers, so that LevelDB's byte order is
 * numeric order):
 *   0x01                          hard state      f64 term | f64 vote | f64 commit
 *   0x02                          log state       see {@link LogState}
 *   0x03 | u64 gen | u32 seq      snapshot piece  raw snapshot bytes, piece seq of generation gen
 *   0x05 | u64 first              entry run       encodeEntries() from @coffer/raft/node: the
 *                                                 entries first, first+1, … of one write
 *
 * Record frame (every value): u8 frameVersion | u32 crc | u32 bodyLength | body, where crc is
 * CRC-32 (node:zlib) over the key, the version byte, the length and the body. Covering the key
 * catches a value that LevelDB returns under the wrong key, not only flipped bits.
 *
 * Invariant: decode(encode(x)) equals x; anything else read back gives
 * COFFER_STORAGE_CORRUPT_RECORD naming the record, and is never used (STYLE.md 5.8).
 */
import { crc32 } from 'node:zlib';

import type { HardState, LogIndex, NodeId, SnapshotMetadata, Term } from '@coffer/raft';

import { StorageError, StorageErrorCode } from './errors.ts';

/** The version byte of the record frame. */
export const frameVersion = 1;
const frameHeaderBytes = 9;
const logStateVersion = 1;

const prefixHardState = 0x01;
const prefixLogState = 0x02;
const prefixPiece = 0x03;
// NB: 0x04 held one entry per record before runs; no released version wrote it.
const prefixRun = 0x05;
const twoTo32 = 2 ** 32;

/** The key of the hard state record. */
export const hardStateKey = Uint8Array.of(prefixHardState);
/** The key of the log state record. */
export const logStateKey = Uint8Array.of(prefixLogState);
/** The key range that holds every snapshot piece, for a scan. */
export const pieceRange = { gte: Uint8Array.of(prefixPiece), lt: Uint8Array.of(prefixPiece + 1) };
/** The key ranges no record of this version lies in (everything outside the prefixes above). */
export const unknownRanges = [
  { gte: Uint8Array.of(0), lt: Uint8Array.of(prefixHardState) },
  { gte: Uint8Array.of(prefixPiece + 1), lt: Uint8Array.of(prefixRun) },
  {
    gte: Uint8Array.of(prefixRun + 1),
    lt: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
  },
] as const;

/** The key range that holds every entry run, for a scan. */
export const runRange = { gte: Uint8Array.of(prefixRun), lt: Uint8Array.of(prefixRun + 1) };

/**
 * Where the log starts and which snapshot it rests on. `base` is the index and term just before
 * the first entry: the snapshot's own, or older when entries before the snapshot were kept.
 */
export interface LogState {
  readonly snapshot: SnapshotMetadata;
  readonly base: { readonly index: LogIndex; readonly term: Term };
  /** The generation whose pieces hold the snapshot data. */
  readonly generation: number;
  readonly pieceCount: number;
  readonly sizeBytes: number;
}

/** Thrown by body decoders; {@link decodeRecord} turns it into a typed StorageError. */
class BodyError extends Error {}

function writeU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, Math.floor(value / twoTo32));
  view.setUint32(offset + 4, value % twoTo32);
}

function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset) * twoTo32 + view.getUint32(offset + 4);
}

/** The key of the run of entries that starts at index first. */
export function runKey(first: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = prefixRun;
  writeU64(new DataView(key.buffer), 1, first);
  return key;
}

/** The key of piece seq of snapshot generation. */
export function pieceKey(generation: number, seq: number): Uint8Array {
  const key = new Uint8Array(13);
  key[0] = prefixPiece;
  const view = new DataView(key.buffer);
  writeU64(view, 1, generation);
  view.setUint32(9, seq);
  return key;
}

/** The first index a run key names, or undefined when key is not one. */
export function parseRunKey(key: Uint8Array): number | undefined {
  if (key.byteLength !== 9 || key[0] !== prefixRun) {
    return undefined;
  }
  return readU64(new DataView(key.buffer, key.byteOffset, key.byteLength), 1);
}

/** The generation and sequence number a piece key names, or undefined when key is not one. */
export function parsePieceKey(key: Uint8Array): { generation: number; seq: number } | undefined {
  if (key.byteLength !== 13 || key[0] !== prefixPiece) {
    return undefined;
  }
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  return { generation: readU64(view, 1), seq: view.getUint32(9) };
}

/** A readable name for a key, for error messages: "entry-run/12", "snapshot-piece/3/0". */
export function keyName(key: Uint8Array): string {
  const first = parseRunKey(key);
  if (first !== undefined) {
    return `entry-run/${first}`;
  }
  const piece = parsePieceKey(key);
  if (piece !== undefined) {
    return `snapshot-piece/${piece.generation}/${piece.seq}`;
  }
  if (key.byteLength === 1 && key[0] === prefixHardState) {
    return 'hard-state';
  }
  if (key.byteLength === 1 && key[0] === prefixLogState) {
    return 'log-state';
  }
  return `unknown/${Buffer.from(key).toString('hex')}`;
}

function checksum(key: Uint8Array, value: Uint8Array): number {
  let crc = crc32(key);
  crc = crc32(value.subarray(0, 1), crc);
  crc = crc32(value.subarray(5, frameHeaderBytes), crc);
  return crc32(value.subarray(frameHeaderBytes), crc);
}

/** Frames body as the value stored under key. */
export function encodeRecord(key: Uint8Array, body: Uint8Array): Uint8Array {
  const value = new Uint8Array(frameHeaderBytes + body.byteLength);
  const view = new DataView(value.buffer);
  view.setUint8(0, frameVersion);
  view.setUint32(5, body.byteLength);
  value.set(body, frameHeaderBytes);
  view.setUint32(1, checksum(key, value));
  return value;
}

/** The problem with a stored value, or undefined when its frame is intact. */
function frameProblem(key: Uint8Array, value: Uint8Array): string | undefined {
  if (value.byteLength < frameHeaderBytes) {
    return `it is truncated to ${value.byteLength} bytes, shorter than its ${frameHeaderBytes}-byte header`;
  }
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  if (view.getUint8(0) !== frameVersion) {
    return `its frame version is ${view.getUint8(0)}, not ${frameVersion}`;
  }
  const length = view.getUint32(5);
  if (length !== value.byteLength - frameHeaderBytes) {
    return `its length field says ${length} bytes but ${value.byteLength - frameHeaderBytes} are stored (truncated or extended)`;
  }
  const stored = view.getUint32(1);
  const computed = checksum(key, value);
  if (stored !== computed) {
    return `its checksum is 0x${stored.toString(16)} but its bytes give 0x${computed.toString(16)}`;
  }
  return undefined;
}

/** The typed error for a record that fails validation. */
export function corruptRecord(key: Uint8Array, location: string, problem: string): StorageError {
  return new StorageError(
    StorageErrorCode.corruptRecord,
    `Cannot use record "${keyName(key)}" in "${location}": ${problem}; it was not applied. Restore this node's data from a healthy peer`,
  );
}

/**
 * Checks the frame of a stored value and decodes its body. A missing, truncated, corrupted or
 * undecodable record throws COFFER_STORAGE_CORRUPT_RECORD naming the key.
 */
export function decodeRecord<T>(
  record: { readonly key: Uint8Array; readonly value: Uint8Array | undefined },
  location: string,
  decodeBody: (body: Uint8Array) => T,
): T {
  const { key, value } = record;
  if (value === undefined) {
    throw corruptRecord(key, location, 'it is missing');
  }
  const problem = frameProblem(key, value);
  if (problem !== undefined) {
    throw corruptRecord(key, location, problem);
  }
  try {
    return decodeBody(value.subarray(frameHeaderBytes));
  } catch (error) {
    if (error instanceof BodyError) {
      throw corruptRecord(key, location, error.message);
    }
    throw error;
  }
}

/** A record body that decoders reject instead of using (for the entry body, whose codec is raft's). */
export function bodyError(message: string): Error {
  return new BodyError(message);
}

class BodyReader {
  readonly #view: DataView;
  #offset = 0;

  constructor(body: Uint8Array) {
    this.#view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }

  #need(bytes: number, what: string): void {
    if (this.#offset + bytes > this.#view.byteLength) {
      throw new BodyError(`its ${what} runs past the end of the body`);
    }
  }

  u8(what: string): number {
    this.#need(1, what);
    const value = this.#view.getUint8(this.#offset);
    this.#offset += 1;
    return value;
  }

  u32(what: string): number {
    this.#need(4, what);
    const value = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return value;
  }

  count(what: string): number {
    this.#need(8, what);
    const value = this.#view.getFloat64(this.#offset);
    this.#offset += 8;
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new BodyError(`its ${what} is ${value}, not a non-negative integer`);
    }
    return value;
  }

  ids(what: string): NodeId[] {
    const n = this.u32(`${what} count`);
    this.#need(n * 8, what);
    return Array.from({ length: n }, () => this.count(what) as NodeId);
  }

  end(): void {
    if (this.#offset !== this.#view.byteLength) {
      throw new BodyError(`its body has ${this.#view.byteLength - this.#offset} trailing bytes`);
    }
  }
}

class BodyWriter {
  readonly #parts: number[] = [];
  readonly #kinds: ('u8' | 'u32' | 'f64')[] = [];

  u8(value: number): this {
    return this.#push('u8', value);
  }

  u32(value: number): this {
    return this.#push('u32', value);
  }

  f64(value: number): this {
    return this.#push('f64', value);
  }

  ids(values: readonly number[]): this {
    this.u32(values.length);
    for (const value of values) {
      this.f64(value);
    }
    return this;
  }

  finish(): Uint8Array {
    const sizes = { u8: 1, u32: 4, f64: 8 } as const;
    const out = new Uint8Array(this.#kinds.reduce((n, kind) => n + sizes[kind], 0));
    const view = new DataView(out.buffer);
    let offset = 0;
    this.#kinds.forEach((kind, i) => {
      const value = this.#parts[i] ?? 0;
      if (kind === 'u8') {
        view.setUint8(offset, value);
      } else if (kind === 'u32') {
        view.setUint32(offset, value);
      } else {
        view.setFloat64(offset, value);
      }
      offset += sizes[kind];
    });
    return out;
  }

  #push(kind: 'u8' | 'u32' | 'f64', value: number): this {
    this.#kinds.push(kind);
    this.#parts.push(value);
    return this;
  }
}

/** Encodes the hard state body. */
export function encodeHardState(hardState: HardState): Uint8Array {
  return new BodyWriter().f64(hardState.term).f64(hardState.vote).f64(hardState.commit).finish();
}

/** Decodes the hard state body; throws a body error that decodeRecord reports. */
export function decodeHardState(body: Uint8Array): HardState {
  const reader = new BodyReader(body);
  const hardState = {
    term: reader.count('term') as Term,
    vote: reader.count('vote') as NodeId,
    commit: reader.count('commit') as LogIndex,
  };
  reader.end();
  return hardState;
}

/** Encodes the log state body. */
export function encodeLogState(state: LogState): Uint8Array {
  const { snapshot, base } = state;
  return new BodyWriter()
    .u8(logStateVersion)
    .f64(snapshot.index)
    .f64(snapshot.term)
    .ids(snapshot.confState.voters)
    .ids(snapshot.confState.learners)
    .f64(base.index)
    .f64(base.term)
    .f64(state.generation)
    .f64(state.pieceCount)
    .f64(state.sizeBytes)
    .finish();
}

/** Decodes the log state body, checking that the log base does not pass the snapshot. */
export function decodeLogState(body: Uint8Array): LogState {
  const reader = new BodyReader(body);
  const version = reader.u8('layout version');
  if (version !== logStateVersion) {
    throw new BodyError(`its layout version is ${version}, not ${logStateVersion}`);
  }
  const index = reader.count('snapshot index') as LogIndex;
  const term = reader.count('snapshot term') as Term;
  const confState = { voters: reader.ids('voters'), learners: reader.ids('learners') };
  const base = {
    index: reader.count('base index') as LogIndex,
    term: reader.count('base term') as Term,
  };
  const state = {
    snapshot: { index, term, confState },
    base,
    generation: reader.count('generation'),
    pieceCount: reader.count('piece count'),
    sizeBytes: reader.count('size'),
  };
  reader.end();
  if (base.index > index || base.term > term) {
    throw new BodyError(
      `its log base ${base.index} (term ${base.term}) passes snapshot ${index} (term ${term})`,
    );
  }
  return state;
}
