/**
 * Goal: StorageError carries a stable code and its cause, and every code follows the
 * "COFFER_STORAGE_<WHAT>" shape of STYLE.md 5.2.
 * Method: construct errors directly and inspect the codes object; no I/O.
 */
import { describe, expect, it } from 'vitest';

import { StorageError, StorageErrorCode } from './errors.ts';

describe('StorageError', () => {
  it('StorageError carries its code and cause when wrapping', () => {
    const cause = new Error('underlying failure');
    const error = new StorageError(StorageErrorCode.notOpen, 'Cannot do the thing: it failed', {
      cause,
    });
    expect(error.code).toBe(StorageErrorCode.notOpen);
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('StorageError');
    expect(error).toBeInstanceOf(Error);
  });

  it('StorageErrorCode values are unique COFFER_STORAGE_ strings', () => {
    const codes = Object.values(StorageErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) {
      expect(code).toMatch(/^COFFER_STORAGE_[A-Z][A-Z0-9_]*$/);
    }
  });
});
