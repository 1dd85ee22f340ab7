/**
 * The seal record: what a node must know about its cluster's seal before it can unseal. Stored
 * raw (readable while sealed) at sealRecordPath as UTF-8 JSON, and validated on every read
 * (STYLE.md 5.8): a record that does not decode is COFFER_CORE_SEAL_RECORD_INVALID, never a
 * guess.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import { validateBinding } from '../seal/seal_binding.ts';
import { SealType } from '../seal/seal_provider.ts';
import { validateShareConfig, type ShareConfig } from '../seal/shamir.ts';

/** The current record format. */
export const sealRecordVersion = 1;

/** What is stored about the seal. Not secret. */
export interface SealRecord {
  readonly version: typeof sealRecordVersion;
  readonly type: SealType;
  /** Bound into every wrapped key's associated data; fixed at init. */
  readonly clusterId: string;
  /** Shamir: the unseal shares. PKCS#11: the recovery shares. */
  readonly shares: ShareConfig;
  /** PKCS#11 only, when break-glass was asked for at init. */
  readonly breakGlass?: ShareConfig;
}

/** Encodes a record for storage. */
export function encodeSealRecord(record: SealRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}

function invalid(what: string, cause?: unknown): CoreError {
  return new CoreError(
    CoreErrorCode.sealRecordInvalid,
    `Restore the seal record from a backup: the stored record at "core/seal/config" is ${what}`,
    { cause },
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readShareConfig(value: unknown, what: string): ShareConfig {
  if (!isObject(value) || typeof value['shares'] !== 'number') {
    throw invalid(`missing ${what}`);
  }
  const config = { shares: value['shares'], threshold: value['threshold'] as number };
  try {
    validateShareConfig(config);
  } catch (error) {
    throw invalid(`holding an invalid ${what}`, error);
  }
  return config;
}

/** Decodes and validates a stored record; throws COFFER_CORE_SEAL_RECORD_INVALID. */
export function decodeSealRecord(bytes: Uint8Array): SealRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw invalid('not JSON', error);
  }
  if (!isObject(parsed) || parsed['version'] !== sealRecordVersion) {
    throw invalid('of an unknown version');
  }
  const type = parsed['type'];
  if (type !== SealType.shamir && type !== SealType.pkcs11) {
    throw invalid('of an unknown seal type');
  }
  const clusterId = parsed['clusterId'];
  if (typeof clusterId !== 'string') {
    throw invalid('missing the cluster id');
  }
  try {
    validateBinding({ clusterId });
  } catch (error) {
    throw invalid('holding an invalid cluster id', error);
  }
  const shares = readShareConfig(parsed['shares'], 'share config');
  const record: SealRecord = { version: sealRecordVersion, type, clusterId, shares };
  if (parsed['breakGlass'] === undefined) {
    return record;
  }
  if (type !== SealType.pkcs11) {
    throw invalid('holding break-glass shares for a Shamir seal');
  }
  return { ...record, breakGlass: readShareConfig(parsed['breakGlass'], 'break-glass config') };
}
