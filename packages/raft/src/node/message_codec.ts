/**
 * The wire format of Raft messages and log entries: a versioned, length-checked binary layout
 * that every transport (in-memory for tests, mTLS for the cluster) and the log store share.
 *
 * Layout (big-endian). Numbers are float64 holding safe integers, checked on decode.
 *   message: u8 version | u8 type | f64 from, to, term, logTerm, index, commit, rejectHint
 *            | u8 flags (1 reject, 2 leaderTransfer, 4 snapshot) | bytes context
 *            | u32 entry count, entries | [snapshot chunk]
 *   entry:   f64 term, index | u8 type | bytes data
 *   chunk:   f64 index, term | ids voters | ids learners | f64 offsetBytes | u8 done | bytes data
 *   bytes:   u32 length | length bytes;   ids: u32 count | count × f64
 *
 * Invariant: decode(encode(m)) deep-equals m; decode of anything else returns a typed refusal.
 */
import {
  EntryType,
  MessageType,
  RaftErrorCode,
  type Entry,
  type LogIndex,
  type Message,
  type NodeId,
  type SnapshotChunk,
  type Term,
} from '../index.ts';

/** The version byte of the current layout. A peer that sends another version is refused. */
export const wireVersion = 1;

const messageTypes = Object.values(MessageType);
const entryTypes = Object.values(EntryType);
const flagReject = 1;
const flagLeaderTransfer = 2;
const flagSnapshot = 4;

/** The outcome of decoding bytes from outside. */
export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: RaftErrorCode; readonly message: string };

/**
 * Writes into one buffer of the exact size, computed before encoding (the *Size functions
 * below), so a message of many entries is allocated once and never copied.
 */
class Writer {
  readonly #buffer: Uint8Array;
  readonly #view: DataView;
  #length = 0;

  constructor(sizeBytes: number) {
    this.#buffer = new Uint8Array(sizeBytes);
    this.#view = new DataView(this.#buffer.buffer);
  }

  #reserve(n: number): void {
    if (this.#length + n > this.#buffer.byteLength) {
      throw new Error(
        `codec bug: encoding overran its computed size of ${this.#buffer.byteLength}`,
      );
    }
  }

  u8(value: number): void {
    this.#reserve(1);
    this.#view.setUint8(this.#length, value);
    this.#length += 1;
  }

  u32(value: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.#length, value);
    this.#length += 4;
  }

  f64(value: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.#length, value);
    this.#length += 8;
  }

  bytes(value: Uint8Array): void {
    this.u32(value.byteLength);
    this.#reserve(value.byteLength);
    this.#buffer.set(value, this.#length);
    this.#length += value.byteLength;
  }

  ids(values: readonly number[]): void {
    this.u32(values.length);
    for (const v of values) {
      this.f64(v);
    }
  }

  finish(): Uint8Array {
    if (this.#length !== this.#buffer.byteLength) {
      throw new Error(`codec bug: encoded ${this.#length} of ${this.#buffer.byteLength} bytes`);
    }
    return this.#buffer;
  }
}

/** Thrown inside the reader only; decode functions turn it into a refusal. */
class MalformedError extends Error {}

class Reader {
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(n: number, what: string): void {
    if (this.#offset + n > this.#bytes.byteLength) {
      throw new MalformedError(`${what} runs past the end at byte ${this.#offset}`);
    }
  }

  u8(what: string): number {
    this.#need(1, what);
    const v = this.#view.getUint8(this.#offset);
    this.#offset += 1;
    return v;
  }

  u32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return v;
  }

  count(what: string): number {
    this.#need(8, what);
    const v = this.#view.getFloat64(this.#offset);
    this.#offset += 8;
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new MalformedError(`${what} is not a non-negative integer`);
    }
    return v;
  }

  bytes(what: string): Uint8Array {
    const n = this.u32(what);
    this.#need(n, what);
    const v = this.#bytes.slice(this.#offset, this.#offset + n);
    this.#offset += n;
    return v;
  }

  ids(what: string): NodeId[] {
    const n = this.u32(what);
    this.#need(n * 8, what);
    const out: NodeId[] = [];
    for (let i = 0; i < n; i++) {
      out.push(this.count(what) as NodeId);
    }
    return out;
  }

  end(what: string): void {
    if (this.#offset !== this.#bytes.byteLength) {
      throw new MalformedError(
        `${what} has ${this.#bytes.byteLength - this.#offset} trailing bytes`,
      );
    }
  }
}

const entryFixedBytes = 8 + 8 + 1 + 4;
const messageFixedBytes = 1 + 1 + 7 * 8 + 1 + 4 + 4;

function entrySize(e: Entry): number {
  return entryFixedBytes + e.data.byteLength;
}

function chunkSize(c: SnapshotChunk): number {
  const { voters, learners } = c.metadata.confState;
  return 8 + 8 + 4 + voters.length * 8 + 4 + learners.length * 8 + 8 + 1 + 4 + c.data.byteLength;
}

function messageSize(m: Message): number {
  let size = messageFixedBytes + m.context.byteLength;
  for (const e of m.entries) {
    size += entrySize(e);
  }
  return m.snapshot === undefined ? size : size + chunkSize(m.snapshot);
}

