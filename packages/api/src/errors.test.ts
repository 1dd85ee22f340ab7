/**
 * Goal: ApiError carries a stable code and its cause, and every code follows the
 * "COFFER_API_<WHAT>" shape of STYLE.md 5.2.
 * Method: construct errors directly and inspect the codes object; no I/O.
 */
import { describe, expect, it } from 'vitest';

import { ApiError, ApiErrorCode } from './errors.ts';

describe('ApiError', () => {
  it('ApiError carries its code and cause when wrapping', () => {
    const cause = new Error('underlying failure');
    const error = new ApiError(ApiErrorCode.invalidRequest, 'Cannot do the thing: it failed', {
      cause,
    });
    expect(error.code).toBe(ApiErrorCode.invalidRequest);
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('ApiError');
    expect(error).toBeInstanceOf(Error);
  });

  it('ApiErrorCode values are unique COFFER_API_ strings', () => {
    const codes = Object.values(ApiErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) {
      expect(code).toMatch(/^COFFER_API_[A-Z][A-Z0-9_]*$/);
    }
  });
});
