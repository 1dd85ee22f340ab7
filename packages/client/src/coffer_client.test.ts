/**
 * Goal: every CofferClient method is exactly one call of its gRPC method with the fields mapped
 * from the client's camelCase shape; the token, wrap TTL, request id and deadline travel as
 * common.proto says; data objects round-trip through data_json; and the Response decodes.
 * Method: a RecordingServer (grpc-js over real TLS on 127.0.0.1, every coffer.v1 service from
 * the same package definition) records what arrives; each case calls one method and compares
 * the recorded call. The case table must name every method the server registers.
 */
import { inspect } from 'node:util';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import type { CofferResponse } from './client_api.ts';
import { CofferClient } from './coffer_client.ts';
import { echoMethodReply, RecordingServer } from './testing/recording_server.ts';
import type { Response } from './generated/coffer/v1/Response.ts';
import { createTestTls, type TestTls } from './testing/test_tls.ts';

interface MethodCase {
  readonly method: string;
  readonly invoke: (client: CofferClient) => Promise<CofferResponse>;
  readonly request: Readonly<Record<string, unknown>>;
}

const mountEnable = {
  path: 'kv2',
  type: 'kv',
  description: 'team secrets',
  defaultLeaseTtl: '1h',
  maxLeaseTtl: '24h',
  options: { version: '2' },
};
const mountEnableRequest = {
  path: 'kv2',
  type: 'kv',
  description: 'team secrets',
  default_lease_ttl: '1h',
  max_lease_ttl: '24h',
  options: { version: '2' },
};

const systemCases: MethodCase[] = [
  {
    method: 'System/Init',
    invoke: (c) => c.sys.init({ secretShares: 5, secretThreshold: 3 }),
    request: {
      secret_shares: 5,
      secret_threshold: 3,
      generate_hsm_key: false,
      break_glass_shares: 0,
      break_glass_threshold: 0,
    },
  },
  {
    method: 'System/Unseal',
    invoke: (c) => c.sys.unseal({ key: 'share-1', migrate: true }),
    request: { key: 'share-1', reset: false, break_glass: false, migrate: true },
  },
  { method: 'System/SealStatus', invoke: (c) => c.sys.sealStatus(), request: {} },
  { method: 'System/Health', invoke: (c) => c.sys.health(), request: {} },
  { method: 'System/Seal', invoke: (c) => c.sys.seal(), request: {} },
  { method: 'System/StepDown', invoke: (c) => c.sys.stepDown(), request: {} },
  {
    method: 'System/RekeyInit',
    invoke: (c) => c.sys.rekeyInit({ secretShares: 7, secretThreshold: 4 }),
    request: { secret_shares: 7, secret_threshold: 4 },
  },
  {
    method: 'System/RekeyUpdate',
    invoke: (c) => c.sys.rekeyUpdate({ key: 'share-2', nonce: 'n-1' }),
    request: { key: 'share-2', nonce: 'n-1' },
  },
  { method: 'System/RekeyStatus', invoke: (c) => c.sys.rekeyStatus(), request: {} },
  { method: 'System/RekeyCancel', invoke: (c) => c.sys.rekeyCancel(), request: {} },
  { method: 'System/Rotate', invoke: (c) => c.sys.rotate(), request: {} },
  { method: 'System/KeyStatus', invoke: (c) => c.sys.keyStatus(), request: {} },
  {
    method: 'System/GenerateRootInit',
    invoke: (c) => c.sys.generateRootInit({ otp: 'otp-1' }),
    request: { otp: 'otp-1' },
  },
  {
    method: 'System/GenerateRootUpdate',
    invoke: (c) => c.sys.generateRootUpdate({ key: 'share-3', nonce: 'n-2' }),
    request: { key: 'share-3', nonce: 'n-2' },
  },
  { method: 'System/GenerateRootStatus', invoke: (c) => c.sys.generateRootStatus(), request: {} },
  { method: 'System/GenerateRootCancel', invoke: (c) => c.sys.generateRootCancel(), request: {} },
];

