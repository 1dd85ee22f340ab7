/**
 * Goal: PolicyStore stores, lists, reads and deletes policies by normalized name; keeps the
 * built-in rules (root never stored, written or deleted; default readable before it is
 * written, editable, never deleted; response-wrapping hidden); caches parsed policies and
 * compiled ACLs keyed on stored versions, so a write by another node (another store over the
 * same state) takes effect at once; and serves Vault's sys/policies/acl and sys/policy routes.
 * Method: MemoryStorageView; two stores over one state stand for two nodes; handlers called
 * directly with hand-built BackendRequests.
 */
import { describe, expect, it } from 'vitest';

import { CoreError, CoreErrorCode } from '../errors.ts';
import type { BackendRequest, Handler, Route } from '../router/backend.ts';
import { MemoryStorageView } from '../router/memory_storage_view.ts';
import type { Operation } from '../router/request.ts';
import { jsonBytes } from '../router/storage_view.ts';
import { defaultPolicyText, responseWrappingPolicyText } from './builtin_policies.ts';
import { PolicyStore } from './policy_store.ts';

const readSecret = 'path "secret/*" { capabilities = ["read"] }';
const listSecret = 'path "secret/*" { capabilities = ["list"] }';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CoreError) {
      return error.code;
    }
    throw error;
  }
  return 'resolved';
}

function setUp(): { storage: MemoryStorageView; store: PolicyStore } {
  const storage = new MemoryStorageView();
  return { storage, store: new PolicyStore({ storage }) };
}

