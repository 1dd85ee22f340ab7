/**
 * The state snapshot format: one byte stream, cut into chunks, that serves both Raft
 * InstallSnapshot and operator backups. docs/design/storage.md gives the full layout; in short:
 *
 *   stream    prefix | manifest frame | section frame * | data frame * | end frame
 *   prefix    "COFFSNAP" | u32 formatVersion (1)
 *   frame     u8 type | u32 seq | u32 bodyLength | body | sha256(type..body) [32]
 *   manifest  u64 index | u64 term | u64 keyringTerm
 *             | u32 membershipLength | membership
 *             | u16 sectionCount | (u16 nameLength | name | u32 byteLength) * sectionCount
 *   section   the bytes of every section in manifest order, concatenated, then cut into frames
 *   data      (u16 keyLength | key | u32 valueLength | u64 version | value) * (1 or more)
 *   end       u64 keyCount | streamSha256 [32] | hmac [32]
 *
 * seq numbers the frames from 0 (the manifest). With d(i) the SHA-256 ending frame i:
 * streamSha256 = SHA-256(prefix | d(0) | ... | d(n-1)) over the frames before the end frame,
 * hmac = HMAC-SHA256(key, prefix | d(0) | ... | d(n-1) | end header | keyCount | streamSha256).
 * The key count travels in the end frame: the writer knows it once it has read every key (the
 * state keeps no count, see state_record.ts), and the HMAC covers it like the rest.
 * A writer emits one frame per chunk (the prefix rides with the manifest); a reader accepts
 * any cut of the stream.
 */
import type { LogIndex, Term } from '@coffer/raft';

import { ByteReader, ByteReadError } from './byte_reader.ts';
import { ByteWriter, utf8Bytes } from './byte_writer.ts';
import { stateKeyBytesMax, stateValueBytesMax } from './state_command.ts';

/** The snapshot format version this build writes and reads. */
export const snapshotFormatVersion = 1;
/** The first eight bytes of every snapshot. */
export const snapshotMagic = Uint8Array.from(Buffer.from('COFFSNAP', 'latin1'));
/** Bytes of the prefix: magic and format version. */
export const prefixBytes = snapshotMagic.byteLength + 4;
/** Bytes of a frame header: type, seq, body length. */
export const frameHeaderBytes = 9;
/** Bytes of a SHA-256 (and HMAC-SHA256) digest. */
export const digestBytes = 32;
/** The body size a writer aims at for section and data frames, unless told otherwise. */
export const chunkSizeBytesDefault = 1024 * 1024;
/** The largest record of a data frame. */
export const recordBytesMax = 2 + stateKeyBytesMax + 4 + 8 + stateValueBytesMax;
/** The largest frame body a reader accepts (a larger one is corrupt). */
export const frameBodyBytesMax = 4 * 1024 * 1024;
/** The largest membership blob. */
export const membershipBytesMax = 1024 * 1024;
/** The most extra sections. */
export const sectionCountMax = 64;
/** The longest section name, in UTF-8 bytes. */
export const sectionNameBytesMax = 255;
/** The most bytes of all extra sections together. */
export const sectionBytesMax = 64 * 1024 * 1024;
/** Bytes of the end frame's body. */
export const endBodyBytes = 8 + digestBytes + digestBytes;

/** Frame types, in the order they appear. */
export const FrameType = { manifest: 1, section: 2, data: 3, end: 4 } as const;
/** Union of {@link FrameType} values. */
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** An extra section's name and size, as the manifest lists it. */
export interface SnapshotSectionEntry {
  readonly name: string;
  readonly byteLength: number;
}

/** What a snapshot holds, from its manifest. */
export interface SnapshotManifest {
  readonly formatVersion: number;
  /** The Raft index and term of the last entry the state had applied. */
  readonly index: LogIndex;
  readonly term: Term;
  /**
   * The number of user keys in the snapshot (from the end frame). NB: client session records
   * travel in the store's own section (session_section.ts) and are not counted.
   */
  readonly keyCount: number;
  /** The keyring term the values were written under (supplied by core; opaque here). */
  readonly keyringTerm: number;
  /** The cluster membership at index (supplied by the caller; opaque here). */
  readonly membership: Uint8Array;
  /**
   * The named extra sections, in stream order: the store's client session table
   * ("coffer.storage.sessions", first when present), then the caller's.
   */
  readonly sections: readonly SnapshotSectionEntry[];
}

