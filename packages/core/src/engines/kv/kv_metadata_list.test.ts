/**
 * Goal: LIST `metadata` and `metadata/<folder>` answer a folder's secrets and sub-folders the
 * way Vault does (`a` and `a/` side by side, each once, in key order), page through large
 * folders, and answer NOT_FOUND for an empty folder.
 * Method: the KvHarness over a MemoryStorageView, with a view that counts list calls.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { KvHarness } from './kv_test_support.ts';

describe('kv metadata list', () => {
  it('metadata list answers names and folders of the root and of a folder', async () => {
    const h = new KvHarness();
    for (const path of ['a', 'a/b', 'a/c/d', 'a-x', 'a0', 'b', 'ü/日本', 'z/y/x']) {
      await h.put(path, { p: path });
    }
    expect(await h.data('list', 'metadata')).toEqual({
      keys: ['a', 'a-x', 'a/', 'a0', 'b', 'z/', 'ü/'],
    });
    expect(await h.data('list', 'metadata/a')).toEqual({ keys: ['b', 'c/'] });
    expect(await h.data('list', 'metadata/a/c')).toEqual({ keys: ['d'] });
    expect(await h.data('list', 'metadata/ü')).toEqual({ keys: ['日本'] });
    expect(await h.data('list', 'metadata/z')).toEqual({ keys: ['y/'] });
  });

  it('metadata list answers NOT_FOUND for an empty folder or mount', async () => {
    const h = new KvHarness();
    await expect(h.request('list', 'metadata')).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
    await h.put('a/b', {});
    await expect(h.request('list', 'metadata/b')).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
    await expect(h.request('list', 'metadata/a/b')).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
  });

  it('metadata list shows secrets with metadata only and drops deleted ones', async () => {
    const h = new KvHarness();
    await h.request('update', 'metadata/only', { max_versions: 1 });
    await h.put('gone', {});
    await h.request('delete', 'metadata/gone');
    expect(await h.data('list', 'metadata')).toEqual({ keys: ['only'] });
  });

  it('metadata list pages through more names than one page and skips folder contents', async () => {
    let listCalls = 0;
    const h = new KvHarness((memory) => ({
      get: (key) => memory.get(key),
      getVersioned: (key) => memory.getVersioned(key),
      versionOf: (key) => memory.versionOf(key),
      list: (prefix, options) => {
        listCalls += 1;
        return memory.list(prefix, options);
      },
      sub: (prefix) => memory.sub(prefix),
      afterCommit: (callback) => {
        memory.afterCommit(callback);
      },
      write: (batch) => memory.write(batch),
    }));
    const names = Array.from({ length: 1205 }, (_, i) => `n${String(i).padStart(4, '0')}`);
    for (const name of names) {
      await h.put(name, {});
    }
    for (let i = 0; i < 50; i++) {
      await h.put(`big/${String(i).padStart(3, '0')}`, {});
    }
    listCalls = 0;
    expect((await h.data('list', 'metadata'))['keys']).toEqual(['big/', ...names]);
    // One page up to the folder, then two pages of names: the folder's keys are skipped.
    expect(listCalls).toBe(3);
  });
});
