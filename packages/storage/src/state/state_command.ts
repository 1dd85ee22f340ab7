/**
 * The commands the state machine applies, and their compact, versioned binary codec. A command
 * is proposed as the data of one Raft entry; every replica decodes the same bytes the same way.
 *
 * Layout (big-endian), version 1:
 *
 *   command      u8 codecVersion (1) | u8 kind | body
 *   put          key | value                                    kind 1
 *   delete       key                                            kind 2
 *   transaction  u16 n | condition * n | u16 m | operation * m  kind 3
 *   condition    u8 1 (absent) | key
 *              | u8 2 (version) | key | u64 version
 *   operation    u8 1 (put) | key | value
 *              | u8 2 (delete) | key
 *   key          u16 byteLength (1..stateKeyBytesMax) | UTF-8 bytes
 *   value        u32 byteLength (0..stateValueBytesMax) | opaque bytes (ciphertext)
 *
 * Encoding checks the limits and throws COFFER_STORAGE_INVALID_ARGUMENT (nothing is proposed).
 * Decoding never throws: bytes that are not a command decode to { ok: false, reason }, which
 * the store applies as a no-op with COFFER_STORAGE_MALFORMED_COMMAND on every replica alike.
 */
import { StorageError, StorageErrorCode } from '../errors.ts';
import { ByteReader, ByteReadError } from './byte_reader.ts';
import { ByteWriter, utf8Bytes } from './byte_writer.ts';

/** The codec version this build writes and reads. */
export const stateCommandVersion = 1;
/** The longest key, in UTF-8 bytes. */
export const stateKeyBytesMax = 4096;
/** The largest value, in bytes. */
export const stateValueBytesMax = 1024 * 1024;
/** The most conditions in one transaction. */
export const transactionConditionsMax = 1024;
/** The most operations in one transaction. */
export const transactionOperationsMax = 1024;

const kindPut = 1;
const kindDelete = 2;
const kindTransaction = 3;
const conditionAbsent = 1;
const conditionVersion = 2;
const operationPut = 1;
const operationDelete = 2;

/** A check-and-set condition of a transaction, checked against the state before it. */
export type StateCondition =
  | { readonly kind: 'absent'; readonly key: string }
  /** The key exists and was last written by the entry at this index. */
  | { readonly kind: 'version'; readonly key: string; readonly version: number };

/** One write of a transaction. */
export type StateOperation =
  | { readonly kind: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly kind: 'delete'; readonly key: string };

/** A command to the state machine. Values are opaque bytes: the store never reads them. */
export type StateCommand =
  | StateOperation
  | {
      readonly kind: 'transaction';
      /** All must hold, or none of the operations is applied. */
      readonly conditions: readonly StateCondition[];
      /** Applied in order: a later write to a key replaces an earlier one. */
      readonly operations: readonly StateOperation[];
    };

/** A decoded command, or why the bytes are not one. */
export type DecodedStateCommand =
  | { readonly ok: true; readonly command: StateCommand }
  | { readonly ok: false; readonly reason: string };

/** Why key cannot be stored, or undefined when it can. */
export function stateKeyProblem(key: string): string | undefined {
  return keyBytesProblem(key, utf8Bytes(key));
}

/** The UTF-8 bytes of a valid state key, or undefined for one stateKeyProblem refuses. */
export function validStateKeyBytes(key: string): Uint8Array | undefined {
  const bytes = utf8Bytes(key);
  return keyBytesProblem(key, bytes) === undefined ? bytes : undefined;
}

/**
 * The LevelDB key (`prefix` byte, then the UTF-8 bytes) of a valid state key, or undefined when
 * key is not one: the same bytes and the same verdict as {@link validStateKeyBytes}, built in one
 * allocation when key is ASCII (the read path's common case).
 */
export function prefixedStateKeyBytes(prefix: number, key: string): Uint8Array | undefined {
  const length = key.length;
  if (length > 0 && length <= stateKeyBytesMax) {
    const out = new Uint8Array(length + 1);
    out[0] = prefix;
    let i = 0;
    for (; i < length; i++) {
      const code = key.charCodeAt(i);
      if (code >= 0x80) {
        break;
      }
      out[i + 1] = code;
    }
    if (i === length) {
      return out;
    }
  }
  const bytes = validStateKeyBytes(key);
  if (bytes === undefined) {
    return undefined;
  }
  const out = new Uint8Array(bytes.byteLength + 1);
  out[0] = prefix;
  out.set(bytes, 1);
  return out;
}

const surrogate = /[\ud800-\udfff]/;

