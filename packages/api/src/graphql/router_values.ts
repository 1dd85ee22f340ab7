/**
 * Readers of the core router's answers and of GraphQL arguments, for the field routes. Core's
 * answers use Vault's snake_case names; these readers check each value's type and hand back
 * the GraphQL value. A core answer of the wrong shape is a bug of this package or of core: it
 * throws ApiError COFFER_API_INTERNAL, which the error mask turns into a fixed message.
 *
 * Invariant: no message here quotes a value, only the name of the field.
 */
import { ApiError, ApiErrorCode } from '../errors.ts';

/** A JSON-like object. */
export type Fields = Readonly<Record<string, unknown>>;

/** A key and its value, the GraphQL form of a string map. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

function malformed(name: string): ApiError {
  return new ApiError(
    ApiErrorCode.internal,
    `Report a bug: the router's answer has no valid "${name}"`,
  );
}

/** `value` as an object; throws when it is not one. */
export function objectOf(value: unknown, name: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(name);
  }
  return value as Fields;
}

/** The string at `name`. */
export function textAt(fields: Fields, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string') {
    throw malformed(name);
  }
  return value;
}

/** The string at `name`, or null when it is absent or null. */
export function optionalTextAt(fields: Fields, name: string): string | null {
  const value = fields[name];
  return value === undefined || value === null ? null : textAt(fields, name);
}

/** The number at `name`. */
export function numberAt(fields: Fields, name: string): number {
  const value = fields[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw malformed(name);
  }
  return value;
}

/** The number at `name`, or null when it is absent or null. */
export function optionalNumberAt(fields: Fields, name: string): number | null {
  const value = fields[name];
  return value === undefined || value === null ? null : numberAt(fields, name);
}

/** The boolean at `name`. */
export function flagAt(fields: Fields, name: string): boolean {
  const value = fields[name];
  if (typeof value !== 'boolean') {
    throw malformed(name);
  }
  return value;
}

/** The list of strings at `name`; absent or null is an empty list. */
export function textsAt(fields: Fields, name: string): string[] {
  const value = fields[name];
  if (value === undefined || value === null) {
    return [];
  }
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw malformed(name);
  }
  return value;
}

/** The string map at `name` as key-value pairs, sorted by key; absent or null is empty. */
export function keyValuesAt(fields: Fields, name: string): KeyValue[] {
  const value = fields[name];
  if (value === undefined || value === null) {
    return [];
  }
  return Object.entries(objectOf(value, name))
    .map(([key, item]) => ({ key, value: typeof item === 'string' ? item : JSON.stringify(item) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Key-value pairs given as an argument, as the string map the router takes. */
export function mapOfPairs(pairs: unknown): Record<string, string> | undefined {
  if (!Array.isArray(pairs)) {
    return undefined;
  }
  const map: Record<string, string> = {};
  for (const pair of pairs as readonly KeyValue[]) {
    map[pair.key] = pair.value;
  }
  return map;
}

/**
 * A path part from an argument: non-empty and, for a one-segment part, without a slash, so the
 * request matches the path pattern the field declares. Throws COFFER_API_INVALID_REQUEST.
 */
export function pathPartArgument(args: Fields, name: string, shape: 'segment' | 'rest'): string {
  const value = args[name];
  const bad =
    typeof value !== 'string' ||
    value === '' ||
    value.length > 1024 ||
    (shape === 'segment' && value.includes('/'));
  if (bad) {
    throw new ApiError(
      ApiErrorCode.invalidRequest,
      shape === 'segment'
        ? `Give argument "${name}" as one non-empty path segment (no "/")`
        : `Give argument "${name}" as a non-empty path of at most 1024 characters`,
    );
  }
  return value;
}

/** `fields` without its undefined and null members (GraphQL gives null for an omitted arg). */
export function definedOnly(fields: Fields): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined && value !== null),
  );
}
