/**
 * The session envelope: how an entry carries a client session command (Raft thesis §6.3). An
 * entry's data is either a plain state command (state_command.ts, which starts with its codec
 * version 1), or an envelope, which starts with a tag byte no command starts with:
 *
 *   envelope  u8 tag (0xc5) | u8 envelopeVersion (1) | u8 kind | u64 stampMs | body
 *   register  kind 1: no body
 *   request   kind 2: u64 clientId | u64 sequence | u64 ackedBelow | state command
 *
 * stampMs is the leader's wall clock when it proposed the entry: the only time sessions
 * expire by, so every replica expires the same sessions at the same index.
 *
 * Decoding never throws: bytes that are neither a command nor an envelope give a reason derived
 * from the bytes alone, so every replica applies them as the same no-op.
 */
import { ByteReader, ByteReadError } from './byte_reader.ts';
import { ByteWriter } from './byte_writer.ts';
import { decodeStateCommand, encodeStateCommand, type StateCommand } from './state_command.ts';

/** The first byte of a session envelope; a state command starts with its codec version (1). */
export const sessionEnvelopeTag = 0xc5;
const envelopeVersion = 1;
const kindRegister = 1;
const kindRequest = 2;

/** A command from a registered client, with the leader's stamp. */
export interface SessionRequest {
  /** The id the registration returned: the index of the register entry. */
  readonly clientId: number;
  /** The client's number for this command; a retry reuses it. */
  readonly sequence: number;
  /** Every sequence number below this one was answered to the client: forget their responses. */
  readonly ackedBelow: number;
  /** The leader's wall clock in ms since the epoch when it proposed the entry. */
  readonly stampMs: number;
  readonly command: StateCommand;
}

/** What an entry's data decodes to. */
export type DecodedEntryData =
  | { readonly ok: true; readonly kind: 'command'; readonly command: StateCommand }
  | { readonly ok: true; readonly kind: 'register'; readonly stampMs: number }
  | { readonly ok: true; readonly kind: 'request'; readonly request: SessionRequest }
  | { readonly ok: false; readonly reason: string };

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** The bytes of a request envelope before its command (a register envelope is shorter). */
const requestHeaderBytes = 3 + 8 + 3 * 8;

function header(kind: number, stampMs: number, bodyBytes = 0): ByteWriter {
  if (!isCount(stampMs)) {
    throw new RangeError(`Cannot encode a session envelope: stamp ${stampMs} is not an integer`);
  }
  return new ByteWriter(requestHeaderBytes + bodyBytes)
    .u8(sessionEnvelopeTag)
    .u8(envelopeVersion)
    .u8(kind)
    .u64(stampMs);
}

/** Encodes a registration stamped with the leader's wall clock (whole ms). */
export function encodeSessionRegister(stampMs: number): Uint8Array {
  return header(kindRegister, stampMs).finish();
}

/**
 * Encodes a session request. Throws COFFER_STORAGE_INVALID_ARGUMENT when the command breaks a
 * limit (as encodeStateCommand does), RangeError for numbers that are not counts (a bug).
 */
export function encodeSessionRequest(request: SessionRequest): Uint8Array {
  const { clientId, sequence, ackedBelow } = request;
  if (!isCount(clientId) || clientId < 1 || !isCount(sequence) || !isCount(ackedBelow)) {
    throw new RangeError('Cannot encode a session request: its numbers must be safe counts');
  }
  const command = encodeStateCommand(request.command);
  // NB: the writer is sized exactly for the command: it never grows, and finish() copies nothing.
  const writer = header(kindRequest, request.stampMs, command.byteLength);
  return writer.u64(clientId).u64(sequence).u64(ackedBelow).bytes(command).finish();
}

function decodeEnvelope(data: Uint8Array): DecodedEntryData {
  const reader = new ByteReader(data);
  reader.u8('the tag');
  const version = reader.u8('the envelope version');
  if (version !== envelopeVersion) {
    return { ok: false, reason: `session envelope version ${version} is not ${envelopeVersion}` };
  }
  const kind = reader.u8('the envelope kind');
  const stampMs = reader.u64('the stamp');
  if (kind === kindRegister) {
    reader.end('the registration');
    return { ok: true, kind: 'register', stampMs };
  }
  if (kind !== kindRequest) {
    return { ok: false, reason: `session envelope kind ${kind} is unknown` };
  }
  const clientId = reader.u64('the client id');
  const sequence = reader.u64('the sequence');
  const ackedBelow = reader.u64('the acknowledged sequence');
  if (clientId < 1) {
    return { ok: false, reason: 'the session request names client 0' };
  }
  const decoded = decodeStateCommand(reader.bytes(reader.remaining(), 'the command'));
  if (!decoded.ok) {
    return { ok: false, reason: `the session request's command: ${decoded.reason}` };
  }
  const request = { clientId, sequence, ackedBelow, stampMs, command: decoded.command };
  return { ok: true, kind: 'request', request };
}

/** Decodes an entry's data: a plain state command or a session envelope. Never throws. */
export function decodeEntryData(data: Uint8Array): DecodedEntryData {
  if (data[0] !== sessionEnvelopeTag) {
    const decoded = decodeStateCommand(data);
    return decoded.ok ? { ok: true, kind: 'command', command: decoded.command } : decoded;
  }
  try {
    return decodeEnvelope(data);
  } catch (error) {
    if (error instanceof ByteReadError) {
      return { ok: false, reason: `the session envelope is cut short: ${error.message}` };
    }
    throw error;
  }
}
