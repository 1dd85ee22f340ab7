/**
 * Goal: `config` reads Vault's defaults before any write, changes only the fields sent, and
 * refuses wrong values.
 * Method: the KvHarness over a MemoryStorageView.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { KvHarness } from './kv_test_support.ts';

describe('kv config', () => {
  it('config read answers the defaults before any write', async () => {
    const h = new KvHarness();
    expect(await h.data('read', 'config')).toEqual({
      max_versions: 0,
      cas_required: false,
      delete_version_after: '0s',
    });
    expect(h.memory.writeCount).toBe(0);
  });

  it('config update changes only the fields sent', async () => {
    const h = new KvHarness();
    await h.request('update', 'config', { max_versions: 5, delete_version_after: '1h30m' });
    await h.request('update', 'config', { cas_required: 'true' });
    expect(await h.data('read', 'config')).toEqual({
      max_versions: 5,
      cas_required: true,
      delete_version_after: '1h30m0s',
    });
    await h.request('update', 'config', { delete_version_after: '0s' });
    expect((await h.data('read', 'config'))['delete_version_after']).toBe('0s');
  });

  it('config update refuses a negative max_versions, wrong types and unknown fields', async () => {
    const h = new KvHarness();
    for (const data of [
      { max_versions: -1 },
      { max_versions: 'many' },
      { cas_required: 'yes' },
      { delete_version_after: '-5s' },
      { other: 1 },
    ]) {
      await expect(h.request('update', 'config', data)).rejects.toMatchObject({
        code: CoreErrorCode.invalidRequest,
      });
    }
    expect(h.memory.writeCount).toBe(0);
  });

  it('config read refuses a corrupt stored config with INTERNAL', async () => {
    const h = new KvHarness();
    await h.memory.write({
      operations: [{ kind: 'put', key: 'config', value: new TextEncoder().encode('{"x":1}') }],
    });
    await expect(h.request('read', 'config')).rejects.toMatchObject({
      code: CoreErrorCode.internal,
    });
  });
});
