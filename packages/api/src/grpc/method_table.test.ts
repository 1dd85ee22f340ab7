/**
 * Goal: the method table holds exactly the methods of the coffer.v1 package definition, no more
 * and no fewer, and each builds the one router request its .proto comment names, with the core
 * routes' field names; proto3 defaults ("", 0, empty lists and maps) are not sent; malformed
 * data_json and invalid UTF-8 in a path part are refused with COFFER_API_INVALID_REQUEST.
 * Method: the package definition from @coffer/client enumerated against the table; decoded
 * messages built with the definition's own serializer (so defaults are as on the wire).
 */
import { describe, expect, it } from 'vitest';

import { loadCofferPackageDefinition } from '@coffer/client';

import { methodDefinitionOf } from '../testing/grpc_test_client.ts';
import { findMethod, methodTable, protoPackage, type RouterCall } from './method_table.ts';

const definition = loadCofferPackageDefinition();

/** The router call of `fullName` for `message`, decoded as the server decodes it. */
function callOf(fullName: string, message: Record<string, unknown> = {}): RouterCall {
  const method = methodDefinitionOf(fullName);
  const decoded = method.requestDeserialize(method.requestSerialize(message)) as Record<
    string,
    unknown
  >;
  const entry = findMethod(fullName);
  if (entry === undefined) {
    throw new Error(`no entry for ${fullName}`);
  }
  return entry.toCall(decoded);
}

describe('methodTable', () => {
  it('has exactly the methods of the package definition', () => {
    const fromDefinition: string[] = [];
    for (const [name, value] of Object.entries(definition)) {
      if (name.startsWith(`${protoPackage}.`) && !('format' in value)) {
        for (const method of Object.keys(value)) {
          fromDefinition.push(`${name.slice(protoPackage.length + 1)}.${method}`);
        }
      }
    }
    const fromTable = Object.entries(methodTable).flatMap(([service, methods]) =>
      Object.keys(methods).map((method) => `${service}.${method}`),
    );
    expect(fromTable.sort()).toEqual(fromDefinition.sort());
  });

  it('findMethod finds only table entries', () => {
    expect(findMethod('/coffer.v1.Kv/Get')).toBeDefined();
    expect(findMethod('/coffer.v1.Kv/toString')).toBeUndefined();
    expect(findMethod('/coffer.v1.constructor/Get')).toBeUndefined();
    expect(findMethod('/grpc.health.v1.Health/Check')).toBeUndefined();
  });
});

