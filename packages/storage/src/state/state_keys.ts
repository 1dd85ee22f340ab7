/**
 * The keyspace of the state database. The first byte of every LevelDB key says whose it is:
 *
 *   0x00 | name      metadata, written only by the store (0x00 0x01: the state record)
 *   0x01 | key       a user key: the UTF-8 bytes of the path, after the prefix byte
 *   0x02 | u64 id    a client session record (session_record.ts), by client id, big-endian
 *                    (0x00 0x02 is the session meta record: clock, expiry list, count)
 *
 * Invariant: every user key is stored under 0x01, so no path, whatever its bytes, can name a
 * metadata record; and the order of user keys in LevelDB is the byte order of their UTF-8,
 * which is also the code point order of the paths.
 */
import { utf8Bytes } from './byte_writer.ts';

/** The prefix byte of the store's own records. */
export const metaPrefix = 0x00;
/** The prefix byte of user keys. */
export const dataPrefix = 0x01;

/** The prefix byte of client session records: no path can produce it (paths sit under 0x01). */
export const sessionPrefix = 0x02;

/** The key of the state record: format, applied index and term. */
export const stateRecordKey = Uint8Array.of(metaPrefix, 0x01);
/** The key of the session meta record: session clock, expiry list ends, session count. */
export const sessionMetaKey = Uint8Array.of(metaPrefix, 0x02);

/** A LevelDB key range: lower bound inclusive or exclusive, upper bound exclusive. */
export interface KeyRange {
  readonly gte?: Uint8Array;
  readonly gt?: Uint8Array;
  readonly lt: Uint8Array;
}

/** Every user key. */
export const dataRange: KeyRange = {
  gte: Uint8Array.of(dataPrefix),
  lt: Uint8Array.of(dataPrefix + 1),
};

/** Every client session record. */
export const sessionRange: KeyRange = {
  gte: Uint8Array.of(sessionPrefix),
  lt: Uint8Array.of(sessionPrefix + 1),
};

/** The LevelDB key of the session record of clientId (a positive safe integer). */
export function sessionKey(clientId: number): Uint8Array {
  const key = new Uint8Array(9);
  const view = new DataView(key.buffer);
  key[0] = sessionPrefix;
  view.setUint32(1, Math.floor(clientId / 2 ** 32));
  view.setUint32(5, clientId % 2 ** 32);
  return key;
}

/** The client id a session record key names, or undefined when key is not one. */
export function sessionKeyClientId(key: Uint8Array): number | undefined {
  if (key.byteLength !== 9 || key[0] !== sessionPrefix) {
    return undefined;
  }
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const id = view.getUint32(1) * 2 ** 32 + view.getUint32(5);
  return Number.isSafeInteger(id) && id >= 1 ? id : undefined;
}

/** The LevelDB key of a user key given as UTF-8 bytes. */
export function dataKey(keyBytes: Uint8Array): Uint8Array {
  const key = new Uint8Array(keyBytes.byteLength + 1);
  key[0] = dataPrefix;
  key.set(keyBytes, 1);
  return key;
}

/**
 * The LevelDB key of a user key given as text: dataKey(utf8Bytes(key)), in one allocation and
 * without an encoder call when key is ASCII (the common case).
 */
export function dataKeyOf(key: string): Uint8Array {
  const length = key.length;
  const out = new Uint8Array(length + 1);
  out[0] = dataPrefix;
  for (let i = 0; i < length; i++) {
    const code = key.charCodeAt(i);
    if (code >= 0x80) {
      return dataKey(utf8Bytes(key));
    }
    out[i + 1] = code;
  }
  return out;
}

/** The UTF-8 bytes of the user key a LevelDB data key holds (a view, not a copy). */
export function userKeyBytes(key: Uint8Array): Uint8Array {
  return key.subarray(1);
}

/**
 * The smallest key above every key that starts with prefix, or undefined when there is none
 * (a prefix of only 0xff bytes).
 */
function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  for (let i = prefix.byteLength - 1; i >= 0; i--) {
    const byte = prefix[i] ?? 0;
    if (byte < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = byte + 1;
      return end;
    }
  }
  return undefined;
}

/**
 * The range of user keys that start with prefixBytes and come after afterBytes (when given),
 * for a page of a listing.
 */
export function listRange(prefixBytes: Uint8Array, afterBytes: Uint8Array | undefined): KeyRange {
  const start = dataKey(prefixBytes);
  // NB: the data prefix byte is below 0xff, so a data key prefix always has an end.
  const lt = prefixEnd(start) ?? Uint8Array.of(dataPrefix + 1);
  if (afterBytes === undefined) {
    return { gte: start, lt };
  }
  const after = dataKey(afterBytes);
  return Buffer.compare(after, start) < 0 ? { gte: start, lt } : { gt: after, lt };
}

/** A printable, quoted name for a LevelDB key, for error messages (paths are not secret). */
export function describeKey(key: Uint8Array): string {
  if (key[0] === dataPrefix) {
    return JSON.stringify(Buffer.from(userKeyBytes(key)).toString('utf8'));
  }
  if (Buffer.from(key).equals(stateRecordKey)) {
    return '"<state record>"';
  }
  if (Buffer.from(key).equals(sessionMetaKey)) {
    return '"<session meta record>"';
  }
  const clientId = sessionKeyClientId(key);
  if (clientId !== undefined) {
    return `"<session of client ${clientId}>"`;
  }
  return `"<key 0x${Buffer.from(key).toString('hex')}>"`;
}
