import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import type { Backend, BackendRequest } from './backend.ts';
import { FieldType } from './fields.ts';
import type { CoreRequest } from './request.ts';
import { fakeRouter } from './router_test_support.ts';

/** A tiny engine: `items/:name` stores a value; `boom` throws; `lease` returns a secret. */
function itemsBackend(): Backend {
  const handled: BackendRequest[] = [];
  return {
    routes: [
      {
        pattern: 'items/:name',
        fields: { value: { type: FieldType.string }, count: { type: FieldType.int } },
        exists: async (r) => (await r.storage.get(r.params['name'] ?? '')) !== undefined,
        operations: {
          read: async (r) => {
            handled.push(r);
            const value = await r.storage.get(r.params['name'] ?? '');
            return value === undefined ? {} : { data: { value: new TextDecoder().decode(value) } };
          },
          create: async (r) => {
            await r.storage.write({
              operations: [
                {
                  kind: 'put',
                  key: r.params['name'] ?? '',
                  value: new TextEncoder().encode(String(r.fields['value'])),
                },
              ],
            });
            return { data: { created: true } };
          },
          update: async (r) => {
            await r.storage.write({
              operations: [
                {
                  kind: 'put',
                  key: r.params['name'] ?? '',
                  value: new TextEncoder().encode(String(r.fields['value'])),
                },
              ],
            });
            return { data: { created: false } };
          },
        },
      },
      {
        pattern: 'boom',
        operations: {
          read: () => Promise.reject(new Error('driver said: password=hunter2-canary')),
        },
      },
      {
        pattern: 'lease',
        operations: {
          read: () =>
            Promise.resolve({
              data: { password: 'p' },
              secret: { renewable: true, internal: { user: 'u' } },
            }),
        },
      },
      {
        pattern: 'admin',
        sudo: true,
        operations: { read: () => Promise.resolve({ data: { ok: true } }) },
      },
      {
        pattern: 'login',
        unauthenticated: true,
        fields: { secret: { type: FieldType.string, required: true } },
        operations: {
          update: (r) =>
            r.fields['secret'] === 'right'
              ? Promise.resolve({
                  auth: {
                    policies: ['reader'],
                    displayName: 'login',
                    metadata: {},
                    ttlSeconds: 60,
                    maxTtlSeconds: 0,
                    numUses: 0,
                    renewable: true,
                  },
                })
              : Promise.reject(new Error('unreachable in this test')),
        },
      },
    ],
  };
}

const rules = new Map<string, readonly string[]>([
  ['reader', ['read app/items/*', 'list app/items/*']],
  ['writer', ['create app/items/*', 'update app/items/*', 'read app/items/*']],
  ['updater', ['update app/items/*']],
  ['admin', ['read app/admin']],
  ['sudoer', ['read app/admin', 'sudo app/admin']],
  ['leaser', ['read app/lease']],
  ['boomer', ['read app/boom']],
  ['response-wrapping', ['update sys/wrapping/unwrap']],
  ['creator', ['create app/items/*']],
]);

async function setup(requestBytesMax?: number) {
  const fixture = await fakeRouter({
    rules,
    factories: { items: () => itemsBackend() },
    mounts: [{ path: 'app/', type: 'items' }],
    ...(requestBytesMax === undefined ? {} : { requestBytesMax }),
  });
  for (const name of rules.keys()) {
    fixture.tokens.add(`t-${name}`, [name]);
  }
  fixture.tokens.add('t-root', ['root']);
  return fixture;
}

