/**
 * Goal: the `auth/token/` API behaves like Vault's token auth method: create (child policies a
 * subset of the parent's unless root, `default` added unless refused, orphans and periods need
 * root or sudo), lookups that never return a token id, renewals cut at the max TTL with a
 * warning and periodic ones renewed to one period, and every revocation route.
 * Method: handlers called directly with parsed fields, over the lease_test_support harness; the
 * created token comes back as the response's `issued`, which the router answers as `auth`.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { makeHarness, tokenMount, type Harness } from '../lease/lease_test_support.ts';
import type { BackendResponse, LoginAuth } from '../router/backend.ts';
import { parseFields } from '../router/fields.ts';
import type { Operation, RequestData } from '../router/request.ts';
import type { TokenEntry } from './token_entry.ts';

let requests = 0;

async function call(
  h: Harness,
  input: { path: string; operation?: Operation; data?: RequestData; caller?: TokenEntry },
): Promise<BackendResponse & { requestId: string }> {
  const route = h.tokens.backend().routes.find((r) => r.pattern === input.path);
  const operation = input.operation ?? 'update';
  const handler = route?.operations[operation];
  if (route === undefined || handler === undefined) {
    throw new Error(`no route ${input.path} ${operation}`);
  }
  const data = input.data ?? {};
  const requestId = `req-${(requests += 1)}`;
  const response = await handler({
    operation,
    path: input.path,
    params: {},
    fields: parseFields(route.fields ?? {}, data),
    data,
    storage: h.root.sub('unused/'),
    mount: tokenMount,
    caller: input.caller === undefined ? undefined : h.tokens.callerOf(input.caller),
    clientAddress: undefined,
    requestId,
    nowMs: h.wall(),
  });
  return { ...response, requestId };
}

/** Creates a token through the API; returns its id and entry. */
async function create(h: Harness, caller: TokenEntry, input: RequestData & { path?: string } = {}) {
  const { path = 'create', ...data } = input;
  const response = await call(h, { path, data, caller });
  const auth = response.issued;
  if (auth === undefined) {
    throw new Error('no token issued');
  }
  const entry = await h.tokens.validate(auth.clientToken, { nowMs: h.wall() });
  if (entry === undefined) {
    throw new Error('the created token does not validate');
  }
  return { id: auth.clientToken, auth, entry, response };
}

async function rootOf(h: Harness): Promise<TokenEntry> {
  // A login token cannot be root; write one through the lifecycle format helper's shape.
  const info = await h.tokens.issueForLogin(login, {
    mount: tokenMount,
    path: 'auth/token/root',
    nowMs: h.wall(),
  });
  const entry = await h.tokens.validate(info.clientToken, { nowMs: h.wall() });
  if (entry === undefined) {
    throw new Error('unreachable');
  }
  const read = await h.tokens.records.read(entry.key);
  if (read === undefined) {
    throw new Error('unreachable');
  }
  const root: TokenEntry = { ...entry, policies: ['root'], expireMs: 0, maxExpireMs: 0 };
  await h.tokens.records.replace(read, root);
  return root;
}

const login: LoginAuth = {
  policies: ['app', 'ops'],
  displayName: 'web',
  metadata: {},
  ttlSeconds: 0,
  maxTtlSeconds: 0,
  numUses: 0,
  renewable: true,
};

async function loginEntry(h: Harness): Promise<TokenEntry> {
  const info = await h.tokens.issueForLogin(login, {
    mount: tokenMount,
    path: 'auth/approle/login',
    nowMs: h.wall(),
  });
  return (await h.tokens.validate(info.clientToken, { nowMs: h.wall() })) as TokenEntry;
}

