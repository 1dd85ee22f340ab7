/**
 * Goal: the gRPC listener serves every coffer.v1 service over TLS as one router request per
 * method: the happy path of each service works with the root token; every method but the
 * tokenless ones is refused without a token and with a bogus one; malformed input (garbage
 * bytes, oversized messages, invalid UTF-8 in a path, bad data_json, a malformed token) gets a
 * clear INVALID_ARGUMENT or RESOURCE_EXHAUSTED and the server keeps serving; grpc.health.v1
 * answers; a reloaded certificate is used by new connections while an open one keeps working.
 * Method: one real single-voter CofferNode on LevelDB in a temp dir (real time), a real
 * GrpcApiServer on 127.0.0.1 port 0 with a self-signed certificate, and raw grpc-js clients
 * built from the package definition. Waits are on call answers with deadlines, never sleeps.
 */
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { once } from 'node:events';
import { inspect } from 'node:util';

import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  GrpcTestClient,
  methodDefinitionOf,
  type CallAnswer,
  type CallRefusal,
} from '../testing/grpc_test_client.ts';
import { createTestTls, openTestNode, type TestNode } from '../testing/test_node.ts';
import type { CoreRequest, CoreResponse, TlsMaterial } from '@coffer/core';
import { GrpcApiServer, type GrpcRequestEvent } from './grpc_api_server.ts';
import { findMethod } from './method_table.ts';

let testNode: TestNode;
let server: GrpcApiServer;
let tls: TlsMaterial;
let client: GrpcTestClient;
let rootToken: string;
let unsealShares: readonly string[];
const messageBytesMax = 64 * 1024;

function answered(result: CallAnswer | CallRefusal): CallAnswer {
  if (!result.ok) {
    throw new Error(`call refused: ${result.status} ${result.errorCode ?? ''} ${result.details}`);
  }
  return result;
}

function refusedWith(result: CallAnswer | CallRefusal): CallRefusal {
  if (result.ok) {
    throw new Error('call served, expected a refusal');
  }
  return result;
}

beforeAll(async () => {
  testNode = await openTestNode();
  const init = await testNode.initAndUnseal();
  rootToken = init.rootToken;
  unsealShares = init.shares;
  tls = await createTestTls();
  server = await GrpcApiServer.start({
    handler: testNode.node,
    host: '127.0.0.1',
    port: 0,
    tls,
    limits: { messageBytesMax },
  });
  client = new GrpcTestClient(server.port, tls.certPem);
}, 60_000);

afterAll(async () => {
  client.close();
  await server.shutdown(1000);
  await testNode.close();
});

/** A plausible request for every method: every string field "sweep", lists and maps empty. */
function sampleMessage(fullName: string): Record<string, unknown> {
  const type = methodDefinitionOf(fullName).requestType.type as {
    field: { name: string; type: string; label?: string }[];
  };
  const message: Record<string, unknown> = {};
  for (const field of type.field) {
    if (field.type === 'TYPE_STRING' && field.label !== 'LABEL_REPEATED') {
      message[field.name] = field.name === 'data_json' ? '{}' : 'sweep';
    }
  }
  return message;
}