const authCases: MethodCase[] = [
  {
    method: 'Auth/AppRoleLogin',
    invoke: (c) => c.auth.appRoleLogin({ roleId: 'role-1', secretId: 'sid-1' }),
    request: { mount: 'approle', role_id: 'role-1', secret_id: 'sid-1' },
  },
  {
    method: 'Auth/TokenCreate',
    invoke: (c) =>
      c.auth.tokenCreate({
        policies: ['app'],
        ttl: '1h',
        explicitMaxTtl: '2h',
        period: '30m',
        noParent: true,
        noDefaultPolicy: true,
        numUses: 3,
        renewable: false,
        displayName: 'app',
        metadata: { team: 'a' },
      }),
    request: {
      policies: ['app'],
      ttl: '1h',
      explicit_max_ttl: '2h',
      period: '30m',
      no_parent: true,
      no_default_policy: true,
      num_uses: 3,
      not_renewable: true,
      display_name: 'app',
      metadata: { team: 'a' },
    },
  },
  {
    method: 'Auth/TokenLookup',
    invoke: (c) => c.auth.tokenLookup({ token: 'other-token' }),
    request: { token: 'other-token' },
  },
  {
    method: 'Auth/TokenRenew',
    invoke: (c) => c.auth.tokenRenew({ increment: '15m' }),
    request: { token: '', increment: '15m' },
  },
  { method: 'Auth/TokenRevoke', invoke: (c) => c.auth.tokenRevoke(), request: { token: '' } },
  {
    method: 'Auth/TokenRevokeAccessor',
    invoke: (c) => c.auth.tokenRevokeAccessor({ accessor: 'acc-1' }),
    request: { accessor: 'acc-1' },
  },
];

const kvCases: MethodCase[] = [
  {
    method: 'Kv/Get',
    invoke: (c) => c.kv.get({ path: 'app/db', version: 2 }),
    request: { mount: 'secret', path: 'app/db', version: 2 },
  },
  {
    method: 'Kv/Put',
    invoke: (c) => c.kv.put({ mount: 'kv2', path: 'app/db', data: { password: 'pw' }, cas: 0 }),
    // cas 0 is sent (proto3 optional): "write only if absent", not "no check-and-set".
    request: { mount: 'kv2', path: 'app/db', data_json: '{"password":"pw"}', cas: 0, _cas: 'cas' },
  },
  {
    method: 'Kv/Patch',
    invoke: (c) => c.kv.patch({ path: 'app/db', data: { user: 'u' } }),
    request: { mount: 'secret', path: 'app/db', data_json: '{"user":"u"}' },
  },
  {
    method: 'Kv/Delete',
    invoke: (c) => c.kv.delete({ path: 'app/db', versions: [1, 2] }),
    request: { mount: 'secret', path: 'app/db', versions: [1, 2] },
  },
  {
    method: 'Kv/Undelete',
    invoke: (c) => c.kv.undelete({ path: 'app/db', versions: [3] }),
    request: { mount: 'secret', path: 'app/db', versions: [3] },
  },
  {
    method: 'Kv/Destroy',
    invoke: (c) => c.kv.destroy({ path: 'app/db', versions: [4] }),
    request: { mount: 'secret', path: 'app/db', versions: [4] },
  },
  {
    method: 'Kv/List',
    invoke: (c) => c.kv.list({ path: 'app/' }),
    request: { mount: 'secret', path: 'app/' },
  },
  {
    method: 'Kv/ReadMetadata',
    invoke: (c) => c.kv.readMetadata({ path: 'app/db' }),
    request: { mount: 'secret', path: 'app/db' },
  },
  {
    method: 'Kv/WriteMetadata',
    invoke: (c) =>
      c.kv.writeMetadata({
        path: 'app/db',
        maxVersions: 5,
        casRequired: false,
        customMetadata: { owner: 'ops' },
      }),
    request: {
      mount: 'secret',
      path: 'app/db',
      max_versions: 5,
      _max_versions: 'max_versions',
      cas_required: false,
      _cas_required: 'cas_required',
      custom_metadata: { owner: 'ops' },
    },
  },
  {
    method: 'Kv/DeleteMetadata',
    invoke: (c) => c.kv.deleteMetadata({ path: 'app/db' }),
    request: { mount: 'secret', path: 'app/db' },
  },
];