describe('PolicyStore', () => {
  it('PolicyStore writes, reads, lists and deletes a policy by its lowercased name', async () => {
    const { store } = setUp();
    const written = await store.write('Team-A', readSecret);
    expect(written.name).toBe('team-a');
    expect((await store.get('team-a'))?.text).toBe(readSecret);
    expect((await store.get('TEAM-A'))?.rules[0]?.pattern).toBe('secret/*');
    expect(await store.list()).toEqual(['default', 'root', 'team-a']);
    await store.delete('team-a');
    expect(await store.get('team-a')).toBeUndefined();
    expect(await store.list()).toEqual(['default', 'root']);
    await store.delete('team-a');
  });

  it.each(['', 'a/b', 'a,b', 'a%2f', 'a\u0000b', '.', '..', ' padded', 'x'.repeat(129), 'e\u0301'])(
    'PolicyStore refuses the policy name %j',
    async (name) => {
      const { store } = setUp();
      expect(await codeOf(store.write(name, readSecret))).toBe(CoreErrorCode.invalidRequest);
    },
  );

  it('PolicyStore refuses an invalid document and stores nothing', async () => {
    const { storage, store } = setUp();
    expect(await codeOf(store.write('p', 'path "a" { capabilities = ["reed"] }'))).toBe(
      CoreErrorCode.policyInvalid,
    );
    expect(storage.writeCount).toBe(0);
  });

  it('PolicyStore keeps root built in: readable, listed, never written or deleted', async () => {
    const { storage, store } = setUp();
    expect((await store.get('root'))?.root).toBe(true);
    expect(await codeOf(store.write('root', readSecret))).toBe(CoreErrorCode.invalidRequest);
    expect(await codeOf(store.write('ROOT', readSecret))).toBe(CoreErrorCode.invalidRequest);
    expect(await codeOf(store.delete('root'))).toBe(CoreErrorCode.invalidRequest);
    expect(storage.writeCount).toBe(0);
    const acl = await store.acl(['default', 'root']);
    expect(acl.root).toBe(true);
  });

  it('PolicyStore serves the built-in default until it is written, and never deletes it', async () => {
    const { store } = setUp();
    expect((await store.get('default'))?.text).toBe(defaultPolicyText);
    expect(
      (await store.acl(['default'])).check({ operation: 'read', path: 'auth/token/lookup-self' })
        .allowed,
    ).toBe(true);
    await store.write('default', readSecret);
    expect((await store.get('default'))?.text).toBe(readSecret);
    const edited = await store.acl(['default']);
    expect(edited.check({ operation: 'read', path: 'auth/token/lookup-self' }).allowed).toBe(false);
    expect(edited.check({ operation: 'read', path: 'secret/x' }).allowed).toBe(true);
    expect(await codeOf(store.delete('default'))).toBe(CoreErrorCode.invalidRequest);
    expect(await store.list()).toEqual(['default', 'root']);
  });

  it('PolicyStore hides response-wrapping: not listed, not writable, not deletable', async () => {
    const { store } = setUp();
    expect((await store.get('response-wrapping'))?.text).toBe(responseWrappingPolicyText);
    expect(await store.list()).not.toContain('response-wrapping');
    expect(await codeOf(store.write('response-wrapping', readSecret))).toBe(
      CoreErrorCode.invalidRequest,
    );
    expect(await codeOf(store.delete('response-wrapping'))).toBe(CoreErrorCode.invalidRequest);
    const acl = await store.acl(['response-wrapping']);
    expect(acl.check({ operation: 'update', path: 'sys/wrapping/unwrap' }).allowed).toBe(true);
    expect(acl.check({ operation: 'update', path: 'sys/wrapping/wrap' }).allowed).toBe(false);
  });

  it('PolicyStore.acl merges policies, skips unknown and malformed names, and caches the result', async () => {
    const { store } = setUp();
    await store.write('reader', readSecret);
    await store.write('lister', listSecret);
    const acl = await store.acl(['reader', 'Lister', 'missing', 'bad/name']);
    expect(acl.capabilities('secret/x')).toEqual(['list', 'read']);
    expect(await store.acl(['missing', 'reader', 'bad/name', 'lister'])).toBe(acl);
    const pair = await store.acl(['lister', 'reader']);
    expect(await store.acl(['reader', 'lister', 'READER'])).toBe(pair);
    expect(pair.capabilities('secret/x')).toEqual(['list', 'read']);
  });

  it('PolicyStore.acl sees a write made by another node at once (cache keyed on versions)', async () => {
    const storage = new MemoryStorageView();
    const nodeA = new PolicyStore({ storage });
    const nodeB = new PolicyStore({ storage });
    await nodeA.write('p', readSecret);
    const before = await nodeB.acl(['p']);
    expect(before.check({ operation: 'read', path: 'secret/x' }).allowed).toBe(true);
    expect(await nodeB.acl(['p'])).toBe(before);
    await nodeA.write('p', listSecret);
    const after = await nodeB.acl(['p']);
    expect(after).not.toBe(before);
    expect(after.check({ operation: 'read', path: 'secret/x' }).allowed).toBe(false);
    expect(after.check({ operation: 'list', path: 'secret/x' }).allowed).toBe(true);
    expect((await nodeB.get('p'))?.text).toBe(listSecret);
    await nodeA.delete('p');
    expect((await nodeB.acl(['p'])).check({ operation: 'list', path: 'secret/x' }).allowed).toBe(
      false,
    );
    expect(await nodeB.get('p')).toBeUndefined();
    await nodeA.write('p', readSecret);
    expect((await nodeB.acl(['p'])).check({ operation: 'read', path: 'secret/x' }).allowed).toBe(
      true,
    );
  });

  it('PolicyStore.acl evicts the least recently used ACL beyond its cache size', async () => {
    const storage = new MemoryStorageView();
    const store = new PolicyStore({ storage, aclCacheSizeMax: 2 });
    await store.write('a', readSecret);
    await store.write('b', listSecret);
    const first = await store.acl(['a']);
    await store.acl(['b']);
    expect(await store.acl(['a'])).toBe(first);
    await store.acl(['a', 'b']);
    await store.acl(['b']);
    expect(await store.acl(['a'])).not.toBe(first);
  });

  it('PolicyStore refuses a stored record that does not decode or no longer parses', async () => {
    const { storage, store } = setUp();
    await storage.write({
      operations: [{ kind: 'put', key: 'broken', value: new Uint8Array([0x7b]) }],
    });
    await storage.write({
      operations: [
        { kind: 'put', key: 'renamed', value: jsonBytes({ name: 'other', policy: readSecret }) },
      ],
    });
    await storage.write({
      operations: [
        {
          kind: 'put',
          key: 'stale',
          value: jsonBytes({ name: 'stale', policy: 'path "a" { capabilities = ["write"] }' }),
        },
      ],
    });
    expect(await codeOf(store.get('broken'))).toBe(CoreErrorCode.internal);
    expect(await codeOf(store.get('renamed'))).toBe(CoreErrorCode.internal);
    expect(await codeOf(store.acl(['stale']))).toBe(CoreErrorCode.policyInvalid);
  });
});

function routeOf(routes: readonly Route[], pattern: string): Route {
  const route = routes.find((r) => r.pattern === pattern);
  if (route === undefined) {
    throw new Error(`no route ${pattern}`);
  }
  return route;
}