function writeEntry(w: Writer, e: Entry): void {
  w.f64(e.term);
  w.f64(e.index);
  w.u8(entryTypes.indexOf(e.type));
  w.bytes(e.data);
}

function readEntry(r: Reader): Entry {
  const term = r.count('entry term') as Term;
  const index = r.count('entry index') as LogIndex;
  const type = entryTypes[r.u8('entry type')];
  if (type === undefined) {
    throw new MalformedError('entry type is unknown');
  }
  return { term, index, type, data: r.bytes('entry data') };
}

function writeChunk(w: Writer, c: SnapshotChunk): void {
  w.f64(c.metadata.index);
  w.f64(c.metadata.term);
  w.ids(c.metadata.confState.voters);
  w.ids(c.metadata.confState.learners);
  w.f64(c.offsetBytes);
  w.u8(c.done ? 1 : 0);
  w.bytes(c.data);
}

function readChunk(r: Reader): SnapshotChunk {
  const index = r.count('snapshot index') as LogIndex;
  const term = r.count('snapshot term') as Term;
  const voters = r.ids('snapshot voters');
  const learners = r.ids('snapshot learners');
  const offsetBytes = r.count('snapshot offset');
  const done = r.u8('snapshot done') === 1;
  return {
    metadata: { index, term, confState: { voters, learners } },
    offsetBytes,
    done,
    data: r.bytes('snapshot data'),
  };
}

/** Encodes a message for the wire. */
export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer(messageSize(m));
  w.u8(wireVersion);
  w.u8(messageTypes.indexOf(m.type));
  w.f64(m.from);
  w.f64(m.to);
  w.f64(m.term);
  w.f64(m.logTerm);
  w.f64(m.index);
  w.f64(m.commit);
  w.f64(m.rejectHint);
  w.u8(
    (m.reject ? flagReject : 0) |
      (m.leaderTransfer ? flagLeaderTransfer : 0) |
      (m.snapshot ? flagSnapshot : 0),
  );
  w.bytes(m.context);
  w.u32(m.entries.length);
  for (const e of m.entries) {
    writeEntry(w, e);
  }
  if (m.snapshot !== undefined) {
    writeChunk(w, m.snapshot);
  }
  return w.finish();
}

function readMessage(r: Reader): Message {
  const version = r.u8('version');
  if (version !== wireVersion) {
    throw new MalformedError(
      `wire version ${version} is not supported (this node speaks ${wireVersion})`,
    );
  }
  const type = messageTypes[r.u8('message type')];
  if (type === undefined) {
    throw new MalformedError('message type is unknown');
  }
  const from = r.count('from') as NodeId;
  const to = r.count('to') as NodeId;
  const term = r.count('term') as Term;
  const logTerm = r.count('logTerm') as Term;
  const index = r.count('index') as LogIndex;
  const commit = r.count('commit') as LogIndex;
  const rejectHint = r.count('rejectHint') as LogIndex;
  const flags = r.u8('flags');
  const context = r.bytes('context');
  const entryCount = r.u32('entry count');
  const entries: Entry[] = [];
  for (let i = 0; i < entryCount; i++) {
    entries.push(readEntry(r));
  }
  const snapshot = (flags & flagSnapshot) !== 0 ? readChunk(r) : undefined;
  r.end('message');
  return {
    type,
    from,
    to,
    term,
    logTerm,
    index,
    commit,
    rejectHint,
    context,
    entries,
    snapshot,
    reject: (flags & flagReject) !== 0,
    leaderTransfer: (flags & flagLeaderTransfer) !== 0,
  };
}

function decodeWith<T>(bytes: Uint8Array, read: (r: Reader) => T, what: string): DecodeResult<T> {
  try {
    return { ok: true, value: read(new Reader(bytes)) };
  } catch (error) {
    if (error instanceof MalformedError) {
      return {
        ok: false,
        code: RaftErrorCode.invalidMessage,
        message: `Drop ${what}: ${error.message}`,
      };
    }
    throw error;
  }
}

/** Decodes a message from the wire; malformed bytes give COFFER_RAFT_INVALID_MESSAGE. */
export function decodeMessage(bytes: Uint8Array): DecodeResult<Message> {
  return decodeWith(bytes, readMessage, 'undecodable message');
}

/**
 * Encodes a run of consecutive log entries (the log store's record body):
 * u32 count | entries, in the entry layout of messages.
 */
export function encodeEntries(entries: readonly Entry[]): Uint8Array {
  let size = 4;
  for (const e of entries) {
    size += entrySize(e);
  }
  const w = new Writer(size);
  w.u32(entries.length);
  for (const e of entries) {
    writeEntry(w, e);
  }
  return w.finish();
}

/** Decodes a run of entries; malformed bytes give a typed refusal. */
export function decodeEntries(bytes: Uint8Array): DecodeResult<Entry[]> {
  return decodeWith(
    bytes,
    (r) => {
      const count = r.u32('entry count');
      const entries: Entry[] = [];
      for (let i = 0; i < count; i++) {
        entries.push(readEntry(r));
      }
      r.end('entries');
      return entries;
    },
    'undecodable entries',
  );
}
