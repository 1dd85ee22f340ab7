/**
 * Goal: roles are created with Vault's defaults, updated field by field, read back without
 * their role_id, listed and deleted (with their secret_ids); invalid names and settings are
 * refused; role_ids are unique across roles and a custom role_id moves the index.
 * Method: the AppRole harness (MemoryStorageView, ManualClock) driving routes as the router does.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { AppRoleHarness } from './approle_harness.ts';

const invalid = { code: CoreErrorCode.invalidRequest };

describe('AppRole roles', () => {
  it('role create applies defaults and read shows the settings without the role_id', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('web', { token_policies: 'b,a', token_ttl: '1h' });
    const read = await h.call('read', 'role/web');
    expect(read.data).toEqual({
      bind_secret_id: true,
      secret_id_bound_cidrs: [],
      secret_id_num_uses: 0,
      secret_id_ttl: 0,
      token_ttl: 3600,
      token_max_ttl: 0,
      token_policies: ['a', 'b'],
      policies: ['a', 'b'],
      token_bound_cidrs: [],
      token_num_uses: 0,
      token_period: 0,
      token_type: 'service',
    });
    expect(JSON.stringify(read.data)).not.toContain(await h.roleId('web'));
  });

  it('role update changes only the fields given and keeps the role_id', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('web', { token_policies: ['a'], secret_id_num_uses: 3 });
    const roleId = await h.roleId('web');
    await h.writeRole('web', { policies: ['legacy'], token_max_ttl: '2h' });
    const read = await h.call('read', 'role/web');
    expect(read.data).toMatchObject({
      token_policies: ['legacy'],
      secret_id_num_uses: 3,
      token_max_ttl: 7200,
    });
    expect(await h.roleId('web')).toBe(roleId);
  });

  it('role list names every role and delete removes the role and its secret_ids', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('a');
    await h.writeRole('b');
    const { secretId } = await h.secretId('b');
    expect((await h.call('list', 'role')).data).toEqual({ keys: ['a', 'b'] });
    await h.call('delete', 'role/b');
    await h.call('delete', 'role/b');
    expect((await h.call('list', 'role')).data).toEqual({ keys: ['a'] });
    await expect(h.call('read', 'role/b')).rejects.toMatchObject({ code: CoreErrorCode.notFound });
    const keys = [...h.memory.entries().keys()];
    expect(keys.filter((k) => k.includes('/b/') || k.endsWith('role/b'))).toEqual([]);
    expect(keys.filter((k) => k.includes('role_id/'))).toHaveLength(1);
    expect(h.storedText()).not.toContain(secretId);
  });

  it.each(['', 'a/b', 'sp ace', '..', '.', 'x'.repeat(129), 'é'])(
    'role write refuses the name %j',
    async (name) => {
      const h = new AppRoleHarness();
      await expect(h.call('update', `role/${name}`, {})).rejects.toMatchObject(
        name === 'a/b' ? { code: CoreErrorCode.notFound } : invalid,
      );
    },
  );

  it('role write accepts names with letters, digits and -_.@ up to 128 characters', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('A-b_c.d@e9');
    await h.writeRole('x'.repeat(128));
    expect((await h.call('list', 'role')).data?.['keys']).toHaveLength(2);
  });

  it.each([
    [{ token_type: 'batch' }],
    [{ secret_id_bound_cidrs: '10.0.0.0/33' }],
    [{ token_bound_cidrs: 'nope' }],
    [{ secret_id_num_uses: -1 }],
    [{ token_num_uses: -2 }],
    [{ token_ttl: '2h', token_max_ttl: '1h' }],
    [{ token_policies: 'root,a' }],
    [{ token_policies: ['Root'] }],
    [{ policies: ' ROOT ' }],
    [{ bind_secret_id: false }],
    [{ role_id: '   ' }],
  ])('role write refuses %j with INVALID_REQUEST and stores nothing', async (data) => {
    const h = new AppRoleHarness();
    await expect(h.writeRole('web', data)).rejects.toMatchObject(invalid);
    await expect(h.call('read', 'role/web')).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
  });

  it('role write accepts token_type "default" and a role without secret_id bound by CIDR', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('web', {
      token_type: 'default',
      bind_secret_id: false,
      secret_id_bound_cidrs: ['10.0.0.0/8'],
    });
    expect((await h.call('read', 'role/web')).data).toMatchObject({ bind_secret_id: false });
  });

  it('role-id update sets a custom role_id that must be unique across roles', async () => {
    const h = new AppRoleHarness();
    await h.writeRole('a');
    await h.writeRole('b', { role_id: 'custom-b' });
    expect(await h.roleId('b')).toBe('custom-b');
    await h.call('update', 'role/a/role-id', { role_id: 'custom-a' });
    expect(await h.roleId('a')).toBe('custom-a');
    await expect(h.call('update', 'role/a/role-id', { role_id: 'custom-b' })).rejects.toMatchObject(
      invalid,
    );
    await expect(h.writeRole('c', { role_id: 'custom-a' })).rejects.toMatchObject(invalid);
    await expect(h.call('update', 'role/a/role-id', {})).rejects.toMatchObject(invalid);
    expect([...h.memory.entries().keys()].filter((k) => k.includes('role_id/'))).toHaveLength(2);
    expect(h.storedText().match(/custom-a/g)).toHaveLength(1);
  });

  it('role-id read of a missing role answers NOT_FOUND', async () => {
    const h = new AppRoleHarness();
    await expect(h.roleId('ghost')).rejects.toMatchObject({ code: CoreErrorCode.notFound });
  });

  it('role write tells create from update through exists', async () => {
    const h = new AppRoleHarness();
    const route = h.backend.routes.find((r) => r.pattern === 'role/:role_name');
    expect(route?.exists).toBeDefined();
    await h.writeRole('web');
    const writesBefore = h.memory.writeCount;
    await h.writeRole('web', { token_num_uses: 4 });
    expect(h.memory.writeCount).toBe(writesBefore + 1);
  });
});
