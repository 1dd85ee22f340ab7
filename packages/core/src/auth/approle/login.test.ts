/**
 * Goal: an AppRole login answers a LoginAuth built from the role, needs the secret_id when the
 * role binds one, respects secret_id TTLs and use counts exactly (also under a race), checks
 * every CIDR binding, answers every refusal identically, rate limits per role and per address
 * before checking credentials, and refuses renewals after the role changed.
 * Method: the AppRole harness (MemoryStorageView, ManualClock); concurrent logins run through
 * Promise.all over the same view, so their reads and conditional writes interleave.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import type { BackendResponse, LeaseContext } from '../../router/backend.ts';
import { AppRoleHarness, harnessMount } from './approle_harness.ts';
import { loginFailedMessage } from './login.ts';

const refused = { code: CoreErrorCode.loginFailed, message: loginFailedMessage };

async function outcomeOf(promise: Promise<BackendResponse>): Promise<BackendResponse | Error> {
  try {
    return await promise;
  } catch (error) {
    return error as Error;
  }
}

async function roleWithSecret(h: AppRoleHarness, data: Record<string, unknown> = {}) {
  await h.writeRole('web', data);
  const roleId = await h.roleId('web');
  const { secretId, accessor } = await h.secretId('web');
  return { roleId, secretId, accessor };
}

describe('AppRole login', () => {
  it('login answers a LoginAuth built from the role and the secret_id metadata', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('web', {
      token_policies: 'read,write',
      token_ttl: '1h',
      token_max_ttl: '4h',
      token_period: '30m',
      token_num_uses: 7,
      token_bound_cidrs: '10.0.0.0/8',
    });
    const roleId = await h.roleId('web');
    const { secretId } = await h.secretId('web', { metadata: '{"env":"prod","role_name":"x"}' });
    const response = await h.login({ roleId, secretId }, { clientAddress: '10.0.0.5' });
    expect(response.auth).toEqual({
      policies: ['read', 'write'],
      displayName: 'approle',
      metadata: { env: 'prod', role_name: 'web' },
      ttlSeconds: 3600,
      maxTtlSeconds: 14400,
      periodSeconds: 1800,
      numUses: 7,
      renewable: true,
      boundCidrs: ['10.0.0.0/8'],
      internal: { role_name: 'web', role_id: roleId, policies: ['read', 'write'] },
    });
    expect(response.data).toBeUndefined();
  });

  it('login refuses a role_id alone when the role binds a secret_id', async () => {
    const h = new AppRoleHarness();
    const { roleId } = await roleWithSecret(h);
    await expect(h.login({ roleId })).rejects.toMatchObject(refused);
    await expect(h.login({ roleId, secretId: '' })).rejects.toMatchObject(refused);
  });

  it('login without bind_secret_id takes the role_id from an allowed address', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('open', { bind_secret_id: false, secret_id_bound_cidrs: '192.168.0.0/24' });
    const roleId = await h.roleId('open');
    const response = await h.login({ roleId }, { clientAddress: '192.168.0.9' });
    expect(response.auth?.metadata).toEqual({ role_name: 'open' });
    await expect(h.login({ roleId }, { clientAddress: '192.168.1.9' })).rejects.toMatchObject(
      refused,
    );
    await expect(h.login({ roleId })).rejects.toMatchObject(refused);
  });

  it('login refuses every wrong credential with the same error', async () => {
    const h = new AppRoleHarness();
    const { roleId, secretId } = await roleWithSecret(h);
    await h.writeRole('other');
    const otherSecret = await h.secretId('other');
    const attempts = [
      { roleId: 'unknown', secretId },
      { roleId, secretId: 'wrong' },
      { roleId, secretId: otherSecret.secretId },
      { roleId: '', secretId },
    ];
    for (const credentials of attempts) {
      const error = await outcomeOf(h.login(credentials));
      expect(error).toMatchObject(refused);
    }
    expect((await h.login({ roleId, secretId })).auth?.metadata['role_name']).toBe('web');
  });

  it('login refuses a secret_id after its TTL, and deletes it', async () => {
    const h = new AppRoleHarness();
    const { roleId, secretId } = await roleWithSecret(h, { secret_id_ttl: 60 });
    h.clock.advance(59_999);
    await h.login({ roleId, secretId });
    h.clock.advance(1);
    await expect(h.login({ roleId, secretId })).rejects.toMatchObject(refused);
    expect((await h.call('list', 'role/web/secret-id')).data).toEqual({ keys: [] });
  });

  it('login spends exactly num_uses logins of a secret_id, then deletes it', async () => {
    const h = new AppRoleHarness();
    const { roleId, secretId, accessor } = await roleWithSecret(h, { secret_id_num_uses: 3 });
    await h.login({ roleId, secretId });
    const lookup = await h.call('update', 'role/web/secret-id-accessor/lookup', {
      secret_id_accessor: accessor,
    });
    expect(lookup.data).toMatchObject({ secret_id_num_uses: 2 });
    await h.login({ roleId, secretId });
    await h.login({ roleId, secretId });
    await expect(h.login({ roleId, secretId })).rejects.toMatchObject(refused);
    const stored = [...h.memory.entries().keys()];
    expect(stored.filter((k) => k.includes('secret_id/') || k.includes('accessor/'))).toEqual([]);
  });

  it('login lets exactly one of two concurrent logins spend a 1-use secret_id', async () => {
    for (let round = 0; round < 5; round += 1) {
      const h = new AppRoleHarness();
      const { roleId, secretId } = await roleWithSecret(h, { secret_id_num_uses: 1 });
      const outcomes = await Promise.all([
        outcomeOf(h.login({ roleId, secretId })),
        outcomeOf(h.login({ roleId, secretId })),
      ]);
      expect(outcomes.filter((o) => !(o instanceof Error))).toHaveLength(1);
      expect(outcomes.find((o) => o instanceof Error)).toMatchObject(refused);
      // Both read the entry before either wrote: the loser's conditional write was refused.
      expect(h.view.refusedWrites).toBe(1);
    }
  });

  it('login spends a 3-use secret_id exactly three times among five concurrent logins', async () => {
    const h = new AppRoleHarness();
    const { roleId, secretId } = await roleWithSecret(h, { secret_id_num_uses: 3 });
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () => outcomeOf(h.login({ roleId, secretId }))),
    );
    expect(outcomes.filter((o) => !(o instanceof Error))).toHaveLength(3);
  });

  it('login checks secret_id CIDRs for IPv4 and IPv6, inside and outside', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('web', { secret_id_bound_cidrs: ['10.0.0.0/8', '2001:db8::/32'] });
    const roleId = await h.roleId('web');
    const v4 = await h.secretId('web', { cidr_list: '10.1.0.0/16' });
    const v6 = await h.secretId('web', { cidr_list: '2001:db8:1::/48' });
    await h.login({ roleId, secretId: v4.secretId }, { clientAddress: '10.1.2.3' });
    await h.login({ roleId, secretId: v6.secretId }, { clientAddress: '2001:db8:1::7' });
    for (const [secretId, clientAddress] of [
      [v4.secretId, '10.2.0.1'],
      [v4.secretId, '11.1.2.3'],
      [v6.secretId, '2001:db8:2::7'],
      [v6.secretId, '10.1.2.3'],
    ] as const) {
      await expect(h.login({ roleId, secretId }, { clientAddress })).rejects.toMatchObject(refused);
    }
    await expect(h.login({ roleId, secretId: v4.secretId })).rejects.toMatchObject(refused);
    // Without a cidr_list of its own, a secret_id is bound by the role's blocks.
    const plain = await h.secretId('web');
    await h.login({ roleId, secretId: plain.secretId }, { clientAddress: '::ffff:10.9.8.7' });
    await expect(
      h.login({ roleId, secretId: plain.secretId }, { clientAddress: '2001:db9::1' }),
    ).rejects.toMatchObject(refused);
  });

  it('login checks token_bound_cidrs before spending a use', async () => {
    const h = new AppRoleHarness();
    const { roleId, secretId, accessor } = await roleWithSecret(h, {
      secret_id_num_uses: 1,
      token_bound_cidrs: 'fd00::/8',
    });
    await expect(
      h.login({ roleId, secretId }, { clientAddress: '10.0.0.1' }),
    ).rejects.toMatchObject(refused);
    const lookup = await h.call('update', 'role/web/secret-id-accessor/lookup', {
      secret_id_accessor: accessor,
    });
    expect(lookup.data).toMatchObject({ secret_id_num_uses: 1 });
    const response = await h.login({ roleId, secretId }, { clientAddress: 'fd12::1' });
    expect(response.auth?.boundCidrs).toEqual(['fd00::/8']);
  });

  it('login refuses a secret_id of a deleted role after the role is recreated', async () => {
    const h = new AppRoleHarness();
    const { secretId } = await roleWithSecret(h);
    const oldEntries = [...h.memory.entries()].filter(([k]) => k.includes('secret_id/'));
    await h.call('delete', 'role/web');
    await h.writeRole('web');
    // Simulate an interrupted delete: the old entry is back under the same role name.
    for (const [key, value] of oldEntries) {
      await h.memory.write({ operations: [{ kind: 'put', key, value: value.value }] });
    }
    await expect(h.login({ roleId: await h.roleId('web'), secretId })).rejects.toMatchObject(
      refused,
    );
  });

  it('login is rate limited per role with the same answer for valid and invalid credentials', async () => {
    const h = new AppRoleHarness({ failuresFree: 2, delayBaseMs: 1000 });
    const { roleId, secretId } = await roleWithSecret(h);
    for (let i = 0; i < 3; i += 1) {
      await expect(
        h.login({ roleId, secretId: 'wrong' }, { clientAddress: `10.0.0.${i}` }),
      ).rejects.toMatchObject(refused);
    }
    const valid = await outcomeOf(h.login({ roleId, secretId }, { clientAddress: '10.9.9.9' }));
    const invalid = await outcomeOf(
      h.login({ roleId, secretId: 'x' }, { clientAddress: '10.9.9.8' }),
    );
    expect(valid).toMatchObject({ code: CoreErrorCode.rateLimited, retryAfterMs: 1000 });
    expect(invalid).toMatchObject({
      code: CoreErrorCode.rateLimited,
      retryAfterMs: 1000,
      message: (valid as Error).message,
    });
    h.clock.advance(1000);
    expect((await h.login({ roleId, secretId })).auth).toBeDefined();
    await expect(h.login({ roleId, secretId: 'wrong' })).rejects.toMatchObject(refused);
  });

  it('login is rate limited per address across role_ids, before any credential check', async () => {
    const h = new AppRoleHarness({ failuresFree: 1, delayBaseMs: 500 });
    const { roleId, secretId } = await roleWithSecret(h);
    const attacker = { clientAddress: '2001:db8::66' };
    await expect(h.login({ roleId: 'guess-1', secretId: 'x' }, attacker)).rejects.toMatchObject(
      refused,
    );
    await expect(h.login({ roleId: 'guess-2', secretId: 'x' }, attacker)).rejects.toMatchObject(
      refused,
    );
    const writes = h.memory.writeCount;
    const limited = await outcomeOf(h.login({ roleId, secretId }, attacker));
    expect(limited).toMatchObject({ code: CoreErrorCode.rateLimited, retryAfterMs: 500 });
    expect(h.memory.writeCount).toBe(writes);
    expect(
      (await h.login({ roleId, secretId }, { clientAddress: '2001:db8::67' })).auth,
    ).toBeDefined();
  });

  it('renewLogin refuses after the role is deleted or its role_id or policies change', async () => {
    const h = new AppRoleHarness();
    const { roleId, secretId } = await roleWithSecret(h, { token_policies: 'a' });
    const internal = (await h.login({ roleId, secretId })).auth?.internal ?? {};
    const lease = { storage: h.view, mount: harnessMount, internal, nowMs: h.clock.nowMs() };
    const renew = async (context: LeaseContext): Promise<void> => {
      if (h.backend.renewLogin === undefined) {
        throw new Error('expected renewLogin');
      }
      await h.backend.renewLogin(context);
    };
    await renew(lease);
    const denied = { code: CoreErrorCode.permissionDenied };
    await h.writeRole('web', { token_policies: 'a,b' });
    await expect(renew(lease)).rejects.toMatchObject(denied);
    await h.writeRole('web', { token_policies: 'a' });
    await renew(lease);
    await h.call('update', 'role/web/role-id', { role_id: 'new-id' });
    await expect(renew(lease)).rejects.toMatchObject(denied);
    await h.call('delete', 'role/web');
    await expect(renew(lease)).rejects.toMatchObject(denied);
  });
});