describe('GrpcApiServer happy paths', () => {
  it('Kv.Put then Kv.Get returns the value with the root token', async () => {
    const put = answered(
      await client.call(
        '/coffer.v1.Kv/Put',
        { path: 'app/db', data_json: JSON.stringify({ password: 'p1' }) },
        { token: rootToken },
      ),
    );
    expect(put.data['version']).toBe(1);
    const got = answered(
      await client.call('/coffer.v1.Kv/Get', { path: 'app/db' }, { token: rootToken }),
    );
    expect(got.data['data']).toEqual({ password: 'p1' });
    const byVersion = answered(
      await client.call('/coffer.v1.Kv/Get', { path: 'app/db', version: 1 }, { token: rootToken }),
    );
    expect(byVersion.data['data']).toEqual({ password: 'p1' });
  });

  it('Kv.Put with a stale cas is FAILED_PRECONDITION with COFFER_CORE_CAS_MISMATCH', async () => {
    const refusal = refusedWith(
      await client.call(
        '/coffer.v1.Kv/Put',
        { path: 'app/db', data_json: '{"a":"b"}', cas: 0 },
        { token: rootToken },
      ),
    );
    expect(refusal.status).toBe(status.FAILED_PRECONDITION);
    expect(refusal.errorCode).toBe('COFFER_CORE_CAS_MISMATCH');
  });

  it('Policies.Write then Policies.Read returns the policy', async () => {
    const policy = 'path "secret/data/app/*" { capabilities = ["read"] }';
    answered(
      await client.call('/coffer.v1.Policies/Write', { name: 'app', policy }, { token: rootToken }),
    );
    const read = answered(
      await client.call('/coffer.v1.Policies/Read', { name: 'app' }, { token: rootToken }),
    );
    expect(read.data['policy']).toBe(policy);
  });

  it('Auth.TokenCreate issues a token that Auth.TokenLookup reads back', async () => {
    const created = answered(
      await client.call(
        '/coffer.v1.Auth/TokenCreate',
        { policies: ['app'], ttl: '1h', metadata: { team: 'a' } },
        { token: rootToken },
      ),
    );
    const auth = created.response['auth'] as Record<string, unknown>;
    expect(auth['policies']).toContain('app');
    const child = auth['client_token'] as string;
    const self = answered(await client.call('/coffer.v1.Auth/TokenLookup', {}, { token: child }));
    expect(self.data['policies']).toContain('app');
    const other = answered(
      await client.call('/coffer.v1.Auth/TokenLookup', { token: child }, { token: rootToken }),
    );
    expect(other.data['accessor']).toBe(auth['accessor']);
  });

  it('Mounts.ListSecrets, Audit.List and Logical.Read answer with the root token', async () => {
    const mounts = answered(
      await client.call('/coffer.v1.Mounts/ListSecrets', {}, { token: rootToken }),
    );
    expect(mounts.data['secret/']).toMatchObject({ type: 'kv' });
    answered(await client.call('/coffer.v1.Audit/List', {}, { token: rootToken }));
    const logical = answered(
      await client.call(
        '/coffer.v1.Logical/Read',
        { path: 'secret/data/app/db' },
        { token: rootToken },
      ),
    );
    expect(logical.data['data']).toEqual({ password: 'p1' });
  });

  it('wraps a response when coffer-wrap-ttl is set', async () => {
    const wrapped = answered(
      await client.call(
        '/coffer.v1.Auth/TokenLookup',
        {},
        { token: rootToken, metadata: { 'coffer-wrap-ttl': '60' } },
      ),
    );
    const wrapInfo = wrapped.response['wrap_info'] as Record<string, unknown>;
    expect(wrapInfo['ttl_seconds']).toBe(60);
    expect(wrapped.data).toEqual({});
  });

  it('System.SealStatus answers without a token', async () => {
    const sealStatus = answered(await client.call('/coffer.v1.System/SealStatus', {}));
    expect(sealStatus.data).toMatchObject({ initialized: true, sealed: false });
  });

  it('grpc.health.v1 Check answers SERVING for "" and coffer.v1.Kv', async () => {
    for (const service of ['', 'coffer.v1.Kv']) {
      const bytes = Buffer.from([0x0a, service.length, ...Buffer.from(service)]);
      const result = answered(await client.raw('/grpc.health.v1.Health/Check', bytes));
      // HealthCheckResponse { status: SERVING (1) }.
      expect(result.response['bytes']).toEqual(Buffer.from([0x08, 0x01]));
    }
  });
});

describe('GrpcApiServer token sweep', () => {
  const coffer = (): string[] =>
    server.registeredMethods().filter((name) => name.startsWith('/coffer.v1.'));

  it('registers every method of the table, health, and no reflection by default', () => {
    const names = server.registeredMethods();
    expect(coffer().every((name) => findMethod(name) !== undefined)).toBe(true);
    expect(names).toContain('/grpc.health.v1.Health/Check');
    expect(names.some((name) => name.includes('reflection'))).toBe(false);
  });

  it('exempts from the token exactly the health, lifecycle and login methods Vault leaves open', async () => {
    // Pinned so that marking a method tokenless cannot quietly shrink the sweep below.
    const system = ['Init', 'Unseal', 'SealStatus', 'Health'];
    const rekey = ['RekeyInit', 'RekeyUpdate', 'RekeyStatus', 'RekeyCancel'];
    const root = ['GenerateRootInit', 'GenerateRootUpdate', 'GenerateRootStatus'];
    const tokenless = coffer().filter((name) => findMethod(name)?.tokenless === true);
    expect(tokenless.sort()).toEqual(
      [
        ...[...system, ...rekey, ...root, 'GenerateRootCancel'].map(
          (m) => `/coffer.v1.System/${m}`,
        ),
        '/coffer.v1.Auth/AppRoleLogin',
      ].sort(),
    );
    for (const name of ['Health', 'SealStatus', 'RekeyStatus', 'GenerateRootStatus']) {
      answered(await client.call(`/coffer.v1.System/${name}`, {}));
    }
    answered(await client.raw('/grpc.health.v1.Health/Check', Buffer.alloc(0)));
  });

  it('refuses every token-bound method without a token and with a bogus one', async () => {
    const bound = coffer().filter((name) => findMethod(name)?.tokenless !== true);
    expect(bound.length).toBeGreaterThan(40);
    for (const name of bound) {
      for (const token of [undefined, 'cfr.bogus-token-value']) {
        const result = await client.call(
          name,
          sampleMessage(name),
          token === undefined ? {} : { token },
        );
        const refusal = refusedWith(result);
        expect({ name, status: refusal.status, code: refusal.errorCode }).toEqual({
          name,
          status: status.PERMISSION_DENIED,
          code: 'COFFER_CORE_PERMISSION_DENIED',
        });
      }
    }
  });
});