function keyBytesProblem(key: string, bytes: Uint8Array): string | undefined {
  if (bytes.byteLength === 0) {
    return 'the key is empty';
  }
  if (bytes.byteLength > stateKeyBytesMax) {
    return `the key is ${bytes.byteLength} bytes long, above the limit of ${stateKeyBytesMax}`;
  }
  // NB: a lone surrogate encodes as U+FFFD, so such a key would not read back as itself.
  if (surrogate.test(key) && Buffer.from(bytes).toString('utf8') !== key) {
    return 'the key is not well-formed Unicode (a lone surrogate)';
  }
  return undefined;
}

function invalid(problem: string): StorageError {
  return new StorageError(
    StorageErrorCode.invalidArgument,
    `Cannot encode the state command: ${problem}. Reject the request before proposing it`,
  );
}

// eslint-disable-next-line no-control-regex -- NB: the class is all of ASCII, controls included.
const nonAscii = /[^\u0000-\u007f]/u;

function writeKey(writer: ByteWriter, key: string): void {
  const length = key.length;
  if (length > 0 && length <= stateKeyBytesMax && !nonAscii.test(key)) {
    // NB: an ASCII key of a valid length is its own UTF-8 and passes every check
    // (keyBytesProblem): written as is, without encoding it (the common case).
    writer.u16(length).ascii(key);
    return;
  }
  const bytes = utf8Bytes(key);
  const problem = keyBytesProblem(key, bytes);
  if (problem !== undefined) {
    throw invalid(`${problem} (${JSON.stringify(key.slice(0, 64))})`);
  }
  writer.u16(bytes.byteLength).bytes(bytes);
}

function writeValue(writer: ByteWriter, value: Uint8Array): void {
  if (value.byteLength > stateValueBytesMax) {
    throw invalid(
      `the value is ${value.byteLength} bytes long, above the limit of ${stateValueBytesMax}`,
    );
  }
  writer.u32(value.byteLength).bytes(value);
}

function writeOperation(writer: ByteWriter, operation: StateOperation): void {
  writer.u8(operation.kind === 'put' ? operationPut : operationDelete);
  writeKey(writer, operation.key);
  if (operation.kind === 'put') {
    writeValue(writer, operation.value);
  }
}

function writeCondition(writer: ByteWriter, condition: StateCondition): void {
  writer.u8(condition.kind === 'absent' ? conditionAbsent : conditionVersion);
  writeKey(writer, condition.key);
  if (condition.kind === 'version') {
    if (!Number.isSafeInteger(condition.version) || condition.version < 1) {
      throw invalid(`a condition's version ${condition.version} is not a positive integer`);
    }
    writer.u64(condition.version);
  }
}

function writeTransaction(
  writer: ByteWriter,
  command: Extract<StateCommand, { kind: 'transaction' }>,
): void {
  const { conditions, operations } = command;
  if (conditions.length > transactionConditionsMax) {
    throw invalid(
      `${conditions.length} conditions, above the limit of ${transactionConditionsMax}`,
    );
  }
  if (operations.length > transactionOperationsMax) {
    throw invalid(
      `${operations.length} operations, above the limit of ${transactionOperationsMax}`,
    );
  }
  writer.u16(conditions.length);
  for (const condition of conditions) {
    writeCondition(writer, condition);
  }
  writer.u16(operations.length);
  for (const operation of operations) {
    writeOperation(writer, operation);
  }
}

/**
 * Encodes a command as entry data. Throws COFFER_STORAGE_INVALID_ARGUMENT when a key, a value
 * or a count breaks a limit.
 */
export function encodeStateCommand(command: StateCommand): Uint8Array {
  const writer = new ByteWriter(encodedSizeHint(command));
  writeCommand(writer, command);
  return writer.finish();
}

/** The largest writer encodeStateCommand allocates up front; a larger command grows it. */
const sizeHintMax = 64 * 1024;

/**
 * The bytes command takes when its keys are ASCII (the common case), so its writer is
 * allocated once and finish() hands it over without a copy. NB: capped, so a command over the
 * limits (refused while written) or a malformed one never allocates more than it used to; a
 * larger command, or one with other keys, just grows the writer.
 */
function encodedSizeHint(command: StateCommand): number {
  const size = exactSizeIfAscii(command);
  return Number.isSafeInteger(size) ? Math.min(size, sizeHintMax) : 64;
}

function keySize(key: string): number {
  return 2 + key.length;
}

function valueSize(value: Uint8Array): number {
  return 4 + value.byteLength;
}

