/**
 * Goal: the `sys/leases/*` routes look up, renew, list, revoke and tidy leases with Vault's
 * field names, never show a lease's backend data, and mark the prefix routes sudo.
 * Method: handlers called directly with parsed fields over the lease_test_support harness.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { parseFields } from '../router/fields.ts';
import type { BackendResponse } from '../router/backend.ts';
import type { Operation, RequestData } from '../router/request.ts';
import { makeHarness, testMount, type Harness } from './lease_test_support.ts';

async function call(
  h: Harness,
  input: {
    pattern: string;
    operation?: Operation;
    data?: RequestData;
    params?: Record<string, string>;
  },
): Promise<BackendResponse> {
  const route = h.leases.backend().routes.find((r) => r.pattern === input.pattern);
  const operation = input.operation ?? 'update';
  const handler = route?.operations[operation];
  if (route === undefined || handler === undefined) {
    throw new Error(`no route ${input.pattern} ${operation}`);
  }
  const data = input.data ?? {};
  return handler({
    operation,
    path: input.pattern,
    params: input.params ?? {},
    fields: parseFields(route.fields ?? {}, data),
    data,
    storage: h.root.sub('unused/'),
    mount: testMount({ path: 'sys/', type: 'system' }),
    caller: undefined,
    clientAddress: undefined,
    requestId: 'r',
    nowMs: h.wall(),
  });
}

async function secret(h: Harness, path = 'creds/ro') {
  return h.leases.registerSecret({
    mount: testMount(),
    path,
    tokenKey: undefined,
    secret: { ttlSeconds: 600, renewable: true, internal: { password: 'hunter2' } },
    nowMs: h.wall(),
  });
}

describe('sys/leases routes', () => {
  it('leases/lookup answers Vault fields and never the backend data', async () => {
    const h = makeHarness();
    const { leaseId } = await secret(h);
    h.clock.advance(100_000);
    const answer = await call(h, { pattern: 'leases/lookup', data: { lease_id: leaseId } });
    expect(answer.data).toMatchObject({
      id: leaseId,
      renewable: true,
      ttl: 500,
      last_renewal: null,
      issue_time: new Date(h.wall() - 100_000).toISOString(),
    });
    expect(JSON.stringify(answer)).not.toContain('hunter2');
  });

  it('leases/renew and the older renew answer the new lease in data', async () => {
    const h = makeHarness();
    const { leaseId } = await secret(h);
    for (const pattern of ['leases/renew', 'renew']) {
      const answer = await call(h, { pattern, data: { lease_id: leaseId, increment: '20m' } });
      expect(answer.data).toEqual({ lease_id: leaseId, lease_duration: 1200, renewable: true });
    }
  });

  it('leases/lookup/*prefix lists children; revoke-prefix and revoke-force are sudo', async () => {
    const h = makeHarness();
    const ro = await secret(h);
    await secret(h, 'creds/rw');
    const listed = await call(h, {
      pattern: 'leases/lookup/*prefix',
      operation: 'list',
      params: { prefix: 'db/creds' },
    });
    expect(listed.data).toEqual({ keys: ['ro/', 'rw/'] });
    const routes = h.leases.backend().routes;
    for (const pattern of [
      'leases/lookup/*prefix',
      'leases/revoke-prefix/*prefix',
      'leases/revoke-force/*prefix',
      'leases/tidy',
    ]) {
      expect(routes.find((r) => r.pattern === pattern)?.sudo).toBe(true);
    }
    const revoked = await call(h, {
      pattern: 'leases/revoke-prefix/*prefix',
      params: { prefix: 'db/creds/ro' },
    });
    expect(revoked.data).toEqual({ revoked: 1 });
    await expect(
      call(h, { pattern: 'leases/lookup', data: { lease_id: ro.leaseId } }),
    ).rejects.toMatchObject({ code: CoreErrorCode.leaseInvalid });
  });

  it('leases/revoke revokes one lease; a missing lease_id is INVALID_REQUEST', async () => {
    const h = makeHarness();
    const { leaseId } = await secret(h);
    await call(h, { pattern: 'leases/revoke', data: { lease_id: leaseId } });
    expect(h.revokedSecrets).toEqual([leaseId]);
    expect(() => parseFields({ lease_id: { type: 'string', required: true } }, {})).toThrow();
    await expect(call(h, { pattern: 'leases/revoke', data: {} })).rejects.toMatchObject({
      code: CoreErrorCode.invalidRequest,
    });
  });

  it('leases/tidy and leases/irrevocable answer their reports', async () => {
    const h = makeHarness();
    // NB: snake_case, as every other response's data.
    expect((await call(h, { pattern: 'leases/tidy' })).data).toEqual({
      stale_index_keys: 0,
      restored_index_keys: 0,
      orphaned_leases: 0,
    });
    expect((await call(h, { pattern: 'leases/irrevocable', operation: 'read' })).data).toEqual({
      leases: [],
      cursor: null,
    });
  });
});