function requestOf(
  operation: Operation,
  params: Record<string, string>,
  fields: Record<string, unknown> = {},
): BackendRequest {
  return {
    operation,
    path: '',
    params,
    fields,
    data: fields,
    storage: new MemoryStorageView(),
    mount: {
      path: 'sys/',
      type: 'system',
      uuid: 'u',
      accessor: 'system_1',
      defaultLeaseTtlSeconds: 0,
      maxLeaseTtlSeconds: 0,
      options: {},
    },
    caller: undefined,
    clientAddress: undefined,
    requestId: 'r',
    nowMs: 0,
  };
}

async function call(route: Route, operation: Operation, request: BackendRequest): Promise<unknown> {
  const handler: Handler | undefined = route.operations[operation];
  if (handler === undefined) {
    throw new Error(`no ${operation} on ${route.pattern}`);
  }
  return (await handler(request)).data;
}

describe('PolicyStore.backend', () => {
  it('PolicyStore.backend serves the sys/policies/acl routes', async () => {
    const { store } = setUp();
    const routes = store.backend().routes;
    const one = routeOf(routes, 'policies/acl/:name');
    const all = routeOf(routes, 'policies/acl');
    expect(await one.exists?.(requestOf('create', { name: 'p' }))).toBe(false);
    await call(one, 'create', requestOf('create', { name: 'P' }, { policy: readSecret }));
    expect(await one.exists?.(requestOf('update', { name: 'p' }))).toBe(true);
    expect(await call(one, 'read', requestOf('read', { name: 'p' }))).toEqual({
      name: 'p',
      policy: readSecret,
    });
    await call(one, 'update', requestOf('update', { name: 'p' }, { policy: listSecret }));
    expect(await call(one, 'read', requestOf('read', { name: 'p' }))).toEqual({
      name: 'p',
      policy: listSecret,
    });
    expect(await call(all, 'list', requestOf('list', {}))).toEqual({
      keys: ['default', 'p', 'root'],
    });
    expect(await call(all, 'read', requestOf('read', {}))).toEqual({
      keys: ['default', 'p', 'root'],
    });
    await call(one, 'delete', requestOf('delete', { name: 'p' }));
    expect(await codeOf(call(one, 'read', requestOf('read', { name: 'p' })))).toBe(
      CoreErrorCode.notFound,
    );
    await call(one, 'delete', requestOf('delete', { name: 'p' }));
  });

  it('PolicyStore.backend refuses root writes, built-in deletes, empty documents and hidden reads', async () => {
    const { store } = setUp();
    const one = routeOf(store.backend().routes, 'policies/acl/:name');
    expect(
      await codeOf(
        call(one, 'update', requestOf('update', { name: 'root' }, { policy: readSecret })),
      ),
    ).toBe(CoreErrorCode.invalidRequest);
    expect(await codeOf(call(one, 'delete', requestOf('delete', { name: 'default' })))).toBe(
      CoreErrorCode.invalidRequest,
    );
    expect(await codeOf(call(one, 'delete', requestOf('delete', { name: 'root' })))).toBe(
      CoreErrorCode.invalidRequest,
    );
    expect(await codeOf(call(one, 'update', requestOf('update', { name: 'p' }, {})))).toBe(
      CoreErrorCode.invalidRequest,
    );
    expect(
      await codeOf(
        call(one, 'update', requestOf('update', { name: 'p' }, { policy: 'path "a" {}' })),
      ),
    ).toBe(CoreErrorCode.policyInvalid);
    expect(await codeOf(call(one, 'read', requestOf('read', { name: 'response-wrapping' })))).toBe(
      CoreErrorCode.notFound,
    );
    expect(await call(one, 'read', requestOf('read', { name: 'root' }))).toEqual({
      name: 'root',
      policy: '',
    });
    expect(await call(one, 'read', requestOf('read', { name: 'default' }))).toEqual({
      name: 'default',
      policy: defaultPolicyText,
    });
  });

  it('PolicyStore.backend serves the older sys/policy routes with rules', async () => {
    const { store } = setUp();
    const routes = store.backend().routes;
    const one = routeOf(routes, 'policy/:name');
    await call(one, 'update', requestOf('update', { name: 'old' }, { rules: readSecret }));
    expect(await call(one, 'read', requestOf('read', { name: 'old' }))).toEqual({
      name: 'old',
      rules: readSecret,
    });
    await call(one, 'update', requestOf('update', { name: 'old' }, { policy: listSecret }));
    expect(await call(routeOf(routes, 'policy'), 'read', requestOf('read', {}))).toEqual({
      keys: ['default', 'old', 'root'],
      policies: ['default', 'old', 'root'],
    });
    await call(one, 'delete', requestOf('delete', { name: 'old' }));
    expect(await store.get('old')).toBeUndefined();
  });
});