describe('GrpcApiServer malformed input', () => {
  it('answers garbage bytes with INVALID_ARGUMENT and keeps serving', async () => {
    const refusal = refusedWith(
      await client.raw('/coffer.v1.Kv/Get', Buffer.from([0xff, 0xff, 0xff, 0xff]), {
        token: rootToken,
      }),
    );
    expect(refusal.status).toBe(status.INVALID_ARGUMENT);
    expect(refusal.errorCode).toBe('COFFER_API_INVALID_REQUEST');
    expect(refusal.details).toMatch(/valid protobuf message/);
    answered(await client.call('/coffer.v1.System/Health', {}));
  });

  it('answers an oversized message with RESOURCE_EXHAUSTED and keeps serving', async () => {
    const refusal = refusedWith(
      await client.call(
        '/coffer.v1.Kv/Put',
        { path: 'big', data_json: JSON.stringify({ v: 'x'.repeat(messageBytesMax) }) },
        { token: rootToken },
      ),
    );
    expect(refusal.status).toBe(status.RESOURCE_EXHAUSTED);
    answered(await client.call('/coffer.v1.System/Health', {}));
  });

  it('refuses invalid UTF-8 in a path with INVALID_ARGUMENT', async () => {
    // KvPathRequest: field 1 mount "secret", field 2 path "a\xff" (hand-encoded).
    const bytes = Buffer.from([0x0a, 6, ...Buffer.from('secret'), 0x12, 2, 0x61, 0xff]);
    const refusal = refusedWith(
      await client.raw('/coffer.v1.Kv/ReadMetadata', bytes, { token: rootToken }),
    );
    expect(refusal.status).toBe(status.INVALID_ARGUMENT);
    expect(refusal.errorCode).toBe('COFFER_API_INVALID_REQUEST');
    expect(refusal.details).toMatch(/UTF-8/);
    answered(await client.call('/coffer.v1.System/Health', {}));
  });

  it('refuses a malformed data_json with INVALID_ARGUMENT, never quoting it', async () => {
    for (const text of ['{"a":', '[1,2]', 'hunter2']) {
      const refusal = refusedWith(
        await client.call(
          '/coffer.v1.Logical/Write',
          { path: 'secret/data/x', data_json: text },
          { token: rootToken },
        ),
      );
      expect(refusal.status).toBe(status.INVALID_ARGUMENT);
      expect(refusal.errorCode).toBe('COFFER_API_INVALID_REQUEST');
      expect(refusal.details).not.toContain(text);
    }
  });

  it('answers a value that cannot be a token (a space, too long, repeated) as any bad token, never quoting it', async () => {
    // NB: one answer for missing, malformed, expired and revoked tokens, not a second kind of
    // error. A repeated header arrives joined into one value ("a, b"): malformed too.
    for (const token of ['two words', `cfr.${'x'.repeat(600)}`]) {
      const bad = refusedWith(await client.call('/coffer.v1.Auth/TokenLookup', {}, { token }));
      expect({ status: bad.status, code: bad.errorCode }).toEqual({
        status: status.PERMISSION_DENIED,
        code: 'COFFER_CORE_PERMISSION_DENIED',
      });
      expect(bad.details).not.toContain(token);
    }
    const repeated = await client.call(
      '/coffer.v1.Auth/TokenLookup',
      {},
      { token: rootToken, metadata: { 'coffer-token': rootToken } },
    );
    expect(refusedWith(repeated).status).toBe(status.PERMISSION_DENIED);
    expect(refusedWith(repeated).details).not.toContain(rootToken);
  });
});

async function peerCertificateOf(port: number, caPem: string): Promise<X509Certificate> {
  const socket = connect({ host: '127.0.0.1', port, ca: caPem, ALPNProtocols: ['h2'] });
  await once(socket, 'secureConnect');
  const raw = socket.getPeerX509Certificate();
  socket.destroy();
  if (raw === undefined) {
    throw new Error('no peer certificate');
  }
  return raw;
}

