/**
 * Goal: the AppRole backend works behind the real router: role writes (create vs update through
 * exists), a login on the unauthenticated route turned into a token, the one refusal for bad
 * credentials, and RATE_LIMITED with retryAfterMs read from the message.
 * Method: the router's fakeRouter (memory storage, fake tokens and ACL) with AppRole mounted at
 * auth/approle/; a ManualClock for the login limiter.
 */
import { ManualClock } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { fakeRouter } from '../../router/router_test_support.ts';
import { harnessMount } from './approle_harness.ts';
import { createAppRoleBackend } from './backend.ts';
import { loginFailedMessage } from './login.ts';

async function setUp() {
  const clock = new ManualClock();
  const fixture = await fakeRouter({
    rules: new Map([['admin', ['create auth/*', 'update auth/*', 'read auth/*', 'list auth/*']]]),
    factories: {
      approle: (path) =>
        createAppRoleBackend(
          { ...harnessMount, path },
          { clock, limiter: { failuresFree: 1, delayBaseMs: 2000 } },
        ),
    },
    mounts: [{ path: 'auth/approle/', type: 'approle' }],
  });
  fixture.tokens.add('admin-token', ['admin']);
  return { ...fixture, clock };
}

describe('AppRole behind the router', () => {
  it('AppRole login through the router issues a token with the role policies', async () => {
    const { handle } = await setUp();
    const admin = { token: 'admin-token' };
    const created = await handle({
      ...admin,
      operation: 'update',
      path: 'auth/approle/role/web',
      data: { token_policies: 'app', token_type: 'default' },
    });
    expect(created).toMatchObject({ ok: true });
    const roleId = await handle({
      ...admin,
      operation: 'read',
      path: 'auth/approle/role/web/role-id',
    });
    const secret = await handle({
      ...admin,
      operation: 'update',
      path: 'auth/approle/role/web/secret-id',
    });
    if (!roleId.ok || !secret.ok) {
      throw new Error('expected the role_id and secret_id');
    }
    const login = await handle({
      operation: 'update',
      path: 'auth/approle/login',
      data: { role_id: roleId.data?.['role_id'], secret_id: secret.data?.['secret_id'] },
      clientAddress: '10.0.0.1',
    });
    expect(login).toMatchObject({
      ok: true,
      auth: { policies: ['app'], metadata: { role_name: 'web' } },
    });
  });

  it('AppRole login through the router refuses, then rate limits with retryAfterMs', async () => {
    const { handle } = await setUp();
    const attempt = () =>
      handle({
        operation: 'update',
        path: 'auth/approle/login',
        data: { role_id: 'nope', secret_id: 'nope' },
        clientAddress: '10.0.0.2',
      });
    expect(await attempt()).toMatchObject({
      ok: false,
      code: CoreErrorCode.loginFailed,
      message: loginFailedMessage,
    });
    await attempt();
    expect(await attempt()).toMatchObject({
      ok: false,
      code: CoreErrorCode.rateLimited,
      retryAfterMs: 2000,
    });
  });
});
