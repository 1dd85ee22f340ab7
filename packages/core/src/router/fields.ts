/**
 * Typed request fields (Vault's framework field types, the ones Coffer needs). A route declares
 * its fields; the router parses a request's data against them before the handler runs, so every
 * API answers a wrong type or an unknown field with the same COFFER_CORE_INVALID_REQUEST.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { RequestData } from './request.ts';

/** The kinds of field values. */
export const FieldType = {
  string: 'string',
  /** A safe integer, from a number or a decimal string. */
  int: 'int',
  /** A boolean, from true/false or "true"/"false". */
  bool: 'bool',
  /** Seconds, from a number, a decimal string, or a Go-style duration ("90s", "1h30m"). */
  duration: 'duration',
  /** A list of strings, from an array or a comma-separated string (blanks dropped). */
  strings: 'strings',
  /** A list of safe integers, from an array or a comma-separated string. */
  ints: 'ints',
  /** An object of string values. */
  stringMap: 'stringMap',
  /** Any JSON object (KV data). */
  object: 'object',
} as const;
/** Union of {@link FieldType} values. */
export type FieldType = (typeof FieldType)[keyof typeof FieldType];

/** One declared field. */
export interface FieldSpec {
  readonly type: FieldType;
  readonly description?: string;
  readonly required?: boolean;
  /** The value when the field is absent. */
  readonly default?: unknown;
}

/** Parsed field values by name (absent fields without a default are undefined). */
export type FieldValues = Readonly<Record<string, unknown>>;

const durationUnitsSeconds: Readonly<Record<string, number>> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
};

/** The longest duration Coffer accepts: 100 years, in seconds. */
export const durationMaxSeconds = 100 * 365 * 86400;

function invalid(field: string, expected: string): CoreError {
  return new CoreError(
    CoreErrorCode.invalidRequest,
    `Send ${expected} for field "${field}": the value given is not one`,
  );
}

/**
 * Seconds in a duration: a non-negative number or decimal string (seconds), or a Go-style
 * duration such as "90s", "15m", "1h30m", "7d". Fractions of a second are truncated.
 */
export function parseDurationSeconds(value: unknown, field = 'ttl'): number {
  let seconds: number | undefined;
  if (typeof value === 'number') {
    seconds = value;
  } else if (typeof value === 'string') {
    const text = value.trim();
    if (/^\d+$/.test(text)) {
      seconds = Number(text);
    } else if (/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) {
      seconds = 0;
      for (const [, amount, , unit] of text.matchAll(/(\d+(\.\d+)?)(ms|s|m|h|d)/g)) {
        seconds += Number(amount) * (durationUnitsSeconds[unit ?? 's'] ?? 1);
      }
    }
  }
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    throw invalid(field, 'a duration ("90s", "1h30m", or whole seconds)');
  }
  if (seconds > durationMaxSeconds) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      `Send a shorter duration for field "${field}": at most ${durationMaxSeconds} seconds (100 years)`,
    );
  }
  return Math.floor(seconds);
}

function parseValue(field: string, spec: FieldSpec, value: unknown): unknown {
  switch (spec.type) {
    case FieldType.string:
      if (typeof value === 'string') {
        return value;
      }
      if (typeof value === 'number' || typeof value === 'boolean') {
        return String(value);
      }
      throw invalid(field, 'a string');
    case FieldType.int: {
      const number =
        typeof value === 'number'
          ? value
          : typeof value === 'string' && /^-?\d+$/.test(value.trim())
            ? Number(value.trim())
            : Number.NaN;
      if (!Number.isSafeInteger(number)) {
        throw invalid(field, 'an integer');
      }
      return number;
    }
    case FieldType.bool:
      if (typeof value === 'boolean') {
        return value;
      }
      if (value === 'true' || value === 'false') {
        return value === 'true';
      }
      throw invalid(field, 'true or false');
    case FieldType.duration:
      // NB: a caller's number is whole seconds, as the error says: a fraction is refused, not
      // truncated (stored policy text keeps parseDurationSeconds' truncation).
      if (typeof value === 'number' && !Number.isInteger(value)) {
        throw invalid(field, 'a duration ("90s", "1h30m", or whole seconds)');
      }
      return parseDurationSeconds(value, field);
    case FieldType.strings:
      if (typeof value === 'string') {
        return value
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
      }
      if (Array.isArray(value) && value.every((s) => typeof s === 'string')) {
        return value.map((s: string) => s.trim()).filter((s) => s !== '');
      }
      throw invalid(field, 'a list of strings (an array, or a comma-separated string)');
    case FieldType.ints: {
      const items: unknown[] =
        typeof value === 'string'
          ? value
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== '')
          : Array.isArray(value)
            ? value
            : [value];
      return items.map((item) => parseValue(field, { type: FieldType.int }, item));
    }
    case FieldType.stringMap:
      if (isPlainObject(value) && Object.values(value).every((v) => typeof v === 'string')) {
        return { ...value };
      }
      throw invalid(field, 'an object of string values');
    case FieldType.object:
      if (isPlainObject(value)) {
        return value;
      }
      throw invalid(field, 'a JSON object');
  }
}

/** True for a JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses `data` against `specs`: refuses unknown fields, wrong types and missing required
 * fields with COFFER_CORE_INVALID_REQUEST; applies defaults.
 */
export function parseFields(
  specs: Readonly<Record<string, FieldSpec>>,
  data: RequestData,
): FieldValues {
  const unknown = Object.keys(data).filter((name) => !Object.hasOwn(specs, name));
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).map((n) => JSON.stringify(n.slice(0, 64)));
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      `Remove the unknown field${unknown.length > 1 ? 's' : ''} ${shown.join(', ')}: this path takes ${
        Object.keys(specs).length === 0 ? 'no fields' : Object.keys(specs).join(', ')
      }`,
    );
  }
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const given = data[name];
    if (given === undefined || given === null) {
      if (spec.required === true) {
        throw new CoreError(CoreErrorCode.invalidRequest, `Send the required field "${name}"`);
      }
      values[name] = spec.default;
      continue;
    }
    values[name] = parseValue(name, spec, given);
  }
  return values;
}
