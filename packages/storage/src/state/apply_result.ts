/**
 * What applying one committed entry gave, as a discriminated union the caller branches on
 * (STYLE.md 5.1), and its byte encoding for the StateMachine port, whose results are bytes.
 *
 * Layout: u8 tag | fields. Tags: 0 applied, 1 empty, 2 skipped, 3 CAS failed
 * (u16 conditionIndex | u16 keyLength | key | u8 hasVersion | u64 version), 4 malformed
 * (u16 reasonLength | reason), 5 registered (u64 clientId), and the session refusals
 * (u64 clientId | u64 sequence): 6 session expired, 7 response discarded, 8 too many
 * outstanding. The message of a refusal is rebuilt on decode, so the bytes stay small and
 * every replica encodes the same ones.
 */
import { StorageErrorCode } from '../errors.ts';
import { ByteReader, ByteReadError } from './byte_reader.ts';
import { ByteWriter, utf8Bytes } from './byte_writer.ts';

/** How an entry that did not fail was applied. */
export const ApplyOutcome = {
  /** The command was applied; every key it wrote now has the entry's index as its version. */
  applied: 'applied',
  /** The entry had no data (a leader's no-op, a membership change): nothing to apply. */
  empty: 'empty',
  /** The entry was applied before (a replay after a restart): it was not applied again. */
  skipped: 'skipped',
} as const;
/** Union of {@link ApplyOutcome} values. */
export type ApplyOutcome = (typeof ApplyOutcome)[keyof typeof ApplyOutcome];

/** The session refusals: the request was not applied (session_apply.ts). */
export type SessionRefusalCode =
  | typeof StorageErrorCode.sessionExpired
  | typeof StorageErrorCode.responseDiscarded
  | typeof StorageErrorCode.tooManyOutstanding;

/** The result of one entry. A refusal changed nothing, but the entry still counts as applied. */
export type ApplyResult =
  | {
      readonly ok: true;
      readonly outcome: ApplyOutcome;
      /**
       * NB: set (in memory only, never encoded) when a session request was answered from its
       * session record: the response of an earlier entry, returned again; nothing applied now.
       */
      readonly repeated?: true;
    }
  | {
      readonly ok: true;
      readonly outcome: 'registered';
      /** The new client's id: the index of the register entry. */
      readonly clientId: number;
    }
  | {
      readonly ok: false;
      readonly code: typeof StorageErrorCode.casFailed;
      readonly message: string;
      /** The position of the first condition that failed. */
      readonly conditionIndex: number;
      readonly key: string;
      /** The key's version when the condition was checked; undefined when it was absent. */
      readonly actualVersion: number | undefined;
    }
  | {
      readonly ok: false;
      readonly code: typeof StorageErrorCode.malformedCommand;
      readonly message: string;
    }
  | {
      readonly ok: false;
      readonly code: SessionRefusalCode;
      readonly message: string;
      readonly clientId: number;
      readonly sequence: number;
    };

const tags = {
  applied: 0,
  empty: 1,
  skipped: 2,
  casFailed: 3,
  malformed: 4,
  registered: 5,
  [StorageErrorCode.sessionExpired]: 6,
  [StorageErrorCode.responseDiscarded]: 7,
  [StorageErrorCode.tooManyOutstanding]: 8,
} as const;
const sessionRefusals: readonly SessionRefusalCode[] = [
  StorageErrorCode.sessionExpired,
  StorageErrorCode.responseDiscarded,
  StorageErrorCode.tooManyOutstanding,
];
const outcomes: readonly ApplyOutcome[] = ['applied', 'empty', 'skipped'];

/** The result for a transaction whose condition at conditionIndex failed. */
export function casFailed(
  conditionIndex: number,
  key: string,
  actualVersion: number | undefined,
): ApplyResult {
  const actual = actualVersion === undefined ? 'absent' : `at version ${actualVersion}`;
  return {
    ok: false,
    code: StorageErrorCode.casFailed,
    message: `Cannot apply the transaction: condition ${conditionIndex} on ${JSON.stringify(key)} failed, the key is ${actual}`,
    conditionIndex,
    key,
    actualVersion,
  };
}

