/**
 * Goal: a duration field of a request takes what its error promises ("90s", "1h30m", or whole
 * seconds) and refuses the rest with COFFER_CORE_INVALID_REQUEST: a fractional number of
 * seconds is refused, not floored behind the caller's back. Policy text, parsed with
 * parseDurationSeconds directly, keeps truncating, so a stored policy with `1.5` still loads.
 * Method: parseFields and parseDurationSeconds on literal inputs.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { FieldType, parseDurationSeconds, parseFields } from './fields.ts';

const specs = { ttl: { type: FieldType.duration } } as const;

describe('duration fields', () => {
  it('take whole seconds, as a number or text, and Go-style durations', () => {
    for (const [value, seconds] of [
      [60, 60],
      ['60', 60],
      ['1h30m', 5400],
      ['1.5h', 5400],
    ] as const) {
      expect(parseFields(specs, { ttl: value })['ttl']).toBe(seconds);
    }
  });

  it.each([60.5, -1, Number.NaN, '60.5', '1x', '', true])('refuse %s', (value) => {
    expect(() => parseFields(specs, { ttl: value })).toThrow(
      expect.objectContaining({ code: CoreErrorCode.invalidRequest }),
    );
  });

  it('parseDurationSeconds still truncates a fraction (stored policies written with one load)', () => {
    expect(parseDurationSeconds(1.5, 'min_wrapping_ttl')).toBe(1);
  });
});