describe('auth/token/create', () => {
  it('create by a root token inherits root, or gives any policies plus default', async () => {
    const h = makeHarness();
    const root = await rootOf(h);
    const inherited = await create(h, root);
    expect(inherited.entry).toMatchObject({ policies: ['root'], expireMs: 0, parentKey: root.key });
    const child = await create(h, root, {
      policies: 'b,a',
      display_name: 'CI Job',
      meta: { team: 'x' },
    });
    expect(child.entry).toMatchObject({
      policies: ['a', 'b', 'default'],
      displayName: 'token-ci-job',
      metadata: { team: 'x' },
      orphan: false,
      ttlSeconds: 3600,
    });
    expect(child.auth).toMatchObject({ leaseDurationSeconds: 3600, renewable: true });
    const bare = await create(h, root, { policies: ['a'], no_default_policy: true });
    expect(bare.entry.policies).toEqual(['a']);
    expect(JSON.stringify({ ...child.response, issued: undefined })).not.toContain(
      child.id.slice(4),
    );
  });

  it('create by a non-root token allows only a subset of its policies', async () => {
    const h = makeHarness();
    const parent = await loginEntry(h);
    const child = await create(h, parent, { policies: ['app'] });
    expect(child.entry.policies).toEqual(['app', 'default']);
    for (const policies of [['admin'], ['app', 'root'], ['response-wrapping']]) {
      await expect(create(h, parent, { policies })).rejects.toMatchObject({
        code: CoreErrorCode.permissionDenied,
      });
    }
  });

  it('create refuses no_parent and period without root, and create-orphan makes orphans', async () => {
    const h = makeHarness();
    const parent = await loginEntry(h);
    await expect(create(h, parent, { no_parent: true })).rejects.toMatchObject({
      code: CoreErrorCode.permissionDenied,
    });
    await expect(create(h, parent, { period: '1h' })).rejects.toMatchObject({
      code: CoreErrorCode.permissionDenied,
    });
    const route = h.tokens.backend().routes.find((r) => r.pattern === 'create-orphan');
    expect(route?.sudo).toBe(true);
    const orphan = await create(h, parent, { policies: ['other'], path: 'create-orphan' });
    expect(orphan.entry).toMatchObject({ orphan: true, policies: ['default', 'other'] });
    expect(orphan.entry.parentKey).toBeUndefined();
    await h.tokens.revokeTree(parent, h.wall());
    expect(await h.tokens.validate(orphan.id, { nowMs: h.wall() })).toBeDefined();
  });

  it('create gives num_uses and refuses types other than service', async () => {
    const h = makeHarness();
    const root = await rootOf(h);
    const limited = await create(h, root, { policies: ['a'], num_uses: 2 });
    expect(limited.entry.numUses).toBe(2);
    expect(limited.auth.numUses).toBe(2);
    await expect(create(h, root, { type: 'batch' })).rejects.toMatchObject({
      code: CoreErrorCode.invalidRequest,
    });
  });
});

describe('auth/token lookups', () => {
  it('lookup, lookup-self and lookup-accessor answer the same fields and never the id', async () => {
    const h = makeHarness();
    const root = await rootOf(h);
    const { id, entry } = await create(h, root, { policies: ['a'], ttl: '10m', meta: { k: 'v' } });
    h.clock.advance(60_000);
    const answers = [
      await call(h, { path: 'lookup', data: { token: id }, caller: root }),
      await call(h, { path: 'lookup-self', operation: 'read', caller: entry }),
      await call(h, { path: 'lookup-accessor', data: { accessor: entry.accessor }, caller: root }),
    ];
    for (const answer of answers) {
      expect(answer.data).toMatchObject({
        accessor: entry.accessor,
        policies: ['a', 'default'],
        ttl: 540,
        creation_ttl: 600,
        meta: { k: 'v' },
        orphan: false,
        path: 'auth/token/create',
        type: 'service',
      });
      expect(answer.data).not.toHaveProperty('id');
      expect(JSON.stringify(answer)).not.toContain(id.slice(4));
    }
  });

  it('lookup of an unknown or revoked token is NOT_FOUND without echoing it', async () => {
    const h = makeHarness();
    const root = await rootOf(h);
    const { id, entry } = await create(h, root, { policies: ['a'] });
    await h.tokens.revokeTree(entry, h.wall());
    const failure = await call(h, { path: 'lookup', data: { token: id }, caller: root }).catch(
      (e: unknown) => e as Error & { code: string },
    );
    expect(failure).toMatchObject({ code: CoreErrorCode.notFound });
    expect((failure as Error).message).not.toContain(id.slice(4));
    await expect(
      call(h, { path: 'lookup-accessor', data: { accessor: entry.accessor }, caller: root }),
    ).rejects.toMatchObject({ code: CoreErrorCode.notFound });
    await expect(
      call(h, { path: 'lookup-self', operation: 'read', caller: entry }),
    ).rejects.toMatchObject({ code: CoreErrorCode.permissionDenied });
  });
});

