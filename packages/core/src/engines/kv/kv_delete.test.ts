/**
 * Goal: `delete/<path>` soft-deletes the listed versions only, leaves destroyed, missing and
 * already deleted versions alone, and refuses a missing or malformed `versions`.
 * Method: the KvHarness over a MemoryStorageView; write counts show no-op requests.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { rfc3339 } from './kv_format.ts';
import { KvHarness } from './kv_test_support.ts';

describe('kv delete', () => {
  it('delete soft-deletes the listed versions and keeps their data for undelete', async () => {
    const h = new KvHarness();
    for (let i = 1; i <= 3; i++) {
      await h.put('k', { i });
    }
    h.advance(60_000);
    await h.request('update', 'delete/k', { versions: [1, 3] });
    expect(await h.get('k', 1)).toBeNull();
    expect(await h.get('k', 2)).toEqual({ i: 2 });
    expect(await h.get('k')).toBeNull();
    const versions = (await h.data('read', 'metadata/k'))['versions'] as Record<
      string,
      Record<string, unknown>
    >;
    expect(versions['1']?.['deletion_time']).toBe(rfc3339(h.nowMs));
    expect(versions['2']?.['deletion_time']).toBe('');
    expect(h.storageKeys().filter((k) => k.startsWith('versions/'))).toHaveLength(3);
  });

  it('delete accepts versions as a comma-separated string and ignores unknown versions', async () => {
    const h = new KvHarness();
    await h.put('k', { i: 1 });
    await h.put('k', { i: 2 });
    await h.request('update', 'delete/k', { versions: '2, 9' });
    expect(await h.get('k')).toBeNull();
    expect(await h.get('k', 1)).toEqual({ i: 1 });
  });

  it('delete changes nothing for a missing secret or already deleted versions', async () => {
    const h = new KvHarness();
    await h.request('update', 'delete/none', { versions: [1] });
    expect(h.memory.writeCount).toBe(0);
    await h.put('k', { i: 1 });
    await h.request('update', 'delete/k', { versions: [1] });
    const writes = h.memory.writeCount;
    h.advance(1000);
    await h.request('update', 'delete/k', { versions: [1, 5] });
    expect(h.memory.writeCount).toBe(writes);
  });

  it('delete refuses missing, empty or non-positive versions', async () => {
    const h = new KvHarness();
    await h.put('k', { i: 1 });
    for (const data of [
      {},
      { versions: [] },
      { versions: [0] },
      { versions: [-1] },
      { versions: ['x'] },
      { versions: [1.5] },
    ]) {
      await expect(h.request('update', 'delete/k', data)).rejects.toMatchObject({
        code: CoreErrorCode.invalidRequest,
      });
    }
  });
});
