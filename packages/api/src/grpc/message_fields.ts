/**
 * Typed reads of a decoded coffer.v1 request message, and the JSON text it carries.
 *
 * proto-loader decodes with `defaults: true`, so a field absent on the wire is its proto3 default
 * ("" / 0 / false / [] / {}), except `optional` fields, which stay absent. These readers turn
 * "the default" into "not sent", so the router sees only fields the caller set and applies its
 * own defaults (a TTL of "" is no TTL, not an invalid duration).
 *
 * NB: protobufjs decodes invalid UTF-8 to U+FFFD rather than failing, so every string that
 * becomes part of a router path is checked for it here: the caller learns that the bytes were
 * not UTF-8, instead of reaching a path that differs from the one it meant.
 */
import { ApiError, ApiErrorCode } from '../errors.ts';

/** A decoded request message: field names as in the .proto files (keepCase). */
export type Message = Readonly<Record<string, unknown>>;

/** The JSON-like body a router request carries. */
export type Data = Record<string, unknown>;

const replacementCharacter = '\uFFFD';

/** The field's string value ('' when absent or not a string). */
export function textOf(message: Message, name: string): string {
  const value = message[name];
  return typeof value === 'string' ? value : '';
}

/**
 * A string that becomes part of a router path: refused when it held invalid UTF-8 (decoded as
 * U+FFFD). The router validates the path itself (segments, NFC, control characters).
 */
export function pathPartOf(message: Message, name: string): string {
  const value = textOf(message, name);
  if (value.includes(replacementCharacter)) {
    throw new ApiError(
      ApiErrorCode.invalidRequest,
      `Send field "${name}" as valid UTF-8: its bytes did not decode (U+FFFD is not accepted in paths)`,
    );
  }
  return value;
}

/** The field's number, or undefined when absent or 0 (proto3's "not set" for plain ints). */
export function countOf(message: Message, name: string): number | undefined {
  const value = message[name];
  return typeof value === 'number' && value !== 0 ? value : undefined;
}

/** An `optional` field's value, or undefined when not sent (0 and false are values here). */
export function optionalOf(message: Message, name: string): unknown {
  return message[name] ?? undefined;
}

/** The field's boolean value (false when absent). */
export function flagOf(message: Message, name: string): boolean {
  return message[name] === true;
}

/** A repeated field's values. */
export function listOf(message: Message, name: string): unknown[] {
  const value = message[name];
  return Array.isArray(value) ? [...(value as unknown[])] : [];
}

/** A map<string, string> field as a plain object (empty when absent). */
export function mapOf(message: Message, name: string): Record<string, string> {
  const value = message[name];
  const result: Record<string, string> = {};
  if (typeof value === 'object' && value !== null) {
    for (const [key, entry] of Object.entries(value)) {
      if (typeof entry === 'string') {
        result[key] = entry;
      }
    }
  }
  return result;
}

/**
 * Puts the named values into `data`, skipping undefined, '' and empty objects and lists: the
 * proto3 defaults that mean "not sent".
 */
export function withSet(data: Data, values: Readonly<Record<string, unknown>>): Data {
  for (const [name, value] of Object.entries(values)) {
    if (isSet(value)) {
      data[name] = value;
    }
  }
  return data;
}

function isSet(value: unknown): boolean {
  if (value === undefined || value === '') {
    return false;
  }
  if (Array.isArray(value)) {
    return value.length > 0;
  }
  if (typeof value === 'object' && value !== null) {
    return Object.keys(value).length > 0;
  }
  return true;
}

/**
 * Parses a `data_json` field: "" is no data; anything else must be a JSON object. A malformed
 * value is refused with COFFER_API_INVALID_REQUEST; the message never quotes the text (it may
 * hold secrets).
 */
export function jsonObjectOf(message: Message, name: string): Data | undefined {
  const text = textOf(message, name);
  if (text.trim() === '') {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // NB: no cause: V8's SyntaxError quotes the text, which may hold secrets.
    throw new ApiError(
      ApiErrorCode.invalidRequest,
      `Send field "${name}" as a JSON object: the text is not valid JSON`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(
      ApiErrorCode.invalidRequest,
      `Send field "${name}" as a JSON object: the text is JSON but not an object`,
    );
  }
  return parsed as Data;
}
