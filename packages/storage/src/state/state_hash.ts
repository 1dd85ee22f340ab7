/**
 * A digest of the whole state, to compare replicas: two stores that applied the same entries
 * (however batched), or a store and its restored copy, give the same hash. It covers the
 * applied index and term, every user key with its version and value, in key order, and the
 * number of keys; every record is checked against its CRC on the way.
 *
 *   SHA-256( "coffer-state-hash-v1" | u64 index | u64 term
 *            | (u16 keyLength | key | u64 version | u32 valueLength | value) * n | u64 n
 *            [ | session section ] )
 *
 * The client session table (session_section.ts: the meta record and every session record, as
 * stored) follows when the state ever applied a session entry; states without one hash as
 * before.
 */
import { createHash } from 'node:crypto';

import { ByteWriter } from './byte_writer.ts';
import type { StateReader } from './state_database.ts';
import { readSessionSection } from './session_section.ts';
import { dataRange } from './state_keys.ts';
import { decodeValueRecord, type StateMeta } from './state_record.ts';

/** The hex SHA-256 of the state that reader sees, whose state record is meta. */
export async function hashState(
  reader: StateReader,
  meta: StateMeta,
  location: string,
): Promise<string> {
  const hash = createHash('sha256');
  const head = new ByteWriter(64);
  head.bytes(Buffer.from('coffer-state-hash-v1'));
  head.u64(meta.appliedIndex).u64(meta.appliedTerm);
  hash.update(head.finish());
  let count = 0;
  for await (const slice of reader.scan(dataRange)) {
    const writer = new ByteWriter(64 * 1024);
    for (const [key, record] of slice) {
      const { version, value } = decodeValueRecord(key, record, location);
      writer
        .u16(key.byteLength - 1)
        .bytes(key.subarray(1))
        .u64(version);
      writer.u32(value.byteLength).bytes(value);
      count++;
    }
    hash.update(writer.finish());
  }
  hash.update(new ByteWriter(8).u64(count).finish());
  const sessions = await readSessionSection(reader, location);
  if (sessions !== undefined) {
    hash.update(sessions.data);
  }
  return hash.digest('hex');
}