describe('methodTable builds one router request per method', () => {
  it('maps KV v2 methods to the engine paths and fields', () => {
    expect(callOf('/coffer.v1.Kv/Get', { path: 'a/b' })).toEqual({
      operation: 'read',
      path: 'secret/data/a/b',
    });
    expect(callOf('/coffer.v1.Kv/Get', { mount: 'kv', path: 'a', version: 3 })).toEqual({
      operation: 'read',
      path: 'kv/data/a',
      data: { version: 3 },
    });
    expect(callOf('/coffer.v1.Kv/Put', { path: 'a', data_json: '{"k":1}' })).toEqual({
      operation: 'update',
      path: 'secret/data/a',
      data: { data: { k: 1 } },
    });
    expect(callOf('/coffer.v1.Kv/Patch', { path: 'a', data_json: '{}', cas: 0 })).toEqual({
      operation: 'patch',
      path: 'secret/data/a',
      data: { data: {}, options: { cas: 0 } },
    });
    expect(callOf('/coffer.v1.Kv/Delete', { path: 'a' })).toEqual({
      operation: 'delete',
      path: 'secret/data/a',
    });
    expect(callOf('/coffer.v1.Kv/Delete', { path: 'a', versions: [1, 2] })).toEqual({
      operation: 'update',
      path: 'secret/delete/a',
      data: { versions: [1, 2] },
    });
    expect(callOf('/coffer.v1.Kv/Destroy', { path: 'a', versions: [2] }).path).toBe(
      'secret/destroy/a',
    );
    expect(callOf('/coffer.v1.Kv/List', { path: 'dir/' })).toEqual({
      operation: 'list',
      path: 'secret/metadata/dir/',
    });
    expect(
      callOf('/coffer.v1.Kv/WriteMetadata', { path: 'a', max_versions: 0, cas_required: false }),
    ).toEqual({
      operation: 'update',
      path: 'secret/metadata/a',
      data: { max_versions: 0, cas_required: false },
    });
  });

  it('maps token methods to create, create-orphan and the -self variants', () => {
    expect(callOf('/coffer.v1.Auth/TokenCreate', { policies: ['p'], ttl: '1h' })).toEqual({
      operation: 'update',
      path: 'auth/token/create',
      data: { policies: ['p'], ttl: '1h', no_default_policy: false, renewable: true },
    });
    const orphan = callOf('/coffer.v1.Auth/TokenCreate', { no_parent: true, not_renewable: true });
    expect(orphan.path).toBe('auth/token/create-orphan');
    expect(orphan.data).toMatchObject({ renewable: false });
    expect(callOf('/coffer.v1.Auth/TokenLookup')).toEqual({
      operation: 'read',
      path: 'auth/token/lookup-self',
    });
    expect(callOf('/coffer.v1.Auth/TokenRenew', { token: 't', increment: '5m' })).toEqual({
      operation: 'update',
      path: 'auth/token/renew',
      data: { token: 't', increment: '5m' },
    });
    expect(callOf('/coffer.v1.Auth/TokenRevoke').path).toBe('auth/token/revoke-self');
    expect(callOf('/coffer.v1.Auth/AppRoleLogin', { role_id: 'r', secret_id: 's' })).toEqual({
      operation: 'update',
      path: 'auth/approle/login',
      data: { role_id: 'r', secret_id: 's' },
    });
  });

  it('maps system, policy, lease, audit and mount methods', () => {
    expect(callOf('/coffer.v1.System/Init', { secret_shares: 5, secret_threshold: 3 })).toEqual({
      operation: 'update',
      path: 'sys/init',
      data: { generate_hsm_key: false, secret_shares: 5, secret_threshold: 3 },
    });
    expect(callOf('/coffer.v1.System/RekeyCancel')).toEqual({
      operation: 'delete',
      path: 'sys/rekey/init',
    });
    expect(callOf('/coffer.v1.Policies/List')).toEqual({
      operation: 'list',
      path: 'sys/policies/acl',
    });
    expect(callOf('/coffer.v1.Leases/RevokePrefix', { prefix: 'secret/' }).path).toBe(
      'sys/leases/revoke-prefix/secret/',
    );
    expect(
      callOf('/coffer.v1.Audit/Enable', {
        path: 'file',
        type: 'file',
        options: { file_path: '/a' },
      }),
    ).toEqual({
      operation: 'update',
      path: 'sys/audit/file',
      data: { type: 'file', options: { file_path: '/a' } },
    });
    expect(
      callOf('/coffer.v1.Mounts/EnableSecrets', { path: 'kv', type: 'kv', max_lease_ttl: '1h' }),
    ).toEqual({
      operation: 'update',
      path: 'sys/mounts/kv',
      data: { type: 'kv', config: { max_lease_ttl: '1h' } },
    });
    expect(callOf('/coffer.v1.Mounts/Tune', { path: 'kv', description: 'd' })).toEqual({
      operation: 'update',
      path: 'sys/mounts/kv/tune',
      data: { description: 'd' },
    });
    expect(callOf('/coffer.v1.Mounts/ListAuth')).toEqual({ operation: 'read', path: 'sys/auth' });
  });

  it('maps Logical methods to their operation on any path', () => {
    expect(
      callOf('/coffer.v1.Logical/Write', { path: 'auth/approle/role/app', data_json: '{"a":1}' }),
    ).toEqual({ operation: 'update', path: 'auth/approle/role/app', data: { a: 1 } });
    expect(callOf('/coffer.v1.Logical/List', { path: 'secret/metadata/' })).toEqual({
      operation: 'list',
      path: 'secret/metadata/',
    });
  });

  it('refuses malformed data_json and invalid UTF-8 in a path part', () => {
    for (const text of ['{', '"a"', 'null', '[]']) {
      expect(() => callOf('/coffer.v1.Logical/Write', { path: 'a', data_json: text })).toThrow(
        expect.objectContaining({ code: 'COFFER_API_INVALID_REQUEST' }),
      );
    }
    expect(() => callOf('/coffer.v1.Kv/Get', { path: 'a\uFFFD' })).toThrow(
      expect.objectContaining({ code: 'COFFER_API_INVALID_REQUEST' }),
    );
    expect(() => callOf('/coffer.v1.Policies/Read', { name: '\uFFFD' })).toThrow(/UTF-8/);
  });
});
