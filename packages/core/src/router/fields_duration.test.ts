/**
 * Goal: a duration field takes what its error promises ("90s", "1h30m", or whole seconds) and
 * refuses the rest with COFFER_CORE_INVALID_REQUEST: a fractional number of seconds is refused,
 * not floored behind the caller's back.
 * Method: parseDurationSeconds on literal inputs.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { parseDurationSeconds } from './fields.ts';

describe('parseDurationSeconds', () => {
  it('takes whole seconds, as a number or text, and Go-style durations', () => {
    expect(parseDurationSeconds(60)).toBe(60);
    expect(parseDurationSeconds('60')).toBe(60);
    expect(parseDurationSeconds('1h30m')).toBe(5400);
    expect(parseDurationSeconds('1.5h')).toBe(5400);
  });

  it.each([60.5, -1, Number.NaN, '60.5', '1x', '', true])('refuses %s', (value) => {
    expect(() => parseDurationSeconds(value, 'ttl')).toThrow(
      expect.objectContaining({ code: CoreErrorCode.invalidRequest }),
    );
  });
});