/** What the manifest frame itself holds: everything but the key count. */
export type ManifestHeader = Omit<SnapshotManifest, 'keyCount'>;

/** The stream prefix. */
export function encodePrefix(): Uint8Array {
  const prefix = new Uint8Array(prefixBytes);
  prefix.set(snapshotMagic);
  new DataView(prefix.buffer).setUint32(snapshotMagic.byteLength, snapshotFormatVersion);
  return prefix;
}

/** Why manifest cannot be written, or undefined when it can. */
export function manifestProblem(manifest: ManifestHeader): string | undefined {
  if (manifest.membership.byteLength > membershipBytesMax) {
    return `the membership is ${manifest.membership.byteLength} bytes, above ${membershipBytesMax}`;
  }
  if (manifest.sections.length > sectionCountMax) {
    return `${manifest.sections.length} sections, above ${sectionCountMax}`;
  }
  const names = new Set(manifest.sections.map((section) => section.name));
  if (names.size !== manifest.sections.length) {
    return 'two sections have the same name';
  }
  for (const { name } of manifest.sections) {
    const length = utf8Bytes(name).byteLength;
    if (length === 0 || length > sectionNameBytesMax) {
      return `section name ${JSON.stringify(name.slice(0, 64))} is not 1..${sectionNameBytesMax} bytes`;
    }
  }
  const total = manifest.sections.reduce((n, section) => n + section.byteLength, 0);
  return total > sectionBytesMax
    ? `the sections hold ${total} bytes, above ${sectionBytesMax}`
    : undefined;
}

/** The manifest frame's body. */
export function encodeManifest(manifest: ManifestHeader): Uint8Array {
  const writer = new ByteWriter(64 + manifest.membership.byteLength);
  writer.u64(manifest.index).u64(manifest.term).u64(manifest.keyringTerm);
  writer.u32(manifest.membership.byteLength).bytes(manifest.membership);
  writer.u16(manifest.sections.length);
  for (const section of manifest.sections) {
    const name = utf8Bytes(section.name);
    writer.u16(name.byteLength).bytes(name).u32(section.byteLength);
  }
  return writer.finish();
}

function readSections(reader: ByteReader): SnapshotSectionEntry[] {
  const count = reader.u16('section count');
  if (count > sectionCountMax) {
    throw new ByteReadError(`section count ${count} is above ${sectionCountMax}`);
  }
  const sections: SnapshotSectionEntry[] = [];
  for (let i = 0; i < count; i++) {
    const nameLength = reader.u16(`section ${i} name length`);
    if (nameLength === 0 || nameLength > sectionNameBytesMax) {
      throw new ByteReadError(
        `section ${i} name length ${nameLength} is outside 1..${sectionNameBytesMax}`,
      );
    }
    const name = reader.utf8(nameLength, `section ${i} name`);
    sections.push({ name, byteLength: reader.u32(`section ${i} length`) });
  }
  return sections;
}

/**
 * Decodes the manifest frame's body; throws ByteReadError when it does not parse or breaks a
 * limit (the reader reports it as a corrupt chunk).
 */
export function decodeManifest(body: Uint8Array): ManifestHeader {
  const reader = new ByteReader(body);
  const index = reader.u64('index') as LogIndex;
  const term = reader.u64('term') as Term;
  const keyringTerm = reader.u64('keyring term');
  const membershipLength = reader.u32('membership length');
  if (membershipLength > membershipBytesMax) {
    throw new ByteReadError(`membership length ${membershipLength} is above ${membershipBytesMax}`);
  }
  // A plain copy: the chunk may be a Buffer, and the caller keeps the manifest.
  const membership = new Uint8Array(reader.bytes(membershipLength, 'membership'));
  const sections = readSections(reader);
  reader.end('the manifest');
  const manifest = {
    formatVersion: snapshotFormatVersion,
    index,
    term,
    keyringTerm,
    membership,
    sections,
  };
  const problem = manifestProblem(manifest);
  if (problem !== undefined) {
    throw new ByteReadError(problem);
  }
  return manifest;
}
