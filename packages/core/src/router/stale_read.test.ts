/**
 * Goal: the router serves a request with `consistency: 'stale'` from the node's applied state
 * only when it is a read or list of secrets and no leader answered its read point; the answer
 * and both audit lines say so; the token and the policy are still checked; every other request
 * with the option (sys/, auth/, cubbyhole/, writes, logins, wrapped reads, an unknown value) is
 * refused before its token is looked at and before any handler runs.
 * Method: the router over memory storage with fake tokens, policies and audit
 * (router_test_support.ts), and read points that record their calls; no I/O, no clock.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import type { Backend } from './backend.ts';
import { Consistency, type CoreRequest, type StaleRead } from './request.ts';
import { fakeRouter } from './router_test_support.ts';
import { checkStaleReadAllowed, wantsStaleRead } from './stale_read.ts';

/** `items/:name` answers its name; `login` counts the logins it served. */
function itemsBackend(logins: { count: number }): Backend {
  return {
    routes: [
      {
        pattern: 'items/:name',
        operations: {
          read: (r) => Promise.resolve({ data: { name: r.params['name'] } }),
          update: () => Promise.resolve({ data: { written: true } }),
        },
      },
      {
        pattern: 'login',
        unauthenticated: true,
        operations: {
          update: () => {
            logins.count += 1;
            return Promise.resolve({
              auth: {
                policies: ['reader'],
                displayName: 'login',
                metadata: {},
                ttlSeconds: 60,
                maxTtlSeconds: 0,
                numUses: 0,
                renewable: true,
              },
            });
          },
        },
      },
    ],
  };
}

async function setup(answer: StaleRead | undefined) {
  const calls = { readPoint: 0, staleReadPoint: 0 };
  const logins = { count: 0 };
  const fixture = await fakeRouter({
    rules: new Map([['reader', ['read app/items/*', 'list app/items/*']]]),
    factories: { items: () => itemsBackend(logins) },
    mounts: [
      { path: 'app/', type: 'items' },
      { path: 'auth/app/', type: 'items' },
    ],
    readPoint: () => {
      calls.readPoint += 1;
      return Promise.resolve();
    },
    staleReadPoint: () => {
      calls.staleReadPoint += 1;
      return Promise.resolve(answer);
    },
  });
  fixture.tokens.add('t-reader', ['reader']);
  fixture.tokens.add('t-root', ['root']);
  return { ...fixture, calls, logins };
}

const stale = { consistency: Consistency.stale } as const;

describe('checkStaleReadAllowed', () => {
  it('checkStaleReadAllowed lets reads and lists of secrets through', () => {
    for (const operation of ['read', 'list'] as const) {
      for (const path of ['secret/data/app', 'app/items/x', 'system/x', 'authors/x', 'sysadmin']) {
        expect(() => {
          checkStaleReadAllowed(operation, { path, wrapTtlSeconds: undefined });
        }).not.toThrow();
      }
    }
  });

  it('checkStaleReadAllowed refuses sys/, auth/, cubbyhole/, writes and wrapped reads', () => {
    const refused: [Parameters<typeof checkStaleReadAllowed>[0], string, number | undefined][] = [
      ['read', 'sys/mounts', undefined],
      ['read', 'sys', undefined],
      ['list', 'sys/policies/acl', undefined],
      ['read', 'sys/wrapping/lookup', undefined],
      ['read', 'auth/token/lookup-self', undefined],
      ['list', 'auth/approle/role', undefined],
      ['read', 'auth', undefined],
      ['read', 'cubbyhole/x', undefined],
      ['update', 'secret/data/app', undefined],
      ['create', 'secret/data/app', undefined],
      ['delete', 'secret/data/app', undefined],
      ['patch', 'secret/data/app', undefined],
      ['read', 'secret/data/app', 60],
    ];
    for (const [operation, path, wrapTtlSeconds] of refused) {
      expect(() => {
        checkStaleReadAllowed(operation, { path, wrapTtlSeconds });
      }).toThrow(expect.objectContaining({ code: CoreErrorCode.staleReadRefused }));
    }
  });

  it('wantsStaleRead takes stale, linearizable or nothing, and refuses anything else', () => {
    expect(wantsStaleRead(undefined)).toBe(false);
    expect(wantsStaleRead('linearizable')).toBe(false);
    expect(wantsStaleRead('stale')).toBe(true);
    for (const bad of ['STALE', '', true, 1, {}]) {
      expect(() => wantsStaleRead(bad)).toThrow(
        expect.objectContaining({ code: CoreErrorCode.invalidRequest }),
      );
    }
  });
});

