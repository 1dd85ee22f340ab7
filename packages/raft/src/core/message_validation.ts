/**
 * Checks a message from a peer before the core looks at it (STYLE.md §5.8): a malformed or
 * oversized message is refused with a typed code and never touches state.
 */
import type { RaftConfig } from './config.ts';
import { accepted, refuse, RaftErrorCode, type RaftResult } from './errors.ts';
import {
  EntryType,
  MessageType,
  type Entry,
  type Message,
  type SnapshotMetadata,
} from './types.ts';

const messageTypes = new Set<string>(Object.values(MessageType));
const entryTypes = new Set<string>(Object.values(EntryType));

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function invalid(message: string): RaftResult {
  return refuse(RaftErrorCode.invalidMessage, message);
}

function checkHeader(m: Message, self: number): RaftResult {
  if (!messageTypes.has(m.type)) {
    return invalid(`Drop message of unknown type "${m.type}"`);
  }
  for (const field of ['from', 'to'] as const) {
    if (!isCount(m[field]) || m[field] === 0) {
      return invalid(`Drop ${m.type} message: field "${field}" is not a node id`);
    }
  }
  if (m.to !== self) {
    return invalid(`Drop ${m.type} message addressed to node ${m.to}: this is node ${self}`);
  }
  for (const field of ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) {
    if (!isCount(m[field])) {
      return invalid(`Drop ${m.type} message: field "${field}" is not a non-negative integer`);
    }
  }
  if (!(m.context instanceof Uint8Array) || !Array.isArray(m.entries)) {
    return invalid(`Drop ${m.type} message: context or entries have the wrong type`);
  }
  const flags: unknown[] = [m.reject, m.leaderTransfer];
  if (!flags.every((flag) => typeof flag === 'boolean')) {
    return invalid(`Drop ${m.type} message: field "reject" or "leaderTransfer" is not a boolean`);
  }
  if (m.term === 0) {
    return invalid(`Drop ${m.type} message from node ${m.from}: term 0 is reserved`);
  }
  return accepted;
}

function checkEntry(m: Message, entry: Entry, position: number): RaftResult {
  const raw: unknown = entry;
  if (typeof raw !== 'object' || raw === null) {
    return invalid(`Drop append from node ${m.from}: entry ${position} is not an object`);
  }
  const expected = m.index + 1 + position;
  if (!isCount(entry.index) || entry.index !== expected) {
    return invalid(
      `Drop append from node ${m.from}: entry ${position} has index ${entry.index}, expected ${expected}`,
    );
  }
  if (!isCount(entry.term) || entry.term > m.term || entry.term < m.logTerm) {
    return invalid(
      `Drop append from node ${m.from}: entry ${entry.index} has term ${entry.term} outside [${m.logTerm}, ${m.term}]`,
    );
  }
  if (!entryTypes.has(entry.type) || !(entry.data instanceof Uint8Array)) {
    return invalid(`Drop append from node ${m.from}: entry ${entry.index} is malformed`);
  }
  return accepted;
}

function checkEntries(m: Message, config: RaftConfig): RaftResult {
  if (m.entries.length === 0) {
    return accepted;
  }
  if (m.type !== MessageType.append) {
    return invalid(`Drop ${m.type} message from node ${m.from}: only append carries entries`);
  }
  if (m.entries.length > config.messageEntriesMax) {
    return refuse(
      RaftErrorCode.messageTooLarge,
      `Drop append from node ${m.from}: ${m.entries.length} entries exceed messageEntriesMax ${config.messageEntriesMax}`,
    );
  }
  let sizeBytes = 0;
  let previousTerm = m.logTerm;
  for (let i = 0; i < m.entries.length; i++) {
    const entry = m.entries[i] as Entry;
    const result = checkEntry(m, entry, i);
    if (!result.ok) {
      return result;
    }
    if (entry.term < previousTerm) {
      return invalid(`Drop append from node ${m.from}: term goes back at entry ${entry.index}`);
    }
    previousTerm = entry.term;
    sizeBytes += entry.data.byteLength;
  }
  if (m.entries.length > 1 && sizeBytes > config.messageSizeBytesMax) {
    return refuse(
      RaftErrorCode.messageTooLarge,
      `Drop append from node ${m.from}: ${sizeBytes} bytes exceed messageSizeBytesMax ${config.messageSizeBytesMax}`,
    );
  }
  return accepted;
}

/** True when metadata names a valid snapshot point and membership. */
export function isValidSnapshotMetadata(metadata: SnapshotMetadata | undefined): boolean {
  if (metadata === undefined || !isCount(metadata.index) || !isCount(metadata.term)) {
    return false;
  }
  const conf = metadata.confState as { voters: unknown; learners: unknown } | undefined;
  const isIdList = (ids: unknown): boolean =>
    Array.isArray(ids) && ids.every((id: unknown) => isCount(id) && id > 0);
  return conf !== undefined && isIdList(conf.voters) && isIdList(conf.learners);
}

function checkSnapshot(m: Message, config: RaftConfig): RaftResult {
  const isSnapshotType = m.type === MessageType.snapshot || m.type === MessageType.snapshotResponse;
  if (!isSnapshotType) {
    return m.snapshot === undefined
      ? accepted
      : invalid(`Drop ${m.type} message: unexpected snapshot`);
  }
  const chunk = m.snapshot;
  if (
    chunk === undefined ||
    !isValidSnapshotMetadata(chunk.metadata) ||
    !isCount(chunk.offsetBytes)
  ) {
    return invalid(`Drop ${m.type} message from node ${m.from}: snapshot chunk is malformed`);
  }
  if (!(chunk.data instanceof Uint8Array) || typeof chunk.done !== 'boolean') {
    return invalid(`Drop ${m.type} message from node ${m.from}: snapshot chunk is malformed`);
  }
  if (chunk.data.byteLength > config.snapshotChunkSizeBytes) {
    return refuse(
      RaftErrorCode.messageTooLarge,
      `Drop snapshot chunk from node ${m.from}: ${chunk.data.byteLength} bytes exceed snapshotChunkSizeBytes ${config.snapshotChunkSizeBytes}`,
    );
  }
  return accepted;
}

/** Refuses a peer message that is malformed, misaddressed or over a size limit. */
export function validateMessage(m: Message, config: RaftConfig): RaftResult {
  const header = checkHeader(m, config.id);
  if (!header.ok) {
    return header;
  }
  const entries = checkEntries(m, config);
  return entries.ok ? checkSnapshot(m, config) : entries;
}