/** The result for entry data that is not a command. */
export function malformed(reason: string): ApplyResult {
  return {
    ok: false,
    code: StorageErrorCode.malformedCommand,
    message: `Cannot apply the entry as a state command: ${reason}; it was applied as a no-op`,
  };
}

const refusalReasons: Record<SessionRefusalCode, string> = {
  [StorageErrorCode.sessionExpired]: 'its session expired or never existed; register again',
  [StorageErrorCode.responseDiscarded]:
    'its response was acknowledged and dropped; use a new sequence number',
  [StorageErrorCode.tooManyOutstanding]:
    'the client has too many unacknowledged responses; acknowledge some, then retry',
};

/** The result for a session request that was refused with code; nothing of it was applied. */
export function sessionRefusal(
  code: SessionRefusalCode,
  request: { readonly clientId: number; readonly sequence: number },
): ApplyResult {
  const { clientId, sequence } = request;
  return {
    ok: false,
    code,
    message: `Cannot apply request ${sequence} of client ${clientId}: ${refusalReasons[code]}`,
    clientId,
    sequence,
  };
}

/** Encodes a result as bytes. NB: `repeated` is not encoded: a retry gets the same bytes. */
export function encodeApplyResult(result: ApplyResult): Uint8Array {
  const writer = new ByteWriter(16);
  if (result.ok) {
    return result.outcome === 'registered'
      ? writer.u8(tags.registered).u64(result.clientId).finish()
      : writer.u8(tags[result.outcome]).finish();
  }
  if (result.code === StorageErrorCode.casFailed) {
    const key = utf8Bytes(result.key);
    writer.u8(tags.casFailed).u16(result.conditionIndex).u16(key.byteLength).bytes(key);
    writer.u8(result.actualVersion === undefined ? 0 : 1).u64(result.actualVersion ?? 0);
    return writer.finish();
  }
  if (result.code !== StorageErrorCode.malformedCommand) {
    return writer.u8(tags[result.code]).u64(result.clientId).u64(result.sequence).finish();
  }
  // NB: 4096 UTF-16 units are at most 12,288 UTF-8 bytes, within the u16 length.
  const reason = utf8Bytes(result.message.slice(0, 4096));
  return writer.u8(tags.malformed).u16(reason.byteLength).bytes(reason).finish();
}

function decodeRefusal(reader: ByteReader, tag: number): ApplyResult {
  if (tag === tags.casFailed) {
    const conditionIndex = reader.u16('condition index');
    const key = reader.utf8(reader.u16('key length'), 'key');
    const hasVersion = reader.u8('version flag') === 1;
    const version = reader.u64('version');
    return casFailed(conditionIndex, key, hasVersion ? version : undefined);
  }
  const refusal = sessionRefusals.find((code) => tags[code] === tag);
  if (refusal !== undefined) {
    const clientId = reader.u64('client id');
    return sessionRefusal(refusal, { clientId, sequence: reader.u64('sequence') });
  }
  const message = reader.utf8(reader.u16('message length'), 'message');
  return { ok: false, code: StorageErrorCode.malformedCommand, message };
}

/**
 * Decodes bytes from {@link encodeApplyResult}; undefined when they are not a result.
 */
export function decodeApplyResult(bytes: Uint8Array): ApplyResult | undefined {
  const reader = new ByteReader(bytes);
  try {
    const tag = reader.u8('tag');
    const outcome = outcomes[tag];
    const result: ApplyResult | undefined =
      outcome !== undefined
        ? { ok: true, outcome }
        : tag === tags.registered
          ? { ok: true, outcome: 'registered', clientId: reader.u64('client id') }
          : tag >= tags.casFailed && tag <= tags[StorageErrorCode.tooManyOutstanding]
            ? decodeRefusal(reader, tag)
            : undefined;
    reader.end('the result');
    return result;
  } catch (error) {
    if (error instanceof ByteReadError) {
      return undefined;
    }
    throw error;
  }
}