const otherCases: MethodCase[] = [
  {
    method: 'Policies/Write',
    invoke: (c) => c.policies.write({ name: 'app', policy: 'path "secret/*" {}' }),
    request: { name: 'app', policy: 'path "secret/*" {}' },
  },
  {
    method: 'Policies/Read',
    invoke: (c) => c.policies.read({ name: 'app' }),
    request: { name: 'app' },
  },
  { method: 'Policies/List', invoke: (c) => c.policies.list(), request: {} },
  {
    method: 'Policies/Delete',
    invoke: (c) => c.policies.delete({ name: 'app' }),
    request: { name: 'app' },
  },
  {
    method: 'Leases/Lookup',
    invoke: (c) => c.leases.lookup({ leaseId: 'l-1' }),
    request: { lease_id: 'l-1' },
  },
  {
    method: 'Leases/Renew',
    invoke: (c) => c.leases.renew({ leaseId: 'l-1', increment: '1h' }),
    request: { lease_id: 'l-1', increment: '1h' },
  },
  {
    method: 'Leases/Revoke',
    invoke: (c) => c.leases.revoke({ leaseId: 'l-1' }),
    request: { lease_id: 'l-1' },
  },
  {
    method: 'Leases/RevokePrefix',
    invoke: (c) => c.leases.revokePrefix({ prefix: 'secret/' }),
    request: { prefix: 'secret/' },
  },
  {
    method: 'Audit/Enable',
    invoke: (c) =>
      c.audit.enable({ path: 'file', type: 'file', options: { file_path: '/tmp/a.log' } }),
    request: { path: 'file', type: 'file', description: '', options: { file_path: '/tmp/a.log' } },
  },
  {
    method: 'Audit/Disable',
    invoke: (c) => c.audit.disable({ path: 'file' }),
    request: { path: 'file' },
  },
  { method: 'Audit/List', invoke: (c) => c.audit.list(), request: {} },
  {
    method: 'Audit/Hash',
    invoke: (c) => c.audit.hash({ path: 'file', input: 'value' }),
    request: { path: 'file', input: 'value' },
  },
  {
    method: 'Mounts/EnableSecrets',
    invoke: (c) => c.mounts.enableSecrets(mountEnable),
    request: mountEnableRequest,
  },
  {
    method: 'Mounts/DisableSecrets',
    invoke: (c) => c.mounts.disableSecrets({ path: 'kv2' }),
    request: { path: 'kv2' },
  },
  { method: 'Mounts/ListSecrets', invoke: (c) => c.mounts.listSecrets(), request: {} },
  {
    method: 'Mounts/Tune',
    invoke: (c) => c.mounts.tune({ path: 'kv2', maxLeaseTtl: '48h' }),
    request: { path: 'kv2', default_lease_ttl: '', max_lease_ttl: '48h', description: '' },
  },
  {
    method: 'Mounts/ReadTune',
    invoke: (c) => c.mounts.readTune({ path: 'kv2' }),
    request: { path: 'kv2' },
  },
  {
    method: 'Mounts/EnableAuth',
    invoke: (c) => c.mounts.enableAuth({ ...mountEnable, type: 'approle' }),
    request: { ...mountEnableRequest, type: 'approle' },
  },
  {
    method: 'Mounts/DisableAuth',
    invoke: (c) => c.mounts.disableAuth({ path: 'approle' }),
    request: { path: 'approle' },
  },
  { method: 'Mounts/ListAuth', invoke: (c) => c.mounts.listAuth(), request: {} },
  {
    method: 'Logical/Read',
    invoke: (c) => c.logical.read('auth/approle/role/app'),
    request: { path: 'auth/approle/role/app', data_json: '' },
  },
  {
    method: 'Logical/Write',
    invoke: (c) => c.logical.write('auth/approle/role/app', { token_ttl: '1h' }),
    request: { path: 'auth/approle/role/app', data_json: '{"token_ttl":"1h"}' },
  },
  {
    method: 'Logical/List',
    invoke: (c) => c.logical.list('auth/approle/role'),
    request: { path: 'auth/approle/role', data_json: '' },
  },
  {
    method: 'Logical/Delete',
    invoke: (c) => c.logical.delete('auth/approle/role/app'),
    request: { path: 'auth/approle/role/app', data_json: '' },
  },
  {
    method: 'Logical/Patch',
    invoke: (c) => c.logical.patch('auth/approle/role/app', { token_ttl: '2h' }),
    request: { path: 'auth/approle/role/app', data_json: '{"token_ttl":"2h"}' },
  },
];

const cases = [...systemCases, ...authCases, ...kvCases, ...otherCases];

const fullResponse: Response = {
  request_id: 'req-9',
  data_json: '{"a":1}',
  lease: { lease_id: 'secret/data/x/abc', ttl_seconds: 3600, renewable: true },
  auth: {
    client_token: 'issued-token',
    accessor: 'acc-9',
    policies: ['default', 'app'],
    token_policies: ['app'],
    metadata: { role: 'r' },
    lease_duration_seconds: 1800,
    renewable: true,
    orphan: false,
    token_type: 'service',
    num_uses: 0,
  },
  wrap_info: {
    token: 'wrap-token',
    accessor: 'wrap-acc',
    ttl_seconds: 60,
    creation_time: '2026-01-01T00:00:00Z',
    creation_path: 'auth/approle/login',
  },
  warnings: ['w1'],
};