describe('Router', () => {
  it('serves a permitted request and audits the request before the handler and the response after', async () => {
    const f = await setup();
    const write = await f.handle({
      operation: 'update',
      path: 'app/items/a',
      data: { value: 'v1' },
      token: 't-writer',
    });
    expect(write).toMatchObject({ ok: true, data: { created: true } });
    const read = await f.handle({ operation: 'read', path: 'app/items/a', token: 't-reader' });
    expect(read).toMatchObject({ ok: true, data: { value: 'v1' } });
    expect(f.audit.lines.map((l) => l.type)).toEqual([
      'request',
      'response',
      'request',
      'response',
    ]);
    expect(f.audit.lines[0]?.record).toMatchObject({
      path: 'app/items/a',
      mountType: 'items',
      clientTokenAccessor: 'acc-t-writer',
      policyAllowed: true,
    });
  });

  it('tells create from update with the existence check, and the policy sees which', async () => {
    const f = await setup();
    const denied = await f.handle({
      operation: 'update',
      path: 'app/items/new',
      data: { value: 'x' },
      token: 't-updater',
    });
    expect(denied).toMatchObject({ ok: false, code: CoreErrorCode.permissionDenied });
    await f.handle({
      operation: 'update',
      path: 'app/items/new',
      data: { value: 'x' },
      token: 't-root',
    });
    const updated = await f.handle({
      operation: 'update',
      path: 'app/items/new',
      data: { value: 'y' },
      token: 't-updater',
    });
    expect(updated).toMatchObject({ ok: true, data: { created: false } });
  });

  it('answers every kind of bad token with the same failure, and audits it', async () => {
    const f = await setup();
    const answers = await Promise.all(
      [undefined, '', 'nope', 'cfr.malformed', 't-reader-revoked'].map((token) =>
        f.handle({
          operation: 'read',
          path: 'app/items/a',
          requestId: 'r',
          ...(token === undefined ? {} : { token }),
        }),
      ),
    );
    for (const answer of answers) {
      expect(answer).toEqual(answers[0]);
      expect(answer).toMatchObject({ ok: false, code: CoreErrorCode.permissionDenied });
    }
    expect(f.audit.lines.filter((l) => l.type === 'response')).toHaveLength(5);
  });

  it('denies by default: paths, operations and mounts outside the policy', async () => {
    const f = await setup();
    for (const [operation, path] of [
      ['read', 'app/admin'],
      ['delete', 'app/items/a'],
      ['read', 'sys/mounts'],
      ['read', 'other/thing'],
      ['read', 'app/nothing-here'],
      ['read', 'app/items'],
    ] as const) {
      const answer = await f.handle({ operation, path, token: 't-reader' });
      expect(answer, `${operation} ${path}`).toMatchObject({
        ok: false,
        code: CoreErrorCode.permissionDenied,
      });
    }
  });

  it('tells no one without a token what is mounted; a root token learns a path does not exist', async () => {
    const f = await setup();
    const mounted = await f.handle({ operation: 'read', path: 'app/items/a' });
    const unmounted = await f.handle({ operation: 'read', path: 'nothing/here' });
    expect(unmounted).toEqual({ ...mounted, requestId: unmounted.requestId });
    expect(unmounted).toMatchObject({ ok: false, code: CoreErrorCode.permissionDenied });
    expect(
      await f.handle({ operation: 'read', path: 'nothing/here', token: 't-root' }),
    ).toMatchObject({ ok: false, code: CoreErrorCode.notFound });
  });

  it('decides create or update itself: a create-only caller cannot overwrite', async () => {
    const f = await setup();
    f.tokens.add('t-creator', ['creator']);
    await f.handle({
      operation: 'update',
      path: 'app/items/c',
      data: { value: 'v1' },
      token: 't-root',
    });
    const overwrite = await f.handle({
      operation: 'create',
      path: 'app/items/c',
      data: { value: 'v2' },
      token: 't-creator',
    });
    expect(overwrite).toMatchObject({ ok: false, code: CoreErrorCode.permissionDenied });
    const read = await f.handle({ operation: 'read', path: 'app/items/c', token: 't-root' });
    expect(read).toMatchObject({ ok: true, data: { value: 'v1' } });
  });

  it('refuses a bad wrap TTL before anything runs', async () => {
    const f = await setup();
    for (const wrapTtlSeconds of [0, -1, Number.NaN, 0.5, 31 * 86400]) {
      const answer = await f.handle({
        operation: 'update',
        path: 'app/items/w',
        data: { value: 'x' },
        token: 't-root',
        wrapTtlSeconds,
      });
      expect(answer, String(wrapTtlSeconds)).toMatchObject({
        ok: false,
        code: CoreErrorCode.invalidRequest,
      });
    }
    const read = await f.handle({ operation: 'read', path: 'app/items/w', token: 't-root' });
    expect(read.ok && read.data).toBeUndefined();
  });

  it('wraps nothing on an unauthenticated path but a login', async () => {
    const f = await setup();
    const lookup = await f.handle({
      operation: 'update',
      path: 'sys/wrapping/lookup',
      data: { token: 'nope' },
      wrapTtlSeconds: 60,
    });
    expect(lookup.ok).toBe(false);
    const login = await f.handle({
      operation: 'update',
      path: 'app/login',
      data: { secret: 'right' },
      wrapTtlSeconds: 60,
    });
    expect(login).toMatchObject({ ok: true, wrapInfo: { ttlSeconds: 60 } });
  });

  it('needs sudo on a sudo route besides the capability', async () => {
    const f = await setup();
    expect(
      await f.handle({ operation: 'read', path: 'app/admin', token: 't-admin' }),
    ).toMatchObject({
      ok: false,
      code: CoreErrorCode.permissionDenied,
    });
    expect(
      await f.handle({ operation: 'read', path: 'app/admin', token: 't-sudoer' }),
    ).toMatchObject({
      ok: true,
    });
  });

  it('refuses bad paths, unknown fields, wrong types, bad operations and oversized bodies', async () => {
    const f = await setup(1000);
    const cases = [
      [{ operation: 'read', path: 'app/items/../admin' }, CoreErrorCode.invalidPath],
      [{ operation: 'read', path: 'app//items/a' }, CoreErrorCode.invalidPath],
      [{ operation: 'read', path: 'app/items/%2e%2e' }, CoreErrorCode.invalidPath],
      [
        { operation: 'update', path: 'app/items/a', data: { valeu: 'x' } },
        CoreErrorCode.invalidRequest,
      ],
      [
        { operation: 'update', path: 'app/items/a', data: { count: 'many' } },
        CoreErrorCode.invalidRequest,
      ],
      [{ operation: 'update', path: 'app/items/a', data: ['x'] }, CoreErrorCode.invalidRequest],
      [{ operation: 'frobnicate', path: 'app/items/a' }, CoreErrorCode.invalidRequest],
      [
        { operation: 'update', path: 'app/items/a', data: { value: 'x'.repeat(2000) } },
        CoreErrorCode.valueTooLarge,
      ],
    ] as const;
    for (const [request, code] of cases) {
      const answer = await f.handle({ ...(request as unknown as CoreRequest), token: 't-root' });
      expect(answer, JSON.stringify(request).slice(0, 80)).toMatchObject({ ok: false, code });
    }
  });

  it('hides an unexpected handler error behind COFFER_CORE_INTERNAL', async () => {
    const f = await setup();
    const answer = await f.handle({ operation: 'read', path: 'app/boom', token: 't-boomer' });
    expect(answer).toMatchObject({ ok: false, code: CoreErrorCode.internal });
    expect(JSON.stringify(answer)).not.toContain('hunter2-canary');
    expect(JSON.stringify(f.audit.lines)).not.toContain('hunter2-canary');
  });

  it('fails closed: with the audit failing, nothing is served and no value leaves', async () => {
    const f = await setup();
    await f.handle({
      operation: 'update',
      path: 'app/items/a',
      data: { value: 'canary-v' },
      token: 't-root',
    });
    f.audit.failing = true;
    const read = await f.handle({ operation: 'read', path: 'app/items/a', token: 't-reader' });
    expect(read).toMatchObject({ ok: false, code: CoreErrorCode.auditUnavailable });
    expect(JSON.stringify(read)).not.toContain('canary-v');
    const write = await f.handle({
      operation: 'update',
      path: 'app/items/b',
      data: { value: 'x' },
      token: 't-root',
    });
    expect(write).toMatchObject({ ok: false, code: CoreErrorCode.auditUnavailable });
    // NB: the request line could not be written, so the handler never ran.
    f.audit.failing = false;
    const after = await f.handle({ operation: 'read', path: 'app/items/b', token: 't-root' });
    expect(after.ok && after.data).toBeUndefined();
  });

  it('spends a use of a use-limited token before the handler, and refuses once spent', async () => {
    const f = await setup();
    f.tokens.add('t-twice', ['reader'], 2);
    const answers = [];
    for (let i = 0; i < 3; i++) {
      answers.push(await f.handle({ operation: 'read', path: 'app/items/a', token: 't-twice' }));
    }
    expect(answers.map((a) => a.ok)).toEqual([true, true, false]);
  });

  it('registers a lease for a secret and issues a token for a login', async () => {
    const f = await setup();
    const secret = await f.handle({ operation: 'read', path: 'app/lease', token: 't-leaser' });
    expect(secret).toMatchObject({ ok: true, lease: { leaseId: 'app/lease/l0', renewable: true } });
    const login = await f.handle({
      operation: 'update',
      path: 'app/login',
      data: { secret: 'right' },
    });
    expect(login).toMatchObject({ ok: true, auth: { policies: ['reader'] } });
    const token = login.ok ? login.auth?.clientToken : undefined;
    expect(
      await f.handle({
        operation: 'read',
        path: 'app/items/a',
        ...(token === undefined ? {} : { token }),
      }),
    ).toMatchObject({ ok: true });
  });

  it('wraps a response once: the wrapping token unwraps it exactly once', async () => {
    const f = await setup();
    await f.handle({
      operation: 'update',
      path: 'app/items/w',
      data: { value: 'wrapped-v' },
      token: 't-root',
    });
    const wrapped = await f.handle({
      operation: 'read',
      path: 'app/items/w',
      token: 't-reader',
      wrapTtlSeconds: 60,
    });
    expect(wrapped).toMatchObject({
      ok: true,
      wrapInfo: { ttlSeconds: 60, creationPath: 'app/items/w' },
    });
    expect(JSON.stringify(wrapped)).not.toContain('wrapped-v');
    const wrapToken = wrapped.ok ? wrapped.wrapInfo?.token : undefined;
    expect(wrapToken).toBeDefined();
    const lookup = await f.handle({
      operation: 'update',
      path: 'sys/wrapping/lookup',
      data: { token: wrapToken },
    });
    expect(lookup).toMatchObject({ ok: true, data: { creation_ttl: 60 } });
    f.tokens.add('t-unwrapper', ['unwrapper']);
    const first = await f.handle({
      operation: 'update',
      path: 'sys/wrapping/unwrap',
      token: wrapToken ?? '',
    });
    expect(first).toMatchObject({ ok: true, data: { value: 'wrapped-v' } });
    const second = await f.handle({
      operation: 'update',
      path: 'sys/wrapping/unwrap',
      token: wrapToken ?? '',
    });
    expect(second).toMatchObject({ ok: false, code: CoreErrorCode.permissionDenied });
  });
});
