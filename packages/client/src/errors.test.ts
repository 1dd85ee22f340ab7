/**
 * Goal: CofferClientError carries a code, a gRPC status and an optional retry hint, and every
 * ClientErrorCode follows the "COFFER_CLIENT_<WHAT>" shape of STYLE.md 5.2.
 * Method: construct errors directly and inspect the codes object; no I/O.
 */
import { describe, expect, it } from 'vitest';

import { ClientErrorCode, CofferClientError } from './errors.ts';

describe('CofferClientError', () => {
  it('CofferClientError carries its code, gRPC status, retry hint and cause', () => {
    const cause = new Error('underlying failure');
    const error = new CofferClientError('COFFER_CORE_SEALED', 'Unseal the node first', {
      grpcCode: 14,
      retryAfterMs: 250,
      cause,
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('CofferClientError');
    expect([error.code, error.grpcCode, error.retryAfterMs]).toEqual([
      'COFFER_CORE_SEALED',
      14,
      250,
    ]);
    expect(error.cause).toBe(cause);
  });

  it('CofferClientError defaults to gRPC status UNKNOWN and no retry hint', () => {
    const error = new CofferClientError(ClientErrorCode.invalidAddress, 'Give an address');
    expect(error.grpcCode).toBe(2);
    expect(error.retryAfterMs).toBeUndefined();
    expect(error.cause).toBeUndefined();
  });

  it('ClientErrorCode values are unique COFFER_CLIENT_ strings', () => {
    const codes = Object.values(ClientErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) {
      expect(code).toMatch(/^COFFER_CLIENT_[A-Z][A-Z0-9_]*$/);
    }
  });
});
