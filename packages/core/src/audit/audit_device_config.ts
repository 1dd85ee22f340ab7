/**
 * An audit device's stored record (in the replicated, encrypted state at
 * `audit/devices/<name>` of the sys/ view) and the parsing of its options.
 *
 * Invariant: options are checked before a device is enabled, and again when a stored record is
 * loaded: unknown options are refused, so a typo never silently weakens the log, and `log_raw`
 * may only be "false" (Coffer never logs raw values).
 */
import { isAbsolute } from 'node:path';

import { CoreError, CoreErrorCode } from '../errors.ts';
import { auditSaltSizeBytes } from './audit_hash.ts';
import { AuditFsync } from './file_audit_device.ts';

/** The device types Coffer has. */
export const AuditDeviceType = { file: 'file' } as const;
/** Union of {@link AuditDeviceType} values. */
export type AuditDeviceType = (typeof AuditDeviceType)[keyof typeof AuditDeviceType];

/** A device as stored. The salt never leaves the broker and this record. */
export interface AuditDeviceRecord {
  readonly type: AuditDeviceType;
  readonly description: string;
  readonly options: Readonly<Record<string, string>>;
  /** The device's 32-byte HMAC salt, hex. */
  readonly salt: string;
}

/** The parsed options of a file device. */
export interface FileDeviceOptions {
  readonly filePath: string;
  readonly fsync: AuditFsync;
  readonly hmacAccessor: boolean;
}

const knownOptions = new Set(['file_path', 'fsync', 'hmac_accessor', 'log_raw']);
const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function invalid(message: string): CoreError {
  return new CoreError(CoreErrorCode.invalidRequest, message);
}

/** Checks an audit device name: letters, digits, `_`, `.`, `-`; at most 128 characters. */
export function checkAuditDeviceName(name: string): void {
  if (!namePattern.test(name)) {
    throw invalid(
      `Name the audit device with letters, digits, "_", "." or "-": "${name}" is not such a name`,
    );
  }
}

function parseFsync(value: string | undefined): AuditFsync {
  if (value === undefined || value === AuditFsync.batch) {
    return AuditFsync.batch;
  }
  if (value === AuditFsync.none) {
    return AuditFsync.none;
  }
  throw invalid(`Set option "fsync" to "batch" or "none": "${value}" is neither`);
}

function parseBool(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) {
    return fallback;
  }
  if (value === 'true' || value === 'false') {
    return value === 'true';
  }
  throw invalid(`Set option "${name}" to "true" or "false": "${value}" is neither`);
}

/** Parses and checks a file device's options; throws COFFER_CORE_INVALID_REQUEST. */
export function parseFileDeviceOptions(
  options: Readonly<Record<string, string>>,
): FileDeviceOptions {
  for (const key of Object.keys(options)) {
    if (!knownOptions.has(key)) {
      throw invalid(
        `Remove option "${key}": a file audit device takes file_path, fsync and hmac_accessor`,
      );
    }
  }
  if (parseBool('log_raw', options['log_raw'], false)) {
    throw invalid('Remove option "log_raw": Coffer never writes raw values to an audit log');
  }
  const filePath = options['file_path'];
  if (filePath === undefined || !isAbsolute(filePath)) {
    throw invalid('Set option "file_path" to an absolute path: a file device needs one');
  }
  return {
    filePath,
    fsync: parseFsync(options['fsync']),
    hmacAccessor: parseBool('hmac_accessor', options['hmac_accessor'], true),
  };
}

/** Decodes a record's salt; throws COFFER_CORE_INTERNAL when the stored record is damaged. */
export function decodeSalt(record: AuditDeviceRecord): Uint8Array {
  const salt = Buffer.from(record.salt, 'hex');
  if (salt.length !== auditSaltSizeBytes || salt.toString('hex') !== record.salt) {
    throw new CoreError(
      CoreErrorCode.internal,
      'Re-enable the audit device: its stored salt is not 32 bytes of hex',
    );
  }
  return new Uint8Array(salt);
}
