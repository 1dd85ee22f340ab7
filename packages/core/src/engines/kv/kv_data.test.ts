/**
 * Goal: `data/<path>` writes numbered versions, reads the current or a given one, answers a
 * deleted or destroyed one without data, enforces check-and-set (sent or required), patches by
 * RFC 7396, soft-deletes the current version, trims beyond max_versions, and lets exactly one
 * of two racing check-and-set writes win.
 * Method: the KvHarness over a MemoryStorageView (a WriteGate for races), a fixed request
 * instant moved by hand.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import type { StorageView } from '../../router/storage_view.ts';
import { rfc3339 } from './kv_format.ts';
import { KvHarness, kvTestEpochMs, WriteGate } from './kv_test_support.ts';

describe('kv data', () => {
  it('data write answers the version block and read returns data and metadata', async () => {
    const h = new KvHarness();
    const written = await h.data('update', 'data/app/db', { data: { user: 'u', n: 1 } });
    expect(written).toEqual({
      created_time: rfc3339(kvTestEpochMs),
      custom_metadata: null,
      deletion_time: '',
      destroyed: false,
      version: 1,
    });
    h.advance(1000);
    expect(await h.put('app/db', { user: 'v' })).toBe(2);
    const read = await h.data('read', 'data/app/db');
    expect(read).toEqual({
      data: { user: 'v' },
      metadata: {
        created_time: rfc3339(kvTestEpochMs + 1000),
        custom_metadata: null,
        deletion_time: '',
        destroyed: false,
        version: 2,
      },
    });
    expect(await h.get('app/db', 1)).toEqual({ user: 'u', n: 1 });
    expect(await h.get('app/db', 0)).toEqual({ user: 'v' });
  });

  it('data exists tells create from update', async () => {
    const h = new KvHarness();
    const before = h.build('update', 'data/x', { data: {} });
    expect(await before.route.exists?.(before.request)).toBe(false);
    await h.put('x', {});
    const after = h.build('update', 'data/x', { data: {} });
    expect(await after.route.exists?.(after.request)).toBe(true);
  });

  it('data exists reads only the metadata version, without decoding the value', async () => {
    const reads: string[] = [];
    const h = new KvHarness((memory): StorageView => ({
      get: (key) => {
        reads.push(`get ${key}`);
        return memory.get(key);
      },
      getVersioned: (key) => {
        reads.push(`getVersioned ${key}`);
        return memory.getVersioned(key);
      },
      versionOf: (key) => {
        reads.push(`versionOf ${key}`);
        return memory.versionOf(key);
      },
      list: (prefix, options) => memory.list(prefix, options),
      write: (batch) => memory.write(batch),
      sub: (prefix) => memory.sub(prefix),
      afterCommit: (callback) => {
        memory.afterCommit(callback);
      },
    }));
    await h.put('x', { a: 1 });
    reads.length = 0;
    const { route, request } = h.build('update', 'data/x', { data: {} });
    expect(await route.exists?.(request)).toBe(true);
    expect(reads).toEqual(['versionOf metadata/x']);
  });

  it('data read decodes the metadata once per stored version, and sees every write at once', async () => {
    const decoded: string[] = [];
    const h = new KvHarness((memory): StorageView => ({
      get: (key) => memory.get(key),
      getVersioned: (key) => {
        decoded.push(key);
        return memory.getVersioned(key);
      },
      versionOf: (key) => memory.versionOf(key),
      list: (prefix, options) => memory.list(prefix, options),
      write: (batch) => memory.write(batch),
      sub: (prefix) => memory.sub(prefix),
      afterCommit: (callback) => {
        memory.afterCommit(callback);
      },
    }));
    await h.put('x', { a: 1 });
    await h.request('update', 'metadata/x', { custom_metadata: { owner: 'team' } });
    decoded.length = 0;
    expect(await h.get('x')).toEqual({ a: 1 });
    expect(await h.get('x')).toEqual({ a: 1 });
    expect(decoded).toEqual(['metadata/x']);
    // A response never shares the cached metadata: changing it changes no later read.
    const read = await h.data('read', 'data/x');
    const metadata = read['metadata'] as { custom_metadata: Record<string, string> };
    metadata.custom_metadata['owner'] = 'changed';
    expect(await h.data('read', 'data/x')).toMatchObject({
      metadata: { custom_metadata: { owner: 'team' }, version: 1 },
    });
    await h.put('x', { a: 2 });
    expect(await h.get('x')).toEqual({ a: 2 });
    await h.request('delete', 'metadata/x');
    await expect(h.get('x')).rejects.toMatchObject({ code: CoreErrorCode.notFound });
    await h.put('x', { a: 3 });
    expect(await h.data('read', 'data/x')).toMatchObject({
      data: { a: 3 },
      metadata: { version: 1 },
    });
  });

  it('data read refuses a missing secret or version with NOT_FOUND', async () => {
    const h = new KvHarness();
    await expect(h.request('read', 'data/none')).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
    await h.put('one', { a: 1 });
    await expect(h.get('one', 2)).rejects.toMatchObject({ code: CoreErrorCode.notFound });
    await expect(h.get('one', -1)).rejects.toMatchObject({ code: CoreErrorCode.invalidRequest });
  });

  it('data write refuses a missing or non-object data and unknown options', async () => {
    const h = new KvHarness();
    await expect(h.request('update', 'data/x', {})).rejects.toMatchObject({
      code: CoreErrorCode.invalidRequest,
    });
    for (const data of ['text', [1, 2], 3, true]) {
      await expect(h.request('update', 'data/x', { data })).rejects.toMatchObject({
        code: CoreErrorCode.invalidRequest,
      });
    }
    await expect(
      h.request('update', 'data/x', { data: {}, options: { cas: 0, other: 1 } }),
    ).rejects.toMatchObject({ code: CoreErrorCode.invalidRequest });
    for (const cas of [-1, 1.5, 'x', {}]) {
      await expect(
        h.request('update', 'data/x', { data: {}, options: { cas } }),
      ).rejects.toMatchObject({ code: CoreErrorCode.invalidRequest });
    }
    expect(h.storageKeys()).toEqual([]);
  });

  it('data write with cas 0 succeeds only for a new secret, cas N only at version N', async () => {
    const h = new KvHarness();
    expect(await h.put('c', { v: 1 }, 0)).toBe(1);
    await expect(h.put('c', { v: 2 }, 0)).rejects.toMatchObject({
      code: CoreErrorCode.casMismatch,
    });
    await expect(h.put('c', { v: 2 }, 2)).rejects.toMatchObject({
      code: CoreErrorCode.casMismatch,
    });
    expect(await h.put('c', { v: 2 }, 1)).toBe(2);
    expect(
      await h.data('update', 'data/c', { data: { v: 3 }, options: { cas: '2' } }),
    ).toMatchObject({
      version: 3,
    });
  });

  it('data write without cas fails with CAS_MISMATCH when the mount or key requires it', async () => {
    const h = new KvHarness();
    await h.request('update', 'config', { cas_required: true });
    const refused = h.put('m', { a: 1 });
    await expect(refused).rejects.toMatchObject({ code: CoreErrorCode.casMismatch });
    await expect(refused).rejects.toThrow(/^Send options\.cas/);
    expect(await h.put('m', { a: 1 }, 0)).toBe(1);
    await h.request('update', 'config', { cas_required: false });
    await h.request('update', 'metadata/m', { cas_required: true });
    await expect(h.put('m', { a: 2 })).rejects.toMatchObject({ code: CoreErrorCode.casMismatch });
    expect(await h.put('m', { a: 2 }, 1)).toBe(2);
    expect(await h.put('other', { a: 1 })).toBe(1);
  });

  it('data write of two check-and-set writers prepared at the same version lets exactly one win', async () => {
    let gate: WriteGate | undefined;
    const h = new KvHarness((memory) => (gate = new WriteGate(memory)));
    await h.put('race', { v: 0 });
    gate?.hold(2);
    const results = await Promise.allSettled([
      h.put('race', { v: 'a' }, 1),
      h.put('race', { v: 'b' }, 1),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.status === 'rejected' ? lost[0].reason : undefined).toMatchObject({
      code: CoreErrorCode.casMismatch,
    });
    expect(await h.get('race')).toEqual({ v: 'a' });
    expect((await h.data('read', 'metadata/race'))['current_version']).toBe(2);
  });

  it('data write of two writers without cas at the same version gives them distinct versions', async () => {
    let gate: WriteGate | undefined;
    const h = new KvHarness((memory) => (gate = new WriteGate(memory)));
    gate?.hold(2);
    const versions = await Promise.all([h.put('r2', { v: 'a' }), h.put('r2', { v: 'b' })]);
    expect(versions).toEqual([1, 2]);
    expect(await h.get('r2', 1)).toEqual({ v: 'a' });
    expect(await h.get('r2', 2)).toEqual({ v: 'b' });
  });

  it('data write of 2 to 6 racing writers gives each a distinct version and one cas winner', async () => {
    for (let writers = 2; writers <= 6; writers++) {
      let gate: WriteGate | undefined;
      const h = new KvHarness((memory) => (gate = new WriteGate(memory)));
      await h.put('many', { v: -1 });
      gate?.hold(writers);
      const plain = await Promise.all(
        Array.from({ length: writers }, (_, i) => h.put('many', { v: i })),
      );
      expect([...plain].sort((a, b) => a - b)).toEqual(
        Array.from({ length: writers }, (_, i) => i + 2),
      );
      const current = 1 + writers;
      gate?.hold(writers);
      const cas = await Promise.allSettled(
        Array.from({ length: writers }, (_, i) => h.put('many', { c: i }, current)),
      );
      expect(cas.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect((await h.data('read', 'metadata/many'))['current_version']).toBe(current + 1);
    }
  });

  it('data write gives up with WRITE_REFUSED when every attempt loses its race', async () => {
    const h = new KvHarness();
    await h.put('busy', { v: 0 });
    const inner = h.storage;
    const losing: StorageView = {
      get: (key) => inner.get(key),
      getVersioned: (key) => inner.getVersioned(key),
      versionOf: (key) => inner.versionOf(key),
      list: (prefix, options) => inner.list(prefix, options),
      sub: (prefix) => inner.sub(prefix),
      afterCommit: (callback) => {
        inner.afterCommit(callback);
      },
      write: () => Promise.resolve({ ok: false, key: 'metadata/busy', actualVersion: 99 }),
    };
    const { route, request } = h.build('update', 'data/busy', { data: { v: 1 } });
    await expect(route.operations.update?.({ ...request, storage: losing })).rejects.toMatchObject({
      code: CoreErrorCode.writeRefused,
    });
    expect(await h.get('busy')).toEqual({ v: 0 });
  });

  it('data write keeps max_versions versions and drops the oldest data', async () => {
    const h = new KvHarness();
    await h.request('update', 'config', { max_versions: 3 });
    for (let i = 1; i <= 5; i++) {
      expect(await h.put('t', { i })).toBe(i);
    }
    const metadata = await h.data('read', 'metadata/t');
    expect(Object.keys(metadata['versions'] as object)).toEqual(['3', '4', '5']);
    expect(metadata['oldest_version']).toBe(3);
    await expect(h.get('t', 2)).rejects.toMatchObject({ code: CoreErrorCode.notFound });
    expect(await h.get('t', 3)).toEqual({ i: 3 });
    const dataKeys = h.storageKeys().filter((k) => k.startsWith('versions/'));
    expect(dataKeys).toHaveLength(3);
    // A key's own max_versions overrides the mount's; lowering it trims on the next write.
    await h.request('update', 'metadata/t', { max_versions: 1 });
    expect(await h.put('t', { i: 6 })).toBe(6);
    expect(Object.keys((await h.data('read', 'metadata/t'))['versions'] as object)).toEqual(['6']);
    expect(h.storageKeys().filter((k) => k.startsWith('versions/'))).toHaveLength(1);
  });

  it('data write keeps 10 versions by default', async () => {
    const h = new KvHarness();
    for (let i = 1; i <= 12; i++) {
      await h.put('d', { i });
    }
    const versions = Object.keys((await h.data('read', 'metadata/d'))['versions'] as object);
    expect(versions.map(Number)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('data read of a deleted or destroyed version answers null data, metadata and a warning', async () => {
    const h = new KvHarness();
    await h.put('g', { a: 1 });
    await h.put('g', { a: 2 });
    h.advance(500);
    await h.request('delete', 'data/g');
    const deleted = await h.request('read', 'data/g');
    expect(deleted.data).toEqual({
      data: null,
      metadata: {
        created_time: rfc3339(kvTestEpochMs),
        custom_metadata: null,
        deletion_time: rfc3339(kvTestEpochMs + 500),
        destroyed: false,
        version: 2,
      },
    });
    expect(deleted.warnings?.[0]).toMatch(/deleted/);
    await h.request('update', 'destroy/g', { versions: [1] });
    const destroyed = await h.request('read', 'data/g', { version: 1 });
    expect(destroyed.data?.['data']).toBeNull();
    expect(destroyed.warnings?.[0]).toMatch(/destroyed/);
  });

  it('data delete soft-deletes only the current version and is a no-op when nothing to delete', async () => {
    const h = new KvHarness();
    await h.request('delete', 'data/none');
    expect(h.memory.writeCount).toBe(0);
    await h.put('s', { a: 1 });
    await h.put('s', { a: 2 });
    await h.request('delete', 'data/s');
    const writes = h.memory.writeCount;
    await h.request('delete', 'data/s');
    expect(h.memory.writeCount).toBe(writes);
    expect(await h.get('s')).toBeNull();
    expect(await h.get('s', 1)).toEqual({ a: 1 });
    // A new write makes a live current version again.
    expect(await h.put('s', { a: 3 })).toBe(3);
    expect(await h.get('s')).toEqual({ a: 3 });
  });

  it('data write sets deletion_time from delete_version_after and reads honour it by nowMs', async () => {
    const h = new KvHarness();
    await h.request('update', 'config', { delete_version_after: '1h' });
    const written = await h.data('update', 'data/e', { data: { a: 1 } });
    expect(written['deletion_time']).toBe(rfc3339(kvTestEpochMs + 3_600_000));
    h.advance(3_600_000 - 1);
    expect(await h.get('e')).toEqual({ a: 1 });
    h.advance(1);
    expect(await h.get('e')).toBeNull();
    // The smaller non-zero of the mount's and the key's setting applies.
    await h.request('update', 'metadata/e', { delete_version_after: '10m' });
    const second = await h.data('update', 'data/e', { data: { a: 2 } });
    expect(second['deletion_time']).toBe(rfc3339(h.nowMs + 600_000));
    await h.request('update', 'metadata/e', { delete_version_after: '2h' });
    const third = await h.data('update', 'data/e', { data: { a: 3 } });
    expect(third['deletion_time']).toBe(rfc3339(h.nowMs + 3_600_000));
    // Undelete clears the schedule.
    await h.request('update', 'undelete/e', { versions: [1] });
    h.advance(10 * 3_600_000);
    expect(await h.get('e', 1)).toEqual({ a: 1 });
  });

  it('data patch merges into the current version by RFC 7396, null removing a key', async () => {
    const h = new KvHarness();
    await h.put('p', { keep: 1, drop: 2, nested: { a: 1, b: 2 }, list: [1, 2] });
    const patched = await h.data('patch', 'data/p', {
      data: { drop: null, nested: { b: null, c: 3 }, list: [3], added: 'x' },
    });
    expect(patched['version']).toBe(2);
    expect(await h.get('p')).toEqual({ keep: 1, nested: { a: 1, c: 3 }, list: [3], added: 'x' });
    expect(await h.get('p', 1)).toEqual({ keep: 1, drop: 2, nested: { a: 1, b: 2 }, list: [1, 2] });
  });

  it('data patch honours options.cas and refuses a missing, deleted or destroyed current version', async () => {
    const h = new KvHarness();
    await expect(h.request('patch', 'data/q', { data: { a: 1 } })).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
    await h.put('q', { a: 1 });
    await expect(
      h.request('patch', 'data/q', { data: { a: 2 }, options: { cas: 0 } }),
    ).rejects.toMatchObject({ code: CoreErrorCode.casMismatch });
    expect(
      (await h.data('patch', 'data/q', { data: { a: 2 }, options: { cas: 1 } }))['version'],
    ).toBe(2);
    await expect(h.request('patch', 'data/q', {})).rejects.toMatchObject({
      code: CoreErrorCode.invalidRequest,
    });
    await h.request('delete', 'data/q');
    await expect(h.request('patch', 'data/q', { data: { a: 3 } })).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
    await h.put('q', { a: 3 });
    await h.request('update', 'destroy/q', { versions: [3] });
    await expect(h.request('patch', 'data/q', { data: { a: 4 } })).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
    await h.request('update', 'metadata/meta-only', { max_versions: 2 });
    await expect(h.request('patch', 'data/meta-only', { data: { a: 4 } })).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
  });

  it('data paths with unicode and nested folders keep separate secrets', async () => {
    const h = new KvHarness();
    await h.put('ü/ß/日本', { a: 'x' });
    await h.put('ü/ß', { b: 'y' });
    await h.put('ü', { c: 'z' });
    expect(await h.get('ü/ß/日本')).toEqual({ a: 'x' });
    expect(await h.get('ü/ß')).toEqual({ b: 'y' });
    expect(await h.get('ü')).toEqual({ c: 'z' });
    await h.request('delete', 'metadata/ü/ß');
    expect(await h.get('ü/ß/日本')).toEqual({ a: 'x' });
    expect(await h.get('ü')).toEqual({ c: 'z' });
    await expect(h.get('ü/ß')).rejects.toMatchObject({ code: CoreErrorCode.notFound });
  });

  it('data read answers INTERNAL when the stored version data is missing, not a secret', async () => {
    const h = new KvHarness();
    await h.put('broken', { password: 'hunter2' });
    const dataKey = h.storageKeys().find((k) => k.startsWith('versions/'));
    await h.memory.write({ operations: [{ kind: 'delete', key: dataKey ?? '' }] });
    const failed = h.get('broken');
    await expect(failed).rejects.toMatchObject({ code: CoreErrorCode.internal });
    await expect(failed).rejects.not.toThrow(/hunter2/);
    await h.memory.write({
      operations: [{ kind: 'put', key: 'metadata/broken', value: new TextEncoder().encode('{}') }],
    });
    await expect(h.get('broken')).rejects.toMatchObject({ code: CoreErrorCode.internal });
  });
});
