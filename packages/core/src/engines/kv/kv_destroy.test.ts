/**
 * Goal: `destroy/<path>` removes the listed versions' data from storage for good, marks them
 * destroyed in the metadata, and leaves other versions readable.
 * Method: the KvHarness over a MemoryStorageView; storage keys inspected.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { KvHarness } from './kv_test_support.ts';

describe('kv destroy', () => {
  it('destroy removes the data of the listed versions and marks them destroyed', async () => {
    const h = new KvHarness();
    await h.put('d', { secret: 'one' });
    await h.put('d', { secret: 'two' });
    await h.request('update', 'destroy/d', { versions: [1] });
    const stored = [...h.memory.entries().values()].map((v) => new TextDecoder().decode(v.value));
    expect(stored.some((text) => text.includes('"one"'))).toBe(false);
    expect(stored.some((text) => text.includes('"two"'))).toBe(true);
    expect(await h.get('d', 1)).toBeNull();
    expect(await h.get('d')).toEqual({ secret: 'two' });
    const versions = (await h.data('read', 'metadata/d'))['versions'] as Record<
      string,
      Record<string, unknown>
    >;
    expect(versions['1']?.['destroyed']).toBe(true);
    // Destroyed stays destroyed: neither undelete nor a second destroy changes it.
    await h.request('update', 'undelete/d', { versions: [1] });
    const writes = h.memory.writeCount;
    await h.request('update', 'destroy/d', { versions: [1, 3] });
    expect(h.memory.writeCount).toBe(writes);
    expect(await h.get('d', 1)).toBeNull();
  });

  it('destroy of a deleted version removes its data too', async () => {
    const h = new KvHarness();
    await h.put('d', { s: 1 });
    await h.request('delete', 'data/d');
    await h.request('update', 'destroy/d', { versions: [1] });
    expect(h.storageKeys().filter((k) => k.startsWith('versions/'))).toEqual([]);
    expect((await h.data('read', 'data/d'))['metadata']).toMatchObject({ destroyed: true });
  });

  it('destroy changes nothing for a missing secret and needs versions', async () => {
    const h = new KvHarness();
    await h.request('update', 'destroy/none', { versions: [1] });
    expect(h.memory.writeCount).toBe(0);
    await expect(h.request('update', 'destroy/none', { versions: 'a,b' })).rejects.toMatchObject({
      code: CoreErrorCode.invalidRequest,
    });
  });
});
