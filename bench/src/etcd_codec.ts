/**
 * The protobuf wire format of the few etcd messages the cluster benchmark sends and reads
 * (bench/proto/etcd_kv.proto), by hand: bench/package.json declares no .proto loader, and these
 * messages are a handful of bytes and varints. Encoders write the fields in field order;
 * the decoder reads any message into its fields by number and skips what it does not know.
 *
 * Validation: a truncated or malformed message throws (the caller counts a failed request).
 */

/** A decoded message: each field number with its values in order (varints as bigint). */
export type Fields = ReadonlyMap<number, readonly (bigint | Buffer)[]>;

const wireVarint = 0;
const wireFixed64 = 1;
const wireBytes = 2;
const wireFixed32 = 5;

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

function bytesField(field: number, value: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([...varint((field << 3) | wireBytes), ...varint(value.length)]),
    value,
  ]);
}

function boolField(field: number, value: boolean): Buffer {
  return value ? Buffer.from([(field << 3) | wireVarint, 1]) : Buffer.alloc(0);
}

/** PutRequest{key = 1, value = 2}. */
export function encodePutRequest(key: Buffer, value: Buffer): Buffer {
  return Buffer.concat([bytesField(1, key), bytesField(2, value)]);
}

/** RangeRequest{key = 1, serializable = 7}: serializable false is a linearizable read. */
export function encodeRangeRequest(key: Buffer, serializable: boolean): Buffer {
  return Buffer.concat([bytesField(1, key), boolField(7, serializable)]);
}

/** StatusRequest{}: no field. */
export function encodeStatusRequest(): Buffer {
  return Buffer.alloc(0);
}

function readVarint(buffer: Buffer, at: { offset: number }): bigint {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buffer[at.offset];
    if (byte === undefined || shift > 63n) {
      throw new Error('Cannot decode an etcd message: a varint runs past its end');
    }
    at.offset += 1;
    value |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) {
      return value;
    }
    shift += 7n;
  }
}

function skip(at: { offset: number }, bytes: number, length: number): void {
  if (at.offset + bytes > length) {
    throw new Error('Cannot decode an etcd message: a field runs past its end');
  }
  at.offset += bytes;
}

/** Reads every field of one message. */
export function decodeFields(buffer: Buffer): Fields {
  const fields = new Map<number, (bigint | Buffer)[]>();
  const at = { offset: 0 };
  while (at.offset < buffer.length) {
    const tag = Number(readVarint(buffer, at));
    const field = tag >>> 3;
    const wire = tag & 7;
    let value: bigint | Buffer | undefined;
    if (wire === wireVarint) {
      value = readVarint(buffer, at);
    } else if (wire === wireBytes) {
      const length = Number(readVarint(buffer, at));
      const start = at.offset;
      skip(at, length, buffer.length);
      value = buffer.subarray(start, start + length);
    } else if (wire === wireFixed64 || wire === wireFixed32) {
      skip(at, wire === wireFixed64 ? 8 : 4, buffer.length);
    } else {
      throw new Error(`Cannot decode an etcd message: wire type ${wire} is not supported`);
    }
    if (value !== undefined) {
      const list = fields.get(field) ?? [];
      list.push(value);
      fields.set(field, list);
    }
  }
  return fields;
}

function bigintOf(fields: Fields, field: number): bigint {
  const value = fields.get(field)?.[0];
  return typeof value === 'bigint' ? value : 0n;
}

function messageOf(fields: Fields, field: number): Fields {
  const value = fields.get(field)?.[0];
  return decodeFields(Buffer.isBuffer(value) ? value : Buffer.alloc(0));
}

/** What the benchmark reads of a ResponseHeader. */
export interface EtcdHeader {
  readonly memberId: bigint;
  readonly raftTerm: bigint;
}

function headerOf(fields: Fields): EtcdHeader {
  const header = messageOf(fields, 1);
  return { memberId: bigintOf(header, 2), raftTerm: bigintOf(header, 4) };
}

/** PutResponse: its header. */
export function decodePutResponse(buffer: Buffer): EtcdHeader {
  return headerOf(decodeFields(buffer));
}

/** RangeResponse: the header and the values of the kvs found (KeyValue.value = 5). */
export function decodeRangeResponse(buffer: Buffer): { header: EtcdHeader; values: Buffer[] } {
  const fields = decodeFields(buffer);
  const values = (fields.get(2) ?? []).map((kv) => {
    const value = decodeFields(Buffer.isBuffer(kv) ? kv : Buffer.alloc(0)).get(5)?.[0];
    return Buffer.isBuffer(value) ? value : Buffer.alloc(0);
  });
  return { header: headerOf(fields), values };
}

/** StatusResponse: the answering member, the leader it believes in, and the Raft term. */
export interface EtcdStatus {
  readonly memberId: bigint;
  readonly leader: bigint;
  readonly raftTerm: bigint;
  readonly version: string;
}

/** StatusResponse{header = 1, version = 2, leader = 4, raft_term = 6}. */
export function decodeStatusResponse(buffer: Buffer): EtcdStatus {
  const fields = decodeFields(buffer);
  const version = fields.get(2)?.[0];
  return {
    memberId: headerOf(fields).memberId,
    leader: bigintOf(fields, 4),
    raftTerm: bigintOf(fields, 6),
    version: Buffer.isBuffer(version) ? version.toString('utf8') : '',
  };
}
