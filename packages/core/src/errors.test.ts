/**
 * Goal: CoreError carries a stable code and its cause, and every code follows the
 * "COFFER_CORE_<WHAT>" shape of STYLE.md 5.2.
 * Method: construct errors directly and inspect the codes object; no I/O.
 */
import { describe, expect, it } from 'vitest';

import { CoreError, CoreErrorCode } from './errors.ts';

describe('CoreError', () => {
  it('CoreError carries its code and cause when wrapping', () => {
    const cause = new Error('underlying failure');
    const error = new CoreError(CoreErrorCode.sealed, 'Cannot do the thing: it failed', { cause });
    expect(error.code).toBe(CoreErrorCode.sealed);
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('CoreError');
    expect(error).toBeInstanceOf(Error);
  });

  it('CoreErrorCode values are unique COFFER_CORE_ strings', () => {
    const codes = Object.values(CoreErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) {
      expect(code).toMatch(/^COFFER_CORE_[A-Z][A-Z0-9_]*$/);
    }
  });
});
