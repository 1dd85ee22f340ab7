/**
 * The client session table in a state snapshot. Snapshot data frames carry user keys only, so
 * the store adds its session records as one extra section of its own, written before the
 * caller's sections and consumed by the restore (it never reaches the caller):
 *
 *   section  u8 1 | u32 metaLength | session meta record
 *            | (u64 clientId | u32 recordLength | session record) * n, clientIds ascending
 *
 * Records travel as stored, CRC and all, so a restored table is byte for byte the one
 * snapshotted, and each is checked against its CRC when written and when restored. The section
 * is there only when the state has ever applied a session entry, so snapshots of states
 * without sessions stay as they were. NB: the section counts toward the 64 MiB cap on sections
 * (snapshot_format.ts); the manifest's key count counts user keys only.
 */
import { StorageError, StorageErrorCode } from '../errors.ts';
import { ByteReader, ByteReadError } from './byte_reader.ts';
import { ByteWriter } from './byte_writer.ts';
import type { RawWrite } from './session_apply.ts';
import { decodeSessionMeta, decodeSessionRecord } from './session_record.ts';
import type { StateReader } from './state_database.ts';
import { sessionKey, sessionKeyClientId, sessionMetaKey, sessionRange } from './state_keys.ts';
import { corruptStateRecord } from './state_record.ts';

/** The reserved section name; a caller's section may not use it. */
export const sessionSectionName = 'coffer.storage.sessions';
const sectionVersion = 1;

/** The session section of the state reader sees, or undefined when it never had sessions. */
export async function readSessionSection(
  reader: StateReader,
  location: string,
): Promise<{ name: string; data: Uint8Array } | undefined> {
  const meta = reader.getSync(sessionMetaKey);
  if (meta === undefined) {
    return undefined;
  }
  decodeSessionMeta(sessionMetaKey, meta, location);
  const writer = new ByteWriter(1024).u8(sectionVersion).u32(meta.byteLength).bytes(meta);
  for await (const slice of reader.scan(sessionRange)) {
    for (const [key, record] of slice) {
      const clientId = sessionKeyClientId(key);
      if (clientId === undefined) {
        throw corruptStateRecord(key, location, 'it is not a session key');
      }
      decodeSessionRecord(key, record, location);
      writer.u64(clientId).u32(record.byteLength).bytes(record);
    }
  }
  return { name: sessionSectionName, data: writer.finish() };
}

function corruptSection(problem: string): StorageError {
  return new StorageError(
    StorageErrorCode.snapshotCorrupt,
    `Cannot restore the snapshot's client session table: ${problem}. Fetch the snapshot again or use another copy`,
  );
}

/** Reads the section's records, checking each; throws for anything else. */
function readRecords(data: Uint8Array): RawWrite[] {
  const reader = new ByteReader(data);
  const version = reader.u8('the version');
  if (version !== sectionVersion) {
    throw new ByteReadError(`its version is ${version}, not ${sectionVersion}`);
  }
  const meta = Uint8Array.from(reader.bytes(reader.u32('the meta length'), 'the meta record'));
  decodeSessionMeta(sessionMetaKey, meta, 'the snapshot');
  const writes: RawWrite[] = [{ key: sessionMetaKey, value: meta }];
  let last = 0;
  while (reader.remaining() > 0) {
    const clientId = reader.u64('a client id');
    if (clientId <= last) {
      throw new ByteReadError(`client ${clientId} does not follow client ${last}`);
    }
    last = clientId;
    const key = sessionKey(clientId);
    const record = Uint8Array.from(reader.bytes(reader.u32('a record length'), 'a record'));
    decodeSessionRecord(key, record, 'the snapshot');
    writes.push({ key, value: record });
  }
  return writes;
}

/**
 * The records a session section holds, checked, ready to write into a restored state. Throws
 * COFFER_STORAGE_SNAPSHOT_CORRUPT when the section does not parse or a record fails its CRC.
 */
export function decodeSessionSection(data: Uint8Array): RawWrite[] {
  try {
    return readRecords(data);
  } catch (error) {
    if (error instanceof ByteReadError) {
      throw corruptSection(error.message);
    }
    if (error instanceof StorageError && error.code === StorageErrorCode.corruptRecord) {
      throw corruptSection('a record in it fails its check');
    }
    throw error;
  }
}
