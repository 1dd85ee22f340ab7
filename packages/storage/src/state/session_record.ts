/**
 * The stored records of client sessions, sealed with a CRC-32 over key and bytes like every
 * other record of the state (state_record.ts):
 *
 *   session (0x02 | u64 clientId)
 *     u8 1 | u64 lastStampMs | u64 ackedBelow | u64 older | u64 newer
 *     | u16 n | (u64 sequence | u32 length | encoded ApplyResult) * n      | u32le crc
 *   session meta (0x00 0x02)
 *     u8 1 | u64 clockMs | u64 oldest | u64 newest | u64 count             | u32le crc
 *
 * The sessions form a doubly linked list in the order they were last used (older, newer; 0
 * ends it), oldest first. Stamps only grow (the clock is the largest stamp seen), so the list is
 * also in lastStampMs order, and expiring means looking at its oldest end only: a bounded,
 * deterministic sweep that needs point reads only, never an ordered scan.
 *
 * Invariant: responses are encoded in ascending sequence order, so equal tables give equal
 * bytes on every replica (stateHash compares them).
 */
import { ByteReader, ByteReadError } from './byte_reader.ts';
import { ByteWriter } from './byte_writer.ts';
import { corruptStateRecord, isSealed, seal } from './state_record.ts';

const sessionRecordVersion = 1;
const crcBytes = 4;

/** One client's session. */
export interface SessionRecord {
  /** The largest stamp of an entry that used the session. */
  lastStampMs: number;
  /** Responses below this sequence were acknowledged and dropped. */
  ackedBelow: number;
  /** The client used just before this one in the expiry list; 0: this is the oldest. */
  older: number;
  /** The client used just after this one; 0: this is the newest. */
  newer: number;
  /** Encoded results (apply_result.ts) of the requests not yet acknowledged, by sequence. */
  readonly responses: Map<number, Uint8Array>;
}

/** The session clock and the ends of the expiry list. */
export interface SessionMeta {
  /** The largest stamp any session entry carried: the replicated clock sessions expire by. */
  clockMs: number;
  /** The least recently used client; 0 when there is none. */
  oldest: number;
  /** The most recently used client; 0 when there is none. */
  newest: number;
  /** Live sessions. */
  count: number;
}

/** The session meta of a state that never saw a session entry. */
export function emptySessionMeta(): SessionMeta {
  return { clockMs: 0, oldest: 0, newest: 0, count: 0 };
}

function sealed(key: Uint8Array, writer: ByteWriter): Uint8Array {
  const body = writer.u32(0).finish();
  seal(key, body);
  return body;
}

/** The stored bytes of record under key. */
export function encodeSessionRecord(key: Uint8Array, record: SessionRecord): Uint8Array {
  const writer = new ByteWriter(64);
  writer.u8(sessionRecordVersion).u64(record.lastStampMs).u64(record.ackedBelow);
  writer.u64(record.older).u64(record.newer).u16(record.responses.size);
  const sequences = [...record.responses.keys()].sort((a, b) => a - b);
  for (const sequence of sequences) {
    const response = record.responses.get(sequence) ?? new Uint8Array(0);
    writer.u64(sequence).u32(response.byteLength).bytes(response);
  }
  return sealed(key, writer);
}

/** The stored bytes of the session meta record under key. */
export function encodeSessionMeta(key: Uint8Array, meta: SessionMeta): Uint8Array {
  const writer = new ByteWriter(48).u8(sessionRecordVersion).u64(meta.clockMs);
  return sealed(key, writer.u64(meta.oldest).u64(meta.newest).u64(meta.count));
}

/** Checks the CRC and version of a stored session record; returns a reader past the version. */
function openRecord(key: Uint8Array, bytes: Uint8Array, location: string): ByteReader {
  if (bytes.byteLength < 1 + crcBytes || !isSealed(key, bytes)) {
    throw corruptStateRecord(key, location, 'its checksum does not match its key and bytes');
  }
  if (bytes[0] !== sessionRecordVersion) {
    const problem = `its record version is ${bytes[0]}, not ${sessionRecordVersion}`;
    throw corruptStateRecord(key, location, problem);
  }
  const reader = new ByteReader(bytes.subarray(0, bytes.byteLength - crcBytes));
  reader.u8('the version');
  return reader;
}

function decoding<T>(key: Uint8Array, location: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ByteReadError) {
      throw corruptStateRecord(key, location, error.message);
    }
    throw error;
  }
}

/** Checks and decodes a stored session record (COFFER_STORAGE_CORRUPT_RECORD when damaged). */
export function decodeSessionRecord(
  key: Uint8Array,
  bytes: Uint8Array,
  location: string,
): SessionRecord {
  const reader = openRecord(key, bytes, location);
  return decoding(key, location, () => {
    const lastStampMs = reader.u64('the last stamp');
    const ackedBelow = reader.u64('the acknowledged sequence');
    const older = reader.u64('the older link');
    const newer = reader.u64('the newer link');
    const responses = new Map<number, Uint8Array>();
    const count = reader.u16('the response count');
    for (let i = 0; i < count; i++) {
      const sequence = reader.u64('a sequence');
      const length = reader.u32('a response length');
      // A copy: the record's bytes may be a view of a buffer LevelDB reuses.
      responses.set(sequence, Uint8Array.from(reader.bytes(length, 'a response')));
    }
    reader.end('the session record');
    return { lastStampMs, ackedBelow, older, newer, responses };
  });
}

/** Checks and decodes the stored session meta record. */
export function decodeSessionMeta(
  key: Uint8Array,
  bytes: Uint8Array,
  location: string,
): SessionMeta {
  const reader = openRecord(key, bytes, location);
  return decoding(key, location, () => {
    const meta = {
      clockMs: reader.u64('the clock'),
      oldest: reader.u64('the oldest client'),
      newest: reader.u64('the newest client'),
      count: reader.u64('the session count'),
    };
    reader.end('the session meta record');
    return meta;
  });
}
