/**
 * Goal: durations print as Go's time.Duration does and instants as RFC 3339 in UTC.
 * Method: table of inputs and Go's own output.
 */
import { describe, expect, it } from 'vitest';

import { goDuration, rfc3339 } from './kv_format.ts';

describe('kv format', () => {
  it('goDuration prints like Go', () => {
    expect(goDuration(0)).toBe('0s');
    expect(goDuration(45)).toBe('45s');
    expect(goDuration(90)).toBe('1m30s');
    expect(goDuration(3600)).toBe('1h0m0s');
    expect(goDuration(5400)).toBe('1h30m0s');
    expect(goDuration(172800)).toBe('48h0m0s');
  });

  it('rfc3339 prints UTC with milliseconds', () => {
    expect(rfc3339(Date.UTC(2026, 10, 25, 23, 0, 1, 5))).toBe('2026-11-25T23:00:01.005Z');
  });
});
