/**
 * Goal: entries hash tokens, accessors (unless hmac_accessor is false), metadata values and data
 * strings, keep the rest in clear, omit absent blocks, and accept the router's record shapes
 * (policies, timeMs, lease, AuthInfo's leaseDurationSeconds, an error object).
 * With a device's memo (the caller's token hash found by its token key, the accessor's by
 * itself, the request data hashed once for both lines of a request), entries are the same.
 * Method: hand-built inputs formatted with a fresh salt, compared field by field.
 */
import { describe, expect, it } from 'vitest';

import { formatRequestEntry, formatResponseEntry } from './audit_entry.ts';
import { AuditHashMemo, auditHash, newAuditSalt } from './audit_hash.ts';

describe('formatRequestEntry', () => {
  const input = {
    requestId: 'r1',
    operation: 'read',
    path: 'secret/data/a',
    clientToken: 'token-secret',
    clientTokenAccessor: 'accessor-public',
  };

  it('formatRequestEntry hashes the token and accessor, and keeps the accessor with hmac_accessor false', () => {
    const salt = newAuditSalt();
    const hashed = formatRequestEntry({ salt, hmacAccessor: true }, input, 0);
    expect(hashed.request).toMatchObject({
      client_token: auditHash(salt, 'token-secret'),
      client_token_accessor: auditHash(salt, 'accessor-public'),
      path: 'secret/data/a',
    });
    const clear = formatRequestEntry({ salt, hmacAccessor: false }, input, 0);
    expect(clear.request.client_token_accessor).toBe('accessor-public');
    expect(clear.request.client_token).toBe(auditHash(salt, 'token-secret'));
  });

  it('formatRequestEntry and formatResponseEntry record a stale read and its applied index', () => {
    const hashing = { salt: newAuditSalt(), hmacAccessor: true };
    const stale = { ...input, staleRead: { appliedIndex: 77 } };
    expect(formatRequestEntry(hashing, stale, 0).request.stale_read).toEqual({ applied_index: 77 });
    expect(formatResponseEntry(hashing, stale, 0).request.stale_read).toEqual({
      applied_index: 77,
    });
    expect(formatRequestEntry(hashing, input, 0).request.stale_read).toBeUndefined();
  });

  it('formatResponseEntry keeps the error and omits absent blocks', () => {
    const salt = newAuditSalt();
    const entry = formatResponseEntry(
      { salt, hmacAccessor: true },
      { ...input, error: 'COFFER_CORE_PERMISSION_DENIED: Use a token with access' },
      Date.UTC(2026, 10, 25),
    );
    const json = JSON.parse(JSON.stringify(entry)) as Record<string, unknown>;
    expect(json).toEqual({
      type: 'response',
      time: '2026-11-25T00:00:00.000Z',
      request: {
        id: 'r1',
        operation: 'read',
        path: 'secret/data/a',
        client_token: auditHash(salt, 'token-secret'),
        client_token_accessor: auditHash(salt, 'accessor-public'),
      },
      error: 'COFFER_CORE_PERMISSION_DENIED: Use a token with access',
    });
  });

  it('formatResponseEntry takes the router record shapes: error object, lease, AuthInfo, policies', () => {
    const salt = newAuditSalt();
    const hashing = { salt, hmacAccessor: true };
    const router = {
      ...input,
      policies: ['default', 'app'],
      timeMs: Date.UTC(2026, 0, 2),
      response: {
        data: { n: 1 },
        lease: { leaseId: 'kv/creds/1', ttlSeconds: 60, renewable: true },
        auth: {
          clientToken: 'issued-token',
          accessor: 'issued-accessor',
          policies: ['app'],
          metadata: { role: 'r' },
          leaseDurationSeconds: 900,
        },
      },
      error: { code: 'COFFER_CORE_INTERNAL', message: 'Retry later' },
    };
    expect(formatRequestEntry(hashing, router, 5)).toMatchObject({
      time: '2026-01-02T00:00:00.000Z',
      auth: { policies: ['default', 'app'] },
    });
    expect(formatResponseEntry(hashing, router, Date.UTC(2026, 0, 3))).toMatchObject({
      time: '2026-01-03T00:00:00.000Z',
      auth: { policies: ['default', 'app'] },
      response: {
        data: { n: 1 },
        secret: { lease_id: 'kv/creds/1' },
        auth: {
          client_token: auditHash(salt, 'issued-token'),
          accessor: auditHash(salt, 'issued-accessor'),
          policies: ['app'],
          token_ttl: 900,
          metadata: { role: auditHash(salt, 'r') },
        },
      },
      error: 'COFFER_CORE_INTERNAL: Retry later',
    });
  });

  it('a device memo gives the same lines, and hashes request data once per request', () => {
    const salt = newAuditSalt();
    const plain = { salt, hmacAccessor: true };
    const memo = { ...plain, memo: new AuditHashMemo(salt) };
    const data = { data: { password: 'p1' } };
    const request = { ...input, clientTokenKey: 'key-of-token-secret', data };
    const response = { ...request, response: { data: { ok: 'yes' } }, error: undefined };
    for (let round = 0; round < 2; round++) {
      const requestLine = formatRequestEntry(memo, request, 7);
      expect(requestLine).toEqual(formatRequestEntry(plain, request, 7));
      expect(formatResponseEntry(memo, response, 8)).toEqual(
        formatResponseEntry(plain, response, 8),
      );
      expect(requestLine.request).toMatchObject({
        client_token: auditHash(salt, 'token-secret'),
        client_token_accessor: auditHash(salt, 'accessor-public'),
        data: { data: { password: auditHash(salt, 'p1') } },
      });
      expect(JSON.stringify(requestLine)).not.toContain('key-of-token-secret');
    }
    // The response line took the request's hashed data back: the same object is hashed anew.
    data.data.password = 'p2';
    expect(formatRequestEntry(memo, request, 9).request.data).toEqual({
      data: { password: auditHash(salt, 'p2') },
    });
  });
});