function exactSizeIfAscii(command: StateCommand): number {
  switch (command.kind) {
    case 'put':
      return 2 + keySize(command.key) + valueSize(command.value);
    case 'delete':
      return 2 + keySize(command.key);
    case 'transaction': {
      let size = 2 + 2 + 2;
      for (const condition of command.conditions) {
        size += 1 + keySize(condition.key) + (condition.kind === 'version' ? 8 : 0);
      }
      for (const operation of command.operations) {
        size += 1 + keySize(operation.key);
        size += operation.kind === 'put' ? valueSize(operation.value) : 0;
      }
      return size;
    }
  }
}

function writeCommand(writer: ByteWriter, command: StateCommand): void {
  writer.u8(stateCommandVersion);
  switch (command.kind) {
    case 'put':
      writer.u8(kindPut);
      writeKey(writer, command.key);
      writeValue(writer, command.value);
      break;
    case 'delete':
      writer.u8(kindDelete);
      writeKey(writer, command.key);
      break;
    case 'transaction':
      writer.u8(kindTransaction);
      writeTransaction(writer, command);
      break;
  }
}

function readKey(reader: ByteReader, what: string): string {
  const length = reader.u16(`${what} length`);
  if (length === 0 || length > stateKeyBytesMax) {
    throw new ByteReadError(`${what} length ${length} is outside 1..${stateKeyBytesMax}`);
  }
  return reader.utf8(length, what);
}

function readValue(reader: ByteReader, what: string): Uint8Array {
  const length = reader.u32(`${what} length`);
  if (length > stateValueBytesMax) {
    throw new ByteReadError(`${what} length ${length} is above ${stateValueBytesMax}`);
  }
  return reader.bytes(length, what);
}

function readCondition(reader: ByteReader, position: number): StateCondition {
  const what = `condition ${position}`;
  const kind = reader.u8(`${what} kind`);
  const key = readKey(reader, `${what} key`);
  if (kind === conditionAbsent) {
    return { kind: 'absent', key };
  }
  if (kind !== conditionVersion) {
    throw new ByteReadError(`${what} has unknown kind ${kind}`);
  }
  const version = reader.u64(`${what} version`);
  if (version < 1) {
    throw new ByteReadError(`${what} version is 0`);
  }
  return { kind: 'version', key, version };
}

function readOperation(reader: ByteReader, what: string): StateOperation {
  const kind = reader.u8(`${what} kind`);
  const key = readKey(reader, `${what} key`);
  if (kind === operationPut) {
    return { kind: 'put', key, value: readValue(reader, `${what} value`) };
  }
  if (kind !== operationDelete) {
    throw new ByteReadError(`${what} has unknown kind ${kind}`);
  }
  return { kind: 'delete', key };
}

function readCount(reader: ByteReader, what: string, max: number): number {
  const count = reader.u16(`${what} count`);
  if (count > max) {
    throw new ByteReadError(`${what} count ${count} is above ${max}`);
  }
  return count;
}

function readTransaction(reader: ByteReader): StateCommand {
  const conditionCount = readCount(reader, 'condition', transactionConditionsMax);
  const conditions = Array.from({ length: conditionCount }, (_, i) => readCondition(reader, i));
  const operationCount = readCount(reader, 'operation', transactionOperationsMax);
  const operations = Array.from({ length: operationCount }, (_, i) =>
    readOperation(reader, `operation ${i}`),
  );
  return { kind: 'transaction', conditions, operations };
}

function readCommand(reader: ByteReader): StateCommand {
  const version = reader.u8('codec version');
  if (version !== stateCommandVersion) {
    throw new ByteReadError(`codec version ${version} is not ${stateCommandVersion}`);
  }
  const kind = reader.u8('command kind');
  switch (kind) {
    case kindPut:
      return { kind: 'put', key: readKey(reader, 'key'), value: readValue(reader, 'value') };
    case kindDelete:
      return { kind: 'delete', key: readKey(reader, 'key') };
    case kindTransaction:
      return readTransaction(reader);
    default:
      throw new ByteReadError(`command kind ${kind} is unknown`);
  }
}

/**
 * Decodes entry data as a command. Never throws: bytes that are not a command give
 * { ok: false, reason }. NB: values are views of data, not copies.
 */
export function decodeStateCommand(data: Uint8Array): DecodedStateCommand {
  const reader = new ByteReader(data);
  try {
    const command = readCommand(reader);
    reader.end('the command');
    return { ok: true, command };
  } catch (error) {
    if (error instanceof ByteReadError) {
      return { ok: false, reason: error.message };
    }
    throw error;
  }
}
