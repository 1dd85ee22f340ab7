/**
 * Goal: a policy name a caller hands a token or a role is checked as `policy write` checks it
 * (policy/policy_name.ts): control characters, `%`, `/`, `,`, over 128 characters and non-NFC
 * text are refused with COFFER_CORE_INVALID_REQUEST on auth/token/create and on an AppRole
 * role, not stored to break every listing that prints them; good names still pass, trimmed
 * and lowercased.
 * Method: single-voter CofferNode on real LevelDB through the router (request_test_support.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { closeOpenedNodes, removeRoot } from './lifecycle_harness.ts';
import { openRequestFixture, type RequestFixture } from './request_test_support.ts';

let f: RequestFixture;

beforeAll(async () => {
  f = await openRequestFixture();
  await f.appRole('good', { token_policies: ['Reader'] });
});

afterAll(async () => {
  await closeOpenedNodes();
  await removeRoot(f.harness.root);
});

const badNames = ['a\u0000b', 'a\nb', '%2e', 'a/b', 'x'.repeat(129), 'e\u0301'];

describe('policy names in requests', () => {
  it('refuses bad names on auth/token/create and on an AppRole role', async () => {
    for (const name of badNames) {
      const created = await f.call({
        operation: 'update',
        path: 'auth/token/create',
        token: f.rootToken,
        data: { policies: [name] },
      });
      expect(created, JSON.stringify(name)).toMatchObject({
        ok: false,
        code: CoreErrorCode.invalidRequest,
      });
      for (const field of ['token_policies', 'policies']) {
        const role = await f.call({
          operation: 'update',
          path: 'auth/approle/role/bad',
          token: f.rootToken,
          data: { [field]: [name] },
        });
        expect(role, `${field} ${JSON.stringify(name)}`).toMatchObject({
          ok: false,
          code: CoreErrorCode.invalidRequest,
        });
      }
    }
    const role = await f.call({
      operation: 'read',
      path: 'auth/approle/role/bad',
      token: f.rootToken,
    });
    expect(role.ok).toBe(false);
  });

  it('still takes good names, trimmed and lowercased', async () => {
    const created = await f.ok({
      operation: 'update',
      path: 'auth/token/create',
      token: f.rootToken,
      data: { policies: [' Reader ', 'ops-team'] },
    });
    expect(created.auth?.policies).toEqual(['default', 'ops-team', 'reader']);
    const role = await f.ok({
      operation: 'read',
      path: 'auth/approle/role/good',
      token: f.rootToken,
    });
    expect(role.data?.['token_policies']).toEqual(['reader']);
  });
});
