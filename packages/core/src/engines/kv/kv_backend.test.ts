/**
 * Goal: createKvBackend serves every kv-v2 path and refuses a mount of another KV version.
 * Method: the factory on hand-built MountInfo values.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { createKvBackend } from './kv_backend.ts';
import { kvTestMount } from './kv_test_support.ts';

describe('createKvBackend', () => {
  it('createKvBackend declares the kv-v2 routes', () => {
    expect(createKvBackend(kvTestMount()).routes.map((r) => r.pattern)).toEqual([
      'config',
      'data/*path',
      'metadata',
      'metadata/*path',
      'delete/*path',
      'undelete/*path',
      'destroy/*path',
      'subkeys/*path',
    ]);
    expect(createKvBackend(kvTestMount({})).routes).toHaveLength(8);
  });

  it('createKvBackend refuses a mount with options version other than 2', () => {
    expect(() => createKvBackend(kvTestMount({ version: '1' }))).toThrow(
      expect.objectContaining({ code: CoreErrorCode.invalidRequest }),
    );
  });
});