describe('CofferClient', () => {
  let tls: TestTls;
  let server: RecordingServer;
  let client: CofferClient;

  beforeAll(async () => {
    tls = createTestTls();
    server = await RecordingServer.start(tls);
    client = new CofferClient({ address: server.address, caCert: tls.certPem, token: 'tok-1' });
  });

  afterAll(() => {
    client.close();
    server.stop();
  });

  beforeEach(() => {
    server.calls.length = 0;
  });

  it('CofferClient cases name every method the server registers, once', () => {
    const named = cases.map((c) => c.method);
    expect(new Set(named).size).toBe(named.length);
    expect([...named].sort()).toEqual(server.methods);
  });

  it.each(cases)('$method is one call with the mapped request fields', async (c) => {
    const response = await c.invoke(client);
    expect(server.calls.map((call) => call.method)).toEqual([c.method]);
    expect(server.calls[0]?.request).toEqual(c.request);
    expect(response.data).toEqual({ method: c.method });
  });

  it('CofferClient sends its token and a fresh request id, and a per-call token, wrap TTL and request id, in metadata', async () => {
    await client.sys.sealStatus();
    await client.kv.get(
      { path: 'app/db' },
      { token: 'tok-2', wrapTtlSeconds: 60, requestId: 'r-1' },
    );
    const [first, second] = server.calls;
    expect(first?.metadata['coffer-token']).toBe('tok-1');
    expect(first?.metadata['coffer-wrap-ttl']).toBeUndefined();
    expect(first?.metadata['coffer-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(second?.metadata['coffer-token']).toBe('tok-2');
    expect(second?.metadata['coffer-wrap-ttl']).toBe('60');
    expect(second?.metadata['coffer-request-id']).toBe('r-1');
  });

  it('CofferClient sends coffer-consistency only when a call asks for it', async () => {
    await client.kv.get({ path: 'app/db' }, { consistency: 'stale' });
    await client.logical.list('secret/metadata/app', { consistency: 'stale' });
    await client.logical.read('sys/mounts', { consistency: 'stale' });
    await client.kv.get({ path: 'app/db' });
    expect(server.calls.map((call) => call.metadata['coffer-consistency'])).toEqual([
      'stale',
      'stale',
      // NB: the per-call option is sent as asked; the server refuses it on sys/.
      'stale',
      undefined,
    ]);
  });

  it('CofferClient applies a stale readConsistency default to reads of secrets only', async () => {
    const staleClient = new CofferClient({
      address: server.address,
      caCert: tls.certPem,
      token: 'tok-1',
      readConsistency: 'stale',
    });
    try {
      await staleClient.kv.get({ path: 'app/db' });
      await staleClient.kv.list({ path: 'app' });
      await staleClient.kv.readMetadata({ path: 'app/db' });
      await staleClient.logical.read('secret/data/app/db');
      await staleClient.logical.list('/secret/metadata/app');
      await staleClient.logical.read('sys/mounts');
      await staleClient.logical.list('auth/approle/role');
      await staleClient.logical.read('cubbyhole/x');
      await staleClient.logical.read('secret/data/app/db', { wrapTtlSeconds: 60 });
      await staleClient.logical.read('secret/data/app/db', { consistency: 'linearizable' });
      await staleClient.kv.put({ path: 'app/db', data: { a: 1 } });
      await staleClient.auth.appRoleLogin({ roleId: 'r', secretId: 's' });
      await staleClient.auth.tokenLookup();
    } finally {
      staleClient.close();
    }
    expect(server.calls.map((call) => call.metadata['coffer-consistency'])).toEqual([
      'stale',
      'stale',
      'stale',
      'stale',
      'stale',
      undefined,
      undefined,
      undefined,
      undefined,
      'linearizable',
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('CofferClient decodes a stale answer and refuses a bad consistency before sending', async () => {
    server.reply = () => ({
      kind: 'response',
      response: { warnings: ['Stale read: ...'], stale_read: { applied_index: 12 } },
    });
    try {
      const response = await client.kv.get({ path: 'app/db' }, { consistency: 'stale' });
      expect(response.staleRead).toEqual({ appliedIndex: 12 });
      expect(response.warnings).toEqual(['Stale read: ...']);
    } finally {
      server.reply = echoMethodReply;
    }
    expect((await client.kv.get({ path: 'app/db' })).staleRead).toBeUndefined();
    await expect(
      client.kv.get({ path: 'app/db' }, { consistency: 'eventual' as 'stale' }),
    ).rejects.toMatchObject({ code: 'COFFER_CLIENT_INVALID_REQUEST' });
  });

  it('CofferClient sends no coffer-token without a token, and secrets only in messages', async () => {
    const anonymous = new CofferClient({ address: server.address, caCert: tls.certPem });
    try {
      await anonymous.sys.unseal({ key: 'share-secret' });
      await anonymous.auth.appRoleLogin({ roleId: 'r', secretId: 'sid-secret' });
    } finally {
      anonymous.close();
    }
    for (const call of server.calls) {
      expect(Object.keys(call.metadata)).not.toContain('coffer-token');
      expect(JSON.stringify(call.metadata)).not.toMatch(/share-secret|sid-secret/);
    }
  });

  it('CofferClient sets a 30 s deadline by default and the per-call one when given', async () => {
    const beforeMs = Date.now();
    await client.sys.health();
    await client.policies.list({ deadlineMs: 5_000 });
    const afterMs = Date.now();
    const [byDefault, perCall] = server.calls;
    expect(byDefault?.deadlineMs).toBeGreaterThanOrEqual(beforeMs + 30_000 - 1_000);
    expect(byDefault?.deadlineMs).toBeLessThanOrEqual(afterMs + 30_000 + 1_000);
    expect(perCall?.deadlineMs).toBeLessThanOrEqual(afterMs + 5_000 + 1_000);
  });

  it('CofferClient round-trips data objects through data_json', async () => {
    const data = {
      password: 'p\u00e4ss \u{1f512}',
      nested: { list: [1, 'two', null] },
      flag: true,
    };
    server.reply = (call) => ({
      kind: 'response',
      response: { data_json: String(call.request['data_json']) },
    });
    try {
      const response = await client.kv.put({ path: 'app/db', data });
      expect(JSON.parse(String(server.calls[0]?.request['data_json']))).toEqual(data);
      expect(response.data).toEqual(data);
    } finally {
      server.reply = echoMethodReply;
    }
  });

  it('CofferClient decodes lease, auth, wrap info and warnings from the Response', async () => {
    server.reply = () => ({ kind: 'response', response: fullResponse });
    try {
      expect(await client.auth.appRoleLogin({ roleId: 'r', secretId: 's' })).toEqual({
        requestId: 'req-9',
        data: { a: 1 },
        lease: { leaseId: 'secret/data/x/abc', ttlSeconds: 3600, renewable: true },
        auth: {
          clientToken: 'issued-token',
          accessor: 'acc-9',
          policies: ['default', 'app'],
          tokenPolicies: ['app'],
          metadata: { role: 'r' },
          leaseDurationSeconds: 1800,
          renewable: true,
          orphan: false,
          tokenType: 'service',
          numUses: 0,
        },
        wrapInfo: {
          token: 'wrap-token',
          accessor: 'wrap-acc',
          ttlSeconds: 60,
          creationTime: '2026-01-01T00:00:00Z',
          creationPath: 'auth/approle/login',
        },
        warnings: ['w1'],
      });
    } finally {
      server.reply = echoMethodReply;
    }
  });

  it('CofferClient decodes an empty Response as no data, lease, auth or wrap info', async () => {
    server.reply = () => ({ kind: 'response', response: {} });
    try {
      expect(await client.sys.health()).toEqual({
        requestId: '',
        data: {},
        lease: undefined,
        auth: undefined,
        wrapInfo: undefined,
        warnings: [],
      });
    } finally {
      server.reply = echoMethodReply;
    }
  });

  it('CofferClient.withToken shares the channel and sends the other token', async () => {
    const other = client.withToken('tok-other');
    await other.sys.health();
    await client.sys.health();
    expect(server.calls.map((call) => call.metadata['coffer-token'])).toEqual([
      'tok-other',
      'tok-1',
    ]);
    expect(other.address).toBe(client.address);
  });

  it('CofferClient shows no token in util.inspect or JSON.stringify', () => {
    const canary = 'canary-token-7f3a';
    const secretive = new CofferClient({
      address: server.address,
      caCert: tls.certPem,
      token: canary,
    });
    try {
      expect(inspect(secretive, { depth: 10, showHidden: true })).not.toContain(canary);
      expect(JSON.stringify(secretive)).not.toContain(canary);
      expect(inspect(secretive.withToken(canary), { depth: 10 })).not.toContain(canary);
    } finally {
      secretive.close();
    }
  });
});
