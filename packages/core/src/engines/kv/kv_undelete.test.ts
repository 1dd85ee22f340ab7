/**
 * Goal: `undelete/<path>` restores soft-deleted versions (and cancels a delete_version_after
 * schedule) but never a destroyed one.
 * Method: the KvHarness over a MemoryStorageView.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { KvHarness } from './kv_test_support.ts';

describe('kv undelete', () => {
  it('undelete restores deleted versions and leaves destroyed ones destroyed', async () => {
    const h = new KvHarness();
    await h.put('u', { i: 1 });
    await h.put('u', { i: 2 });
    await h.request('update', 'delete/u', { versions: [1, 2] });
    await h.request('update', 'destroy/u', { versions: [2] });
    await h.request('update', 'undelete/u', { versions: [1, 2, 7] });
    expect(await h.get('u', 1)).toEqual({ i: 1 });
    const destroyed = await h.data('read', 'data/u');
    expect(destroyed['data']).toBeNull();
    expect(destroyed['metadata']).toMatchObject({ destroyed: true, version: 2 });
  });

  it('undelete changes nothing for a missing secret or live versions and needs versions', async () => {
    const h = new KvHarness();
    await h.request('update', 'undelete/none', { versions: [1] });
    await h.put('u', { i: 1 });
    const writes = h.memory.writeCount;
    await h.request('update', 'undelete/u', { versions: [1] });
    expect(h.memory.writeCount).toBe(writes);
    await expect(h.request('update', 'undelete/u', {})).rejects.toMatchObject({
      code: CoreErrorCode.invalidRequest,
    });
  });
});