describe('Router stale reads', () => {
  it('Router.handle serves a stale read from applied state when no leader answered', async () => {
    const f = await setup({ appliedIndex: 41 });
    const response = await f.handle({
      operation: 'read',
      path: 'app/items/x',
      token: 't-reader',
      ...stale,
    });
    expect(response).toMatchObject({
      ok: true,
      data: { name: 'x' },
      staleRead: { appliedIndex: 41 },
    });
    expect(response.ok && response.warnings?.[0]).toMatch(/^Stale read: .* Raft index 41;/);
    expect(f.calls).toEqual({ readPoint: 0, staleReadPoint: 1 });
    expect(f.audit.lines.map((line) => [line.type, line.record.staleRead])).toEqual([
      ['request', { appliedIndex: 41 }],
      ['response', { appliedIndex: 41 }],
    ]);
  });

  it('Router.handle answers a stale-read request linearizably when the round completed', async () => {
    const f = await setup(undefined);
    const response = await f.handle({
      operation: 'read',
      path: 'app/items/y',
      token: 't-reader',
      ...stale,
    });
    expect(response.ok).toBe(true);
    expect(response).not.toHaveProperty('staleRead');
    expect(response.ok && response.warnings).toBeUndefined();
    expect(f.audit.lines.every((line) => line.record.staleRead === undefined)).toBe(true);
  });

  it('Router.handle still checks the token and the policy of a stale read', async () => {
    const f = await setup({ appliedIndex: 9 });
    const requests: CoreRequest[] = [
      { operation: 'read', path: 'app/items/x', ...stale },
      { operation: 'read', path: 'app/items/x', token: 't-unknown', ...stale },
      { operation: 'read', path: 'app/other', token: 't-reader', ...stale },
    ];
    for (const request of requests) {
      expect(await f.handle(request)).toMatchObject({
        ok: false,
        code: CoreErrorCode.permissionDenied,
        staleRead: { appliedIndex: 9 },
      });
    }
  });

  it('Router.handle refuses the option on a login before the login runs', async () => {
    const f = await setup({ appliedIndex: 9 });
    const response = await f.handle({ operation: 'update', path: 'auth/app/login', ...stale });
    expect(response).toMatchObject({ ok: false, code: CoreErrorCode.staleReadRefused });
    expect(response).not.toHaveProperty('staleRead');
    expect(f.logins.count).toBe(0);
    expect(f.calls).toEqual({ readPoint: 0, staleReadPoint: 0 });
    // NB: refused after the path is valid, so it is audited like any refusal.
    expect(f.audit.lines.map((line) => line.type)).toEqual(['request', 'response']);
  });

  it('Router.handle refuses the option on sys/, auth/ reads, writes and wrapped reads', async () => {
    const f = await setup({ appliedIndex: 9 });
    const requests: CoreRequest[] = [
      { operation: 'read', path: 'sys/wrapping/lookup', token: 't-root', ...stale },
      { operation: 'read', path: 'auth/app/items/x', token: 't-root', ...stale },
      { operation: 'update', path: 'app/items/x', token: 't-root', ...stale },
      { operation: 'read', path: 'app/items/x', token: 't-root', wrapTtlSeconds: 60, ...stale },
    ];
    for (const request of requests) {
      const response = await f.handle(request);
      expect(response).toMatchObject({ ok: false, code: CoreErrorCode.staleReadRefused });
      expect(!response.ok && response.message).toMatch(/^Send this request without the stale/);
    }
    expect(f.calls).toEqual({ readPoint: 0, staleReadPoint: 0 });
  });

  it('Router.handle refuses an unknown consistency as INVALID_REQUEST', async () => {
    const f = await setup({ appliedIndex: 9 });
    const request = {
      operation: 'read',
      path: 'app/items/x',
      token: 't-reader',
      consistency: 'eventual',
    } as unknown as CoreRequest;
    expect(await f.handle(request)).toMatchObject({
      ok: false,
      code: CoreErrorCode.invalidRequest,
    });
  });
});
