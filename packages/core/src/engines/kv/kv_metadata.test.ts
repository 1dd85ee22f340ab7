/**
 * Goal: `metadata/<path>` reads a secret's version history and settings, writes and patches
 * them (custom_metadata within Vault's limits, null removing a key in a patch), and deletes a
 * secret with every version for good.
 * Method: the KvHarness over a MemoryStorageView; storage keys inspected after a delete.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { rfc3339 } from './kv_format.ts';
import { KvHarness, kvTestEpochMs } from './kv_test_support.ts';

describe('kv metadata', () => {
  it('metadata read answers the versions, settings and times', async () => {
    const h = new KvHarness();
    await h.put('app', { a: 1 });
    h.advance(2000);
    await h.put('app', { a: 2 });
    await h.request('delete', 'data/app');
    expect(await h.data('read', 'metadata/app')).toEqual({
      cas_required: false,
      created_time: rfc3339(kvTestEpochMs),
      current_version: 2,
      custom_metadata: null,
      delete_version_after: '0s',
      max_versions: 0,
      oldest_version: 0,
      updated_time: rfc3339(kvTestEpochMs + 2000),
      versions: {
        '1': { created_time: rfc3339(kvTestEpochMs), deletion_time: '', destroyed: false },
        '2': {
          created_time: rfc3339(kvTestEpochMs + 2000),
          deletion_time: rfc3339(kvTestEpochMs + 2000),
          destroyed: false,
        },
      },
    });
    await expect(h.request('read', 'metadata/none')).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
  });

  it('metadata write creates a secret without versions and sets only the fields sent', async () => {
    const h = new KvHarness();
    const { route, request } = h.build('update', 'metadata/new', {});
    expect(await route.exists?.(request)).toBe(false);
    await h.request('update', 'metadata/new', {});
    expect(h.memory.writeCount).toBe(0);
    await h.request('update', 'metadata/new', {
      max_versions: 4,
      custom_metadata: { owner: 'team-a', n: 3 },
    });
    await h.request('update', 'metadata/new', { delete_version_after: '90s' });
    const metadata = await h.data('read', 'metadata/new');
    expect(metadata).toMatchObject({
      current_version: 0,
      max_versions: 4,
      delete_version_after: '1m30s',
      custom_metadata: { owner: 'team-a', n: '3' },
      versions: {},
    });
    await expect(h.request('read', 'data/new')).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
    // A write of custom_metadata replaces the whole map; the data write shows it.
    await h.request('update', 'metadata/new', { custom_metadata: { other: 'x' } });
    expect((await h.data('update', 'data/new', { data: {} }))['custom_metadata']).toEqual({
      other: 'x',
    });
    expect(await h.put('new', {}, 1)).toBe(2);
  });

  it('metadata write refuses a negative max_versions', async () => {
    const h = new KvHarness();
    await expect(h.request('update', 'metadata/x', { max_versions: -2 })).rejects.toMatchObject({
      code: CoreErrorCode.invalidRequest,
    });
  });

  it('metadata write enforces the custom_metadata limits', async () => {
    const h = new KvHarness();
    const keys = (count: number) =>
      Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v']));
    await h.request('update', 'metadata/l', { custom_metadata: keys(64) });
    const refused = [
      keys(65),
      { ['k'.repeat(129)]: 'v' },
      { k: 'v'.repeat(513) },
      { k: '' },
      { '': 'v' },
      { k: 'line\nbreak' },
      { 'tab\tkey': 'v' },
      { k: null },
      { k: { nested: 'no' } },
    ];
    for (const custom of refused) {
      await expect(
        h.request('update', 'metadata/l', { custom_metadata: custom }),
      ).rejects.toMatchObject({ code: CoreErrorCode.invalidRequest });
    }
    // Sizes count UTF-8 bytes: 128 bytes of "é" is 64 characters.
    await h.request('update', 'metadata/l', {
      custom_metadata: { ['é'.repeat(64)]: 'ü'.repeat(256), 'with space': 'a b' },
    });
    await expect(
      h.request('update', 'metadata/l', { custom_metadata: { ['é'.repeat(65)]: 'v' } }),
    ).rejects.toMatchObject({ code: CoreErrorCode.invalidRequest });
    await expect(h.request('update', 'metadata/l', { custom_metadata: 'x' })).rejects.toMatchObject(
      {
        code: CoreErrorCode.invalidRequest,
      },
    );
  });

  it('metadata patch merges custom_metadata (null removes a key) and keeps other settings', async () => {
    const h = new KvHarness();
    await expect(h.request('patch', 'metadata/pm', { max_versions: 2 })).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
    await h.request('update', 'metadata/pm', {
      max_versions: 3,
      cas_required: true,
      custom_metadata: { a: '1', b: '2' },
    });
    await h.request('patch', 'metadata/pm', { custom_metadata: { b: null, c: '3' } });
    await h.request('patch', 'metadata/pm', { delete_version_after: '0s', max_versions: 0 });
    expect(await h.data('read', 'metadata/pm')).toMatchObject({
      max_versions: 0,
      cas_required: true,
      delete_version_after: '0s',
      custom_metadata: { a: '1', c: '3' },
    });
    const tooMany = Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`n${i}`, 'v']));
    await expect(
      h.request('patch', 'metadata/pm', { custom_metadata: tooMany }),
    ).rejects.toMatchObject({ code: CoreErrorCode.invalidRequest });
  });

  it('metadata write of cas_required false under a mount that requires it warns', async () => {
    const h = new KvHarness();
    await h.request('update', 'config', { cas_required: true });
    const response = await h.request('update', 'metadata/w', { cas_required: false });
    expect(response.warnings?.[0]).toMatch(/mount requires check-and-set/);
    await expect(h.put('w', { a: 1 })).rejects.toMatchObject({ code: CoreErrorCode.casMismatch });
  });

  it('metadata delete removes the metadata and every version for good', async () => {
    const h = new KvHarness();
    await h.put('gone', { a: 1 });
    await h.put('gone', { a: 2 });
    await h.request('update', 'destroy/gone', { versions: [1] });
    await h.put('gone/child', { c: 1 });
    await h.request('delete', 'metadata/gone');
    await expect(h.get('gone')).rejects.toMatchObject({ code: CoreErrorCode.notFound });
    expect(await h.get('gone/child')).toEqual({ c: 1 });
    expect(h.storageKeys().filter((k) => k.startsWith('versions/'))).toHaveLength(1);
    expect(h.storageKeys().filter((k) => k.startsWith('metadata/'))).toEqual([
      'metadata/gone/child',
    ]);
    // Deleting again changes nothing; a new write starts at version 1.
    const writes = h.memory.writeCount;
    await h.request('delete', 'metadata/gone');
    expect(h.memory.writeCount).toBe(writes);
    expect(await h.put('gone', { a: 3 }, 0)).toBe(1);
  });
});
