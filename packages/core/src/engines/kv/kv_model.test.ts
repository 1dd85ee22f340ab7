/**
 * Goal: the pure rules of the KV records: which max_versions and delete_version_after apply,
 * what adding a version trims, and that corrupt stored records are refused.
 * Method: direct calls on hand-built records.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import {
  addVersion,
  decodeConfig,
  decodeMetadata,
  decodeVersionData,
  effectiveDeleteAfterSeconds,
  effectiveMaxVersions,
  emptyMetadata,
  kvDefaults,
} from './kv_model.ts';

describe('kv model', () => {
  it('effectiveMaxVersions takes the key, else the mount, else 10', () => {
    const metadata = emptyMetadata(0);
    expect(effectiveMaxVersions(kvDefaults, metadata)).toBe(10);
    expect(effectiveMaxVersions({ ...kvDefaults, maxVersions: 4 }, metadata)).toBe(4);
    expect(
      effectiveMaxVersions({ ...kvDefaults, maxVersions: 4 }, { ...metadata, maxVersions: 7 }),
    ).toBe(7);
  });

  it('effectiveDeleteAfterSeconds takes the smaller non-zero setting', () => {
    const metadata = emptyMetadata(0);
    expect(effectiveDeleteAfterSeconds(kvDefaults, metadata)).toBe(0);
    const mount = { ...kvDefaults, deleteVersionAfterSeconds: 60 };
    expect(effectiveDeleteAfterSeconds(mount, metadata)).toBe(60);
    expect(effectiveDeleteAfterSeconds(mount, { ...metadata, deleteVersionAfterSeconds: 30 })).toBe(
      30,
    );
    expect(effectiveDeleteAfterSeconds(mount, { ...metadata, deleteVersionAfterSeconds: 90 })).toBe(
      60,
    );
    expect(
      effectiveDeleteAfterSeconds(kvDefaults, { ...metadata, deleteVersionAfterSeconds: 90 }),
    ).toBe(90);
  });

  it('addVersion numbers from 1 and trims every version beyond max_versions', () => {
    const config = { ...kvDefaults, maxVersions: 2 };
    let metadata = emptyMetadata(0);
    const trimmed: number[][] = [];
    for (let i = 1; i <= 4; i++) {
      const added = addVersion(config, metadata, i);
      expect(added.version).toBe(i);
      trimmed.push([...added.trimmed]);
      metadata = added.metadata;
    }
    expect(trimmed).toEqual([[], [], [1], [2]]);
    expect(Object.keys(metadata.versions)).toEqual(['3', '4']);
    expect(metadata.oldestVersion).toBe(3);
    const lowered = addVersion({ ...config, maxVersions: 1 }, metadata, 5);
    expect(lowered.trimmed).toEqual([3, 4]);
    expect(lowered.metadata.oldestVersion).toBe(5);
  });

  it('decode refuses records of the wrong shape with INTERNAL', () => {
    const good = emptyMetadata(1);
    expect(decodeMetadata(good)).toEqual(good);
    for (const bad of [
      null,
      [],
      { ...good, currentVersion: -1 },
      { ...good, versions: { '1': { createdMs: 1, deletionMs: 'x', destroyed: false } } },
      { ...good, customMetadata: { a: 1 } },
    ]) {
      expect(() => decodeMetadata(bad)).toThrow(
        expect.objectContaining({ code: CoreErrorCode.internal }),
      );
    }
    expect(() => decodeConfig({ ...kvDefaults, casRequired: 'yes' })).toThrow(
      expect.objectContaining({ code: CoreErrorCode.internal }),
    );
    expect(() => decodeVersionData({ data: [] })).toThrow(
      expect.objectContaining({ code: CoreErrorCode.internal }),
    );
  });
});