describe('GrpcApiServer.reloadTls', () => {
  it('serves the new certificate to new connections while an open one keeps working', async () => {
    const open = new GrpcTestClient(server.port, tls.certPem);
    answered(await open.call('/coffer.v1.System/Health', {}));
    const next = await createTestTls();
    server.reloadTls(next);
    const seen = await peerCertificateOf(server.port, next.certPem);
    expect(seen.fingerprint256).toBe(new X509Certificate(next.certPem).fingerprint256);
    answered(await open.call('/coffer.v1.System/Health', {}));
    const fresh = new GrpcTestClient(server.port, next.certPem);
    answered(await fresh.call('/coffer.v1.System/Health', {}));
    fresh.close();
    open.close();
    server.reloadTls(tls);
  });

  it('keeps the key out of util.inspect and JSON.stringify of the server', () => {
    const keyBody = tls.keyPem.split('\n')[1] ?? '';
    expect(keyBody.length).toBeGreaterThan(16);
    expect(inspect(server, { depth: 10 })).not.toContain(keyBody);
    expect(JSON.stringify(server)).not.toContain(keyBody);
  });

  it('refuses a key that does not match the certificate and keeps the old one', async () => {
    const other = await createTestTls();
    expect(() => {
      server.reloadTls({ keyPem: other.keyPem, certPem: tls.certPem });
    }).toThrow(expect.objectContaining({ code: 'COFFER_API_TLS_INVALID' }));
    const seen = await peerCertificateOf(server.port, tls.certPem);
    expect(seen.fingerprint256).toBe(new X509Certificate(tls.certPem).fingerprint256);
  });
});

describe('GrpcApiServer on a sealed node', () => {
  const lifecycle = (name: string): boolean =>
    name.startsWith('/coffer.v1.System/') && findMethod(name)?.tokenless === true;

  it('refuses everything but the lifecycle methods with UNAVAILABLE, then unseals', async () => {
    answered(await client.call('/coffer.v1.System/Seal', {}, { token: rootToken }));
    const names = server.registeredMethods().filter((name) => name.startsWith('/coffer.v1.'));
    for (const name of names.filter((n) => !lifecycle(n))) {
      const refusal = refusedWith(
        await client.call(name, sampleMessage(name), { token: rootToken }),
      );
      expect({ name, status: refusal.status, code: refusal.errorCode }).toEqual({
        name,
        status: status.UNAVAILABLE,
        code: 'COFFER_CORE_SEALED',
      });
    }
    for (const name of names.filter(lifecycle)) {
      const result = await client.call(name, {}, {});
      expect({ name, code: result.ok ? 'ok' : result.errorCode }).not.toEqual({
        name,
        code: 'COFFER_CORE_SEALED',
      });
    }
    const shares = [...unsealShares].reverse();
    for (const key of shares) {
      answered(await client.call('/coffer.v1.System/Unseal', { key }));
    }
    const after = answered(await client.call('/coffer.v1.System/SealStatus', {}));
    expect(after.data['sealed']).toBe(false);
  });
});

describe('GrpcApiServer stale reads', () => {
  it('carries coffer-consistency to the router and marks a stale answer, refusal and event', async () => {
    const seen: CoreRequest[] = [];
    const events: GrpcRequestEvent[] = [];
    const staleRead = { appliedIndex: 7 };
    const handle = (request: CoreRequest): Promise<CoreResponse> => {
      seen.push(request);
      return Promise.resolve(
        request.path === 'secret/data/missing'
          ? {
              ok: false,
              requestId: 'r',
              code: 'COFFER_CORE_NOT_FOUND',
              message: 'Check the path',
              staleRead,
            }
          : { ok: true, requestId: 'r', mountPath: 'secret/', data: { v: 1 }, staleRead },
      );
    };
    const fake = await GrpcApiServer.start({
      handler: { handle },
      host: '127.0.0.1',
      port: 0,
      tls,
      onRequest: (event) => events.push(event),
    });
    const fakeClient = new GrpcTestClient(fake.port, tls.certPem);
    const stale = { token: 't', metadata: { 'coffer-consistency': 'stale' } };
    try {
      const read = answered(
        await fakeClient.call('/coffer.v1.Logical/Read', { path: 'secret/data/app' }, stale),
      );
      expect(seen[0]).toMatchObject({ path: 'secret/data/app', consistency: 'stale' });
      expect(read.response['stale_read']).toEqual({ applied_index: 7 });
      const missing = refusedWith(
        await fakeClient.call('/coffer.v1.Logical/Read', { path: 'secret/data/missing' }, stale),
      );
      expect(missing.trailers.get('coffer-stale-applied-index')).toEqual(['7']);
      expect(events.map((event) => [event.code, event.stale])).toEqual([
        ['ok', true],
        ['COFFER_CORE_NOT_FOUND', true],
      ]);
      const bad = refusedWith(
        await fakeClient.call(
          '/coffer.v1.Logical/Read',
          { path: 'secret/data/app' },
          { token: 't', metadata: { 'coffer-consistency': 'eventual' } },
        ),
      );
      expect(bad.status).toBe(status.INVALID_ARGUMENT);
      expect(seen).toHaveLength(2);
    } finally {
      fakeClient.close();
      await fake.shutdown(1000);
    }
  });
});