describe('auth/token renewals', () => {
  it('renew-self is cut at explicit_max_ttl with a warning, and the token then expires', async () => {
    const h = makeHarness();
    const root = await rootOf(h);
    const { id, entry } = await create(h, root, {
      policies: ['a'],
      ttl: 60,
      explicit_max_ttl: 100,
    });
    h.clock.advance(50_000);
    const renewed = await call(h, { path: 'renew-self', data: { increment: 100 }, caller: entry });
    expect(renewed.data).toMatchObject({ lease_duration: 50, accessor: entry.accessor });
    expect(renewed.warnings?.[0]).toContain('capped');
    expect(JSON.stringify(renewed)).not.toContain(id.slice(4));
    h.clock.advance(49_999);
    expect(await h.tokens.validate(id, { nowMs: h.wall() })).toBeDefined();
    h.clock.advance(1);
    expect(await h.tokens.validate(id, { nowMs: h.wall() })).toBeUndefined();
  });

  it('renew and renew-accessor extend the token and its lease within the max TTL', async () => {
    const h = makeHarness();
    const root = await rootOf(h);
    const { id, entry } = await create(h, root, { policies: ['a'], ttl: 60 });
    h.clock.advance(30_000);
    const byToken = await call(h, {
      path: 'renew',
      data: { token: id, increment: 120 },
      caller: root,
    });
    expect(byToken.data).toMatchObject({ lease_duration: 120 });
    const byAccessor = await call(h, {
      path: 'renew-accessor',
      data: { accessor: entry.accessor },
      caller: root,
    });
    expect(byAccessor.data).toMatchObject({ lease_duration: 60 });
    const lease = h.storedLease(entry.leaseId ?? '');
    expect(lease?.expireMs).toBe(h.wall() + 60_000);
    h.clock.advance(59_000);
    expect(await h.tokens.validate(id, { nowMs: h.wall() })).toBeDefined();
  });

  it('a periodic token renews to one period forever, past the system max TTL', async () => {
    const h = makeHarness();
    const root = await rootOf(h);
    const { id, entry } = await create(h, root, { policies: ['a'], period: '1d' });
    for (let day = 0; day < 10; day += 1) {
      h.clock.advance(86_000_000);
      const renewed = await call(h, { path: 'renew-self', data: { increment: 5 }, caller: entry });
      expect(renewed.data).toMatchObject({ lease_duration: 86400 });
      expect(renewed.warnings).toBeUndefined();
    }
    expect(await h.tokens.validate(id, { nowMs: h.wall() })).toBeDefined();
  });

  it('renew refuses a token created not renewable', async () => {
    const h = makeHarness();
    const root = await rootOf(h);
    const { entry } = await create(h, root, { policies: ['a'], renewable: false });
    await expect(call(h, { path: 'renew-self', caller: entry })).rejects.toMatchObject({
      code: CoreErrorCode.leaseInvalid,
    });
  });
});

describe('auth/token revocations', () => {
  it('revoke, revoke-self and revoke-accessor revoke the token and its children', async () => {
    const h = makeHarness();
    const root = await rootOf(h);
    const first = await create(h, root, { policies: ['a'] });
    const second = await create(h, root, { policies: ['a'] });
    const third = await create(h, root, { policies: ['a'] });
    const grandchild = await create(h, third.entry, { policies: ['a'] });
    await call(h, { path: 'revoke', data: { token: first.id }, caller: root });
    await call(h, { path: 'revoke-self', caller: second.entry });
    await call(h, {
      path: 'revoke-accessor',
      data: { accessor: third.entry.accessor },
      caller: root,
    });
    for (const t of [first, second, third, grandchild]) {
      expect(await h.tokens.validate(t.id, { nowMs: h.wall() })).toBeUndefined();
    }
    // Idempotent: revoking again answers the same.
    expect(
      await call(h, { path: 'revoke', data: { token: third.id }, caller: root }),
    ).toMatchObject({});
  });

  it('revoke-orphan (sudo) revokes the token and keeps its children as orphans', async () => {
    const h = makeHarness();
    const root = await rootOf(h);
    const parent = await create(h, root, { policies: ['a'] });
    const child = await create(h, parent.entry, { policies: ['a'] });
    expect(h.tokens.backend().routes.find((r) => r.pattern === 'revoke-orphan')?.sudo).toBe(true);
    await call(h, { path: 'revoke-orphan', data: { token: parent.id }, caller: root });
    expect(await h.tokens.validate(parent.id, { nowMs: h.wall() })).toBeUndefined();
    expect(await h.tokens.validate(child.id, { nowMs: h.wall() })).toMatchObject({ orphan: true });
  });

  it('tidy answers its report', async () => {
    const h = makeHarness();
    const root = await rootOf(h);
    const answer = await call(h, { path: 'tidy', caller: root });
    expect(answer.data).toEqual({
      danglingAccessors: 0,
      danglingChildIndexes: 0,
      revokedTokens: 0,
    });
  });
});
