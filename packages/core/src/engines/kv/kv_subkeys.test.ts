/**
 * Goal: `subkeys/<path>` answers a version's key structure with every value nulled, down to a
 * depth, and no structure for a deleted version.
 * Method: the KvHarness over a MemoryStorageView.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { KvHarness } from './kv_test_support.ts';

describe('kv subkeys', () => {
  it('subkeys nulls every value, down to depth', async () => {
    const h = new KvHarness();
    await h.put('s', { a: 1, b: { c: 'x', d: { e: [1] } }, f: [1, 2] });
    expect((await h.data('read', 'subkeys/s'))['subkeys']).toEqual({
      a: null,
      b: { c: null, d: { e: null } },
      f: null,
    });
    expect((await h.data('read', 'subkeys/s', { depth: 1 }))['subkeys']).toEqual({
      a: null,
      b: null,
      f: null,
    });
    expect((await h.data('read', 'subkeys/s', { depth: 2 }))['subkeys']).toEqual({
      a: null,
      b: { c: null, d: null },
      f: null,
    });
    const response = await h.data('read', 'subkeys/s', { version: 1 });
    expect(response['metadata']).toMatchObject({ version: 1 });
  });

  it('subkeys answers null for a deleted version and NOT_FOUND for a missing one', async () => {
    const h = new KvHarness();
    await h.put('s', { a: 1 });
    await h.request('delete', 'data/s');
    const deleted = await h.request('read', 'subkeys/s');
    expect(deleted.data?.['subkeys']).toBeNull();
    expect(deleted.warnings).toHaveLength(1);
    await expect(h.request('read', 'subkeys/none')).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
    await expect(h.request('read', 'subkeys/s', { depth: -1 })).rejects.toMatchObject({
      code: CoreErrorCode.invalidRequest,
    });
  });

  it('subkeys and custom_metadata keep a key named __proto__ as a plain key', async () => {
    const h = new KvHarness();
    const data = JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as Record<string, unknown>;
    await h.put('proto', data);
    const subkeys = (await h.data('read', 'subkeys/proto'))['subkeys'] as Record<string, unknown>;
    expect(Object.keys(subkeys)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(subkeys)).toBe(Object.prototype);
    const custom = JSON.parse('{"__proto__": "v"}') as Record<string, unknown>;
    await h.request('update', 'metadata/proto', { custom_metadata: custom });
    const metadata = await h.data('read', 'metadata/proto');
    expect(Object.keys(metadata['custom_metadata'] as object)).toEqual(['__proto__']);
  });
});
