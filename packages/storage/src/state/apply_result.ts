/**
 * What applying one committed entry gave, as a discriminated union the caller branches on
 * (STYLE.md 5.1), and its byte encoding for the StateMachine port, whose results are bytes.
 *
 * Layout: u8 tag | fields. Tags: 0 applied, 1 empty, 2 skipped, 3 CAS failed
 * (u16 conditionIndex | u16 keyLength | key | u8 hasVersion | u64 version), 4 malformed
 * (u16 reasonLength | reason). The message of a refusal is rebuilt on decode, so the bytes
 * stay small and every replica encodes the same ones.
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

/** The result of one entry. A refusal changed nothing, but the entry still counts as applied. */
export type ApplyResult =
  | { readonly ok: true; readonly outcome: ApplyOutcome }
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
    };

const tags = { applied: 0, empty: 1, skipped: 2, casFailed: 3, malformed: 4 } as const;
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

/** Encodes a result as bytes. */
export function encodeApplyResult(result: ApplyResult): Uint8Array {
  const writer = new ByteWriter(16);
  if (result.ok) {
    return writer.u8(tags[result.outcome]).finish();
  }
  if (result.code === StorageErrorCode.casFailed) {
    const key = utf8Bytes(result.key);
    writer.u8(tags.casFailed).u16(result.conditionIndex).u16(key.byteLength).bytes(key);
    writer.u8(result.actualVersion === undefined ? 0 : 1).u64(result.actualVersion ?? 0);
    return writer.finish();
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
        : tag === tags.casFailed || tag === tags.malformed
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
