/**
 * Goal: the storage layer lists folders Vault style without looping on unusual keys, keeps
 * version data of `a` and `a/...` apart, and tells a change racing a destroy from corruption.
 * Method: MemoryStorageView directly, and views that apply a concurrent write between a
 * handler's reads.
 */
import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { MemoryStorageView } from '../../router/memory_storage_view.ts';
import type { StorageView } from '../../router/storage_view.ts';
import { KvHarness } from './kv_test_support.ts';
import { changeSecret, listChildren, versionDataKey, versionDataPrefix } from './kv_storage.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

/** A view that runs `before` once, just before the first get of a version-data key. */
function interfering(memory: MemoryStorageView, before: () => Promise<void>): StorageView {
  let fired = false;
  return {
    get: async (key) => {
      if (!fired && key.startsWith('versions/')) {
        fired = true;
        await before();
      }
      return memory.get(key);
    },
    getVersioned: (key) => memory.getVersioned(key),
    versionOf: (key) => memory.versionOf(key),
    list: (prefix, options) => memory.list(prefix, options),
    sub: (prefix) => memory.sub(prefix),
    afterCommit: (callback) => {
      memory.afterCommit(callback);
    },
    write: (batch) => memory.write(batch),
  };
}

describe('kv storage', () => {
  it('versionDataPrefix is `versions/` and the hex SHA-256 of the UTF-8 path (the stored layout)', () => {
    for (const path of ['a', 'app/db', 'kv/日本/ü', 'emoji \u{1F600}', '']) {
      const digest = createHash('sha256').update(Buffer.from(path, 'utf8')).digest('hex');
      expect(versionDataPrefix(path)).toBe(`versions/${digest}/`);
    }
  });

  it('versionDataPrefix gives a path and its sub-paths disjoint prefixes', () => {
    const a = versionDataPrefix('a');
    expect(versionDataKey('a/1', 1).startsWith(a)).toBe(false);
    expect(versionDataKey('a', 12)).toBe(`${a}12`);
    expect(versionDataPrefix('ü')).not.toBe(versionDataPrefix('u'));
  });

  it('listChildren dedupes a folder seen again past its skip point and ends', async () => {
    const memory = new MemoryStorageView();
    const keys = [
      'p/x',
      'p/x/a',
      'p/x/\u{10FFFF}\u{10FFFF}',
      'p/x/\u{10FFFF}z',
      'p/x0',
      'p/\uE000',
    ];
    await memory.write({
      operations: keys.map((key) => ({ kind: 'put', key, value: bytes('{}') })),
    });
    expect(await listChildren(memory, 'p/')).toEqual(['x', 'x/', 'x0', '\uE000']);
    expect(await listChildren(memory, 'q/')).toEqual([]);
  });

  it('data read retries when a destroy lands between its metadata and data reads', async () => {
    const h: KvHarness = new KvHarness((memory) =>
      interfering(memory, async () => {
        await h.request('update', 'destroy/r', { versions: [1] });
      }),
    );
    await h.put('r', { s: 1 });
    const read = await h.request('read', 'data/r');
    expect(read.data?.['data']).toBeNull();
    expect(read.data?.['metadata']).toMatchObject({ destroyed: true });
  });

  it('data patch plans again when a destroy lands between its reads', async () => {
    const h: KvHarness = new KvHarness((memory) =>
      interfering(memory, async () => {
        await h.put('r', { s: 2 });
        await h.request('update', 'destroy/r', { versions: [1] });
      }),
    );
    // Written straight to memory so the interference fires in the patch, not the write.
    await changeSecret(h.memory, 'r', () =>
      Promise.resolve({
        next: {
          currentVersion: 1,
          oldestVersion: 0,
          maxVersions: 0,
          casRequired: false,
          deleteVersionAfterSeconds: 0,
          customMetadata: null,
          createdMs: 0,
          updatedMs: 0,
          versions: { '1': { createdMs: 0, deletionMs: null, destroyed: false } },
        },
        operations: [
          { kind: 'put', key: versionDataKey('r', 1), value: bytes('{"data":{"s":1}}') },
        ],
        result: undefined,
      }),
    );
    const patched = await h.data('patch', 'data/r', { data: { t: 1 } });
    expect(patched['version']).toBe(3);
    expect(await h.get('r')).toEqual({ s: 2, t: 1 });
  });

  it('changeSecret answers INTERNAL when version data is missing and nothing changed', async () => {
    const h = new KvHarness();
    await h.put('c', { s: 1 });
    await h.memory.write({ operations: [{ kind: 'delete', key: versionDataKey('c', 1) }] });
    await expect(h.request('patch', 'data/c', { data: { t: 1 } })).rejects.toMatchObject({
      code: CoreErrorCode.internal,
    });
  });
});
