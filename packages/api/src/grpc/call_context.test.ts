/**
 * Goal: the call-level parts of a request are read strictly and never echoed: one printable
 * ASCII token or a refusal that does not quote it; the wrap TTL as whole seconds; a request id
 * of [A-Za-z0-9._-] up to 128 characters, else a fresh one; the peer's IP literal; and a passed
 * deadline told from a future or absent one. Refusals and the status table agree: every code of
 * @coffer/core and @coffer/api has a gRPC status, and a refusal's trailers carry the code.
 * Method: grpc-js Metadata built by hand; fixed instants for deadlines (no clock).
 */
import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '@coffer/core';

import { ApiErrorCode } from '../errors.ts';
import { malformedToken } from '../token_value.ts';
import { callContextOf, deadlinePassed, peerAddressOf } from './call_context.ts';
import { refusalStatusOf } from './response_message.ts';
import { grpcStatusOf, statusOf } from './status_table.ts';

function metadataOf(entries: readonly [string, string | Buffer][]): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of entries) {
    metadata.add(key, value);
  }
  return metadata;
}

describe('callContextOf', () => {
  it('reads token, wrap TTL and request id', () => {
    const context = callContextOf(
      metadataOf([
        ['coffer-token', 'cfr.abc'],
        ['coffer-wrap-ttl', '60'],
        ['coffer-request-id', 'req.1_a-b'],
      ]),
    );
    expect(context).toEqual({ token: 'cfr.abc', wrapTtlSeconds: 60, requestId: 'req.1_a-b' });
  });

  it('leaves out an absent token, wrap TTL and request id (the node makes the id)', () => {
    const context = callContextOf(new Metadata());
    expect(context).toEqual({});
  });

  it('drops a request id that is too long or has other characters', () => {
    for (const id of ['x'.repeat(129), 'a b', 'a:b', 'a/b']) {
      const context = callContextOf(metadataOf([['coffer-request-id', id]]));
      expect(context.requestId).toBeUndefined();
    }
    expect(callContextOf(metadataOf([['coffer-request-id', 'x'.repeat(128)]])).requestId).toBe(
      'x'.repeat(128),
    );
  });

  it('hands the router a value that cannot be a token as the malformed token', () => {
    for (const value of ['has space', 'x'.repeat(513)]) {
      expect(callContextOf(metadataOf([['coffer-token', value]])).token).toBe(malformedToken);
    }
    expect(callContextOf(metadataOf([['coffer-token', 'x'.repeat(512)]])).token).toBe(
      'x'.repeat(512),
    );
  });

  it('refuses a repeated token without quoting it', () => {
    const cases: [string, string | Buffer][][] = [
      [
        ['coffer-token', 'cfr.first'],
        ['coffer-token', 'cfr.second'],
      ],
    ];
    for (const entries of cases) {
      let message = '';
      expect(() => {
        try {
          callContextOf(metadataOf(entries));
        } catch (error) {
          message = (error as Error).message;
          throw error;
        }
      }).toThrow(expect.objectContaining({ code: 'COFFER_API_INVALID_REQUEST' }));
      for (const [, value] of entries) {
        expect(message).not.toContain(String(value));
      }
    }
  });

  it('reads the consistency as stale or linearizable and refuses anything else', () => {
    expect(callContextOf(metadataOf([['coffer-consistency', 'stale']])).consistency).toBe('stale');
    expect(callContextOf(metadataOf([['coffer-consistency', 'linearizable']])).consistency).toBe(
      'linearizable',
    );
    expect(callContextOf(new Metadata())).not.toHaveProperty('consistency');
    for (const entries of [
      [['coffer-consistency', 'STALE']],
      [['coffer-consistency', '']],
      [
        ['coffer-consistency', 'stale'],
        ['coffer-consistency', 'stale'],
      ],
    ] as [string, string][][]) {
      expect(() => callContextOf(metadataOf(entries))).toThrow(
        expect.objectContaining({ code: 'COFFER_API_INVALID_REQUEST' }),
      );
    }
  });

  it('refuses a wrap TTL that is not whole seconds', () => {
    for (const ttl of ['5m', '-1', '1.5', '']) {
      expect(() => callContextOf(metadataOf([['coffer-wrap-ttl', ttl]]))).toThrow(/whole seconds/);
    }
  });
});

describe('peerAddressOf', () => {
  it('gives the IP literal of IPv4 and IPv6 peers', () => {
    expect(peerAddressOf('ipv4:127.0.0.1:5000')).toBe('127.0.0.1');
    expect(peerAddressOf('127.0.0.1:5000')).toBe('127.0.0.1');
    expect(peerAddressOf('ipv6:[::1]:5000')).toBe('::1');
    expect(peerAddressOf('[fe80::1%eth0]:5000')).toBe('fe80::1%eth0');
    expect(peerAddressOf('unix:/tmp/sock')).toBeUndefined();
    expect(peerAddressOf('unknown')).toBeUndefined();
  });
});

describe('deadlinePassed', () => {
  it('tells a passed deadline from a future or absent one', () => {
    expect(deadlinePassed(1000, 1000)).toBe(true);
    expect(deadlinePassed(new Date(999), 1000)).toBe(true);
    expect(deadlinePassed(1001, 1000)).toBe(false);
    expect(deadlinePassed(Infinity, 1000)).toBe(false);
  });
});

describe('statusOf', () => {
  it('maps every core and api code to a gRPC status', () => {
    for (const code of [...Object.values(CoreErrorCode), ...Object.values(ApiErrorCode)]) {
      expect(Object.values(status)).toContain(statusOf[code]);
    }
    expect(statusOf.COFFER_CORE_PERMISSION_DENIED).toBe(status.PERMISSION_DENIED);
    expect(statusOf.COFFER_CORE_SEALED).toBe(status.UNAVAILABLE);
    expect(grpcStatusOf('COFFER_FUTURE_CODE')).toBe(status.INTERNAL);
    expect(grpcStatusOf('toString')).toBe(status.INTERNAL);
  });

  it('puts the code, request id and retry-after in the refusal trailers', () => {
    const refusal = refusalStatusOf({
      code: 'COFFER_CORE_RATE_LIMITED',
      message: 'Retry later',
      requestId: 'r1',
      retryAfterMs: 1500.2,
    });
    expect(refusal.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(refusal.details).toBe('Retry later');
    expect(refusal.metadata?.get('coffer-error-code')).toEqual(['COFFER_CORE_RATE_LIMITED']);
    expect(refusal.metadata?.get('coffer-request-id')).toEqual(['r1']);
    expect(refusal.metadata?.get('coffer-retry-after-ms')).toEqual(['1501']);
    expect(refusal.metadata?.get('coffer-stale-applied-index')).toEqual([]);
  });

  it('refuses the stale-read option as INVALID_ARGUMENT and marks a stale refusal', () => {
    expect(statusOf.COFFER_CORE_STALE_READ_REFUSED).toBe(status.INVALID_ARGUMENT);
    const refusal = refusalStatusOf({
      code: 'COFFER_CORE_NOT_FOUND',
      message: 'Check the path',
      requestId: 'r2',
      staleAppliedIndex: 42,
    });
    expect(refusal.metadata?.get('coffer-stale-applied-index')).toEqual(['42']);
  });
});
