/**
 * The custom_metadata of a secret, checked with Vault's limits: at most 64 keys, each key 1 to
 * 128 bytes and each value 1 to 512 bytes (UTF-8), printable characters only.
 *
 * NB: the field is declared as a JSON object, not a string map, so that a PATCH can send null
 * to remove a key; this file checks the values itself. Messages name keys (truncated), never
 * values.
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import { isPlainObject } from '../../router/fields.ts';

/** Vault's limits on custom_metadata. */
export const customMetadataKeysMax = 64;
export const customMetadataKeySizeBytesMax = 128;
export const customMetadataValueSizeBytesMax = 512;

/** Control, format, private-use, unassigned characters and separators other than space. */
const unprintable = /[\p{C}\p{Z}]/u;

function refuse(reason: string): CoreError {
  return new CoreError(CoreErrorCode.invalidRequest, `Fix custom_metadata: ${reason}`);
}

function quoted(key: string): string {
  return JSON.stringify(key.slice(0, 64));
}

function isPrintable(text: string): boolean {
  return !unprintable.test(text.replaceAll(' ', 'a'));
}

/** Checks the limits of a complete custom_metadata map. */
export function checkCustomMetadata(map: Readonly<Record<string, string>>): void {
  const keys = Object.keys(map);
  if (keys.length > customMetadataKeysMax) {
    throw refuse(`send at most ${customMetadataKeysMax} keys, not ${keys.length}`);
  }
  for (const [key, value] of Object.entries(map)) {
    const keyBytes = Buffer.byteLength(key, 'utf8');
    if (keyBytes === 0 || keyBytes > customMetadataKeySizeBytesMax) {
      throw refuse(`key ${quoted(key)} must be 1 to ${customMetadataKeySizeBytesMax} bytes`);
    }
    const valueBytes = Buffer.byteLength(value, 'utf8');
    if (valueBytes === 0 || valueBytes > customMetadataValueSizeBytesMax) {
      throw refuse(
        `the value of key ${quoted(key)} must be 1 to ${customMetadataValueSizeBytesMax} bytes`,
      );
    }
    if (!isPrintable(key)) {
      throw refuse(`key ${quoted(key)} has unprintable characters`);
    }
    if (!isPrintable(value)) {
      throw refuse(`the value of key ${quoted(key)} has unprintable characters`);
    }
  }
}

/**
 * The custom_metadata of a write or patch request. A write takes strings only; a patch also
 * takes null (remove the key), returned as null here.
 */
export function parseCustomMetadata(
  value: unknown,
  allowNull: boolean,
): Record<string, string | null> {
  if (!isPlainObject(value)) {
    throw refuse('send a JSON object of string values');
  }
  const map = new Map<string, string | null>();
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string' || (allowNull && item === null)) {
      map.set(key, item);
    } else if (typeof item === 'number' || typeof item === 'boolean') {
      map.set(key, String(item));
    } else {
      throw refuse(
        `the value of key ${quoted(key)} must be a string${allowNull ? ' or null' : ''}`,
      );
    }
  }
  // NB: fromEntries defines own properties, so a key named "__proto__" stays a plain key.
  return Object.fromEntries(map);
}

/** A custom_metadata map with a patch applied (null removes a key), checked. */
export function patchCustomMetadata(
  current: Readonly<Record<string, string>> | null,
  patch: Readonly<Record<string, string | null>>,
): Record<string, string> {
  const merged = new Map<string, string>(Object.entries(current ?? {}));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      merged.delete(key);
    } else {
      merged.set(key, value);
    }
  }
  const next = Object.fromEntries(merged);
  checkCustomMetadata(next);
  return next;
}
