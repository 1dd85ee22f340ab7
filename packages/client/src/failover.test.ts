/**
 * Goal: isFailoverRetryable moves exactly the failures another node may serve (UNAVAILABLE
 * without a Coffer code, COFFER_CORE_NOT_ACTIVE, COFFER_CORE_NOT_READY) and no refusal, deadline
 * or cancel; failoverBackoffMs doubles from 50 ms to a 1 s ceiling with equal jitter.
 * Method: plain TransportFailure values and fixed random sources; no I/O.
 */
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';

import { failoverBackoffMs, isFailoverRetryable } from './failover.ts';
import type { TransportFailure } from './grpc_transport.ts';

function failureOf(grpcCode: number, serverCode?: string): TransportFailure {
  const trailers = serverCode === undefined ? {} : { 'coffer-error-code': serverCode };
  return { grpcCode, details: 'd', trailers, error: new Error('d') };
}

describe('failover', () => {
  it.each([
    [status.UNAVAILABLE, undefined],
    [status.UNAVAILABLE, 'COFFER_CORE_NOT_ACTIVE'],
    [status.UNAVAILABLE, 'COFFER_CORE_NOT_READY'],
    [status.FAILED_PRECONDITION, 'COFFER_CORE_REMOVED'],
    [status.INTERNAL, 'COFFER_CORE_NOT_ACTIVE'],
  ])('isFailoverRetryable retries status %i with code %s', (grpcCode, serverCode) => {
    expect(isFailoverRetryable(failureOf(grpcCode, serverCode))).toBe(true);
  });

  it.each([
    [status.PERMISSION_DENIED, 'COFFER_CORE_PERMISSION_DENIED'],
    [status.INVALID_ARGUMENT, 'COFFER_API_INVALID_REQUEST'],
    [status.RESOURCE_EXHAUSTED, 'COFFER_CORE_RATE_LIMITED'],
    [status.UNAVAILABLE, 'COFFER_CORE_SEALED'],
    [status.UNAVAILABLE, 'COFFER_API_METRICS_UNAVAILABLE'],
    [status.DEADLINE_EXCEEDED, undefined],
    [status.CANCELLED, undefined],
    [status.UNIMPLEMENTED, undefined],
    [status.INTERNAL, undefined],
  ])('isFailoverRetryable does not retry status %i with code %s', (grpcCode, serverCode) => {
    expect(isFailoverRetryable(failureOf(grpcCode, serverCode))).toBe(false);
  });

  it('failoverBackoffMs doubles from 25-50 ms to 500-1000 ms', () => {
    const low = [0, 1, 2, 3, 4, 5, 6, 40].map((retry) => failoverBackoffMs(retry, () => 0));
    const high = [0, 1, 2, 3, 4, 5, 6, 40].map((retry) =>
      failoverBackoffMs(retry, () => 0.999_999),
    );
    expect(low).toEqual([25, 50, 100, 200, 400, 500, 500, 500]);
    expect(high).toEqual([49, 99, 199, 399, 799, 999, 999, 999]);
    expect(failoverBackoffMs(2, () => 0.5)).toBe(150);
  });
});
