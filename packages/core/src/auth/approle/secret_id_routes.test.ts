/**
 * Goal: secret_ids are generated within the role's bounds, listed by accessor, looked up and
 * destroyed by value or accessor without the value ever being stored or shown again, custom
 * secret_ids register once, and tidy deletes expired and orphaned entries only.
 * Method: the AppRole harness (MemoryStorageView, ManualClock); a canary custom secret_id is
 * looked for in every stored byte and every error message.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { AppRoleHarness } from './approle_harness.ts';

const invalid = { code: CoreErrorCode.invalidRequest };
const canary = 'canary-secret-id-6f1d2e3c4b5a';

async function errorOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a refusal');
}

describe('AppRole secret_ids', () => {
  it('secret-id generates a random secret_id with the role limits and lists its accessor', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('web', { secret_id_ttl: '10m', secret_id_num_uses: 3 });
    const response = await h.call('update', 'role/web/secret-id', {});
    expect(response.data).toMatchObject({ secret_id_ttl: 600, secret_id_num_uses: 3 });
    expect(response.data?.['secret_id']).toMatch(/^[0-9a-f-]{36}$/);
    const accessor = response.data?.['secret_id_accessor'];
    expect((await h.call('list', 'role/web/secret-id')).data).toEqual({ keys: [accessor] });
  });

  it('secret-id lookup shows metadata and limits but never the secret_id', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('web', { secret_id_bound_cidrs: '10.0.0.0/8' });
    const { secretId, accessor } = await h.secretId('web', {
      metadata: '{"env":"prod"}',
      cidr_list: '10.1.0.0/16',
      ttl: 60,
      num_uses: 2,
    });
    const byValue = await h.call('update', 'role/web/secret-id/lookup', { secret_id: secretId });
    expect(byValue.data).toMatchObject({
      secret_id_accessor: accessor,
      secret_id_num_uses: 2,
      secret_id_ttl: 60,
      metadata: { env: 'prod' },
      cidr_list: ['10.1.0.0/16'],
      creation_time: new Date(h.clock.nowMs()).toISOString(),
      expiration_time: new Date(h.clock.nowMs() + 60_000).toISOString(),
    });
    expect(JSON.stringify(byValue)).not.toContain(secretId);
    const byAccessor = await h.call('update', 'role/web/secret-id-accessor/lookup', {
      secret_id_accessor: accessor,
    });
    expect(byAccessor.data).toEqual(byValue.data);
  });

  it('secret-id generation refuses values beyond the role bounds', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('web', {
      secret_id_ttl: 60,
      secret_id_num_uses: 2,
      secret_id_bound_cidrs: '10.0.0.0/8',
      token_bound_cidrs: '10.0.0.0/16',
    });
    for (const data of [
      { ttl: 61 },
      { num_uses: 3 },
      { num_uses: 0 },
      { num_uses: -1 },
      { cidr_list: '11.0.0.0/24' },
      { cidr_list: '10.0.0.0/7' },
      { token_bound_cidrs: '10.1.0.0/24' },
      { metadata: '{"n":1}' },
      { metadata: 'not json' },
      { metadata: '[]' },
    ]) {
      await expect(h.call('update', 'role/web/secret-id', data)).rejects.toMatchObject(invalid);
    }
    const ok = await h.call('update', 'role/web/secret-id', { ttl: 0, num_uses: 1 });
    expect(ok.data).toMatchObject({ secret_id_ttl: 60, secret_id_num_uses: 1 });
    expect((await h.call('list', 'role/web/secret-id')).data?.['keys']).toHaveLength(1);
  });

  it('secret-id generation refuses a role without bind_secret_id and a missing role', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('open', { bind_secret_id: false, token_bound_cidrs: '10.0.0.0/8' });
    await expect(h.secretId('open')).rejects.toMatchObject(invalid);
    await expect(h.secretId('ghost')).rejects.toMatchObject({ code: CoreErrorCode.notFound });
  });

  it('custom-secret-id registers a secret_id once and never stores it in clear', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('web', { role_id: 'role-id-canary' });
    const response = await h.call('update', 'role/web/custom-secret-id', {
      secret_id: canary,
      metadata: '{"owner":"ci"}',
    });
    expect(response.data?.['secret_id']).toBe(canary);
    const again = await errorOf(
      h.call('update', 'role/web/custom-secret-id', { secret_id: canary }),
    );
    expect(again).toMatchObject(invalid);
    expect(again.message).not.toContain(canary);
    await h.login({ roleId: 'role-id-canary', secretId: canary });
    const text = h.storedText();
    expect(text).not.toContain(canary);
    expect(text).not.toContain(Buffer.from(canary).toString('hex'));
    expect(text).not.toContain('role_id/role-id-canary');
  });

  it('secret-id errors never contain the secret_id', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('web');
    const failures = await Promise.all([
      errorOf(h.call('update', 'role/web/secret-id/lookup', { secret_id: canary })),
      errorOf(h.call('update', 'role/ghost/secret-id/lookup', { secret_id: canary })),
      errorOf(h.call('update', 'role/web/custom-secret-id', { secret_id: canary, ttl: 'x' })),
      errorOf(h.login({ roleId: canary, secretId: canary })),
    ]);
    for (const failure of failures) {
      expect(failure.message).not.toContain(canary);
      expect(failure.message).not.toContain(canary.slice(0, 12));
    }
    expect(failures[0]).toMatchObject({ code: CoreErrorCode.notFound });
  });

  it('secret-id destroy by value and by accessor delete the entry and its index', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('web');
    const first = await h.secretId('web');
    const second = await h.secretId('web');
    await h.call('update', 'role/web/secret-id/destroy', { secret_id: first.secretId });
    await h.call('update', 'role/web/secret-id/destroy', { secret_id: first.secretId });
    await h.call('update', 'role/web/secret-id-accessor/destroy', {
      secret_id_accessor: second.accessor,
    });
    expect((await h.call('list', 'role/web/secret-id')).data).toEqual({ keys: [] });
    const stored = [...h.memory.entries().keys()];
    expect(stored.filter((k) => k.includes('secret_id/') || k.includes('accessor/'))).toEqual([]);
    await expect(
      h.call('update', 'role/web/secret-id-accessor/lookup', {
        secret_id_accessor: second.accessor,
      }),
    ).rejects.toMatchObject({ code: CoreErrorCode.notFound });
    await expect(
      h.call('update', 'role/web/secret-id-accessor/lookup', { secret_id_accessor: '../x' }),
    ).rejects.toMatchObject(invalid);
  });

  it('tidy deletes expired and orphaned secret_ids and dangling accessors, and keeps live ones', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('web', { secret_id_ttl: '1h' });
    const short = await h.secretId('web', { ttl: 60 });
    const long = await h.secretId('web');
    await h.writeRole('gone');
    await h.secretId('gone');
    // An orphan left by an interrupted role delete: the role disappears, its entries stay.
    await h.view.write({ operations: [{ kind: 'delete', key: 'role/gone' }] });
    await h.view.write({
      operations: [
        {
          kind: 'put',
          key: `accessor/web/${crypto.randomUUID()}`,
          value: Buffer.from('{"secretIdHash":"00"}'),
        },
      ],
    });
    h.clock.advance(61_000);
    const tidy = await h.call('update', 'tidy/secret-id');
    expect(tidy.data).toEqual({ deleted_secret_ids: 2, deleted_accessors: 1 });
    expect((await h.call('list', 'role/web/secret-id')).data).toEqual({ keys: [long.accessor] });
    await expect(
      h.call('update', 'role/web/secret-id/lookup', { secret_id: short.secretId }),
    ).rejects.toMatchObject({ code: CoreErrorCode.notFound });
    expect((await h.call('update', 'tidy/secret-id')).data).toEqual({
      deleted_secret_ids: 0,
      deleted_accessors: 0,
    });
  });
});
