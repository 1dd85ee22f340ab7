/**
 * Goal: the mount's HMAC key is created once (by a write that asks for it), shared by every
 * backend instance of the mount, never created by a hash that must not write, never shown by
 * JSON.stringify or util.inspect, and separates role_id from secret_id hashes.
 * Method: MountHasher over a MemoryStorageView; write counts tell when the key is stored.
 */
import { inspect } from 'node:util';

import { describe, expect, it } from 'vitest';

import { MemoryStorageView } from '../../router/memory_storage_view.ts';
import { hmacKeyStorageKey, MountHasher } from './mount_hasher.ts';

describe('MountHasher', () => {
  it('MountHasher.hash without create neither writes nor matches a later key', async () => {
    const storage = new MemoryStorageView();
    const hasher = new MountHasher();
    const before = await hasher.hash(storage, 'secret_id', { value: 'v', create: false });
    expect(storage.writeCount).toBe(0);
    const created = await hasher.hash(storage, 'secret_id', { value: 'v', create: true });
    expect(storage.writeCount).toBe(1);
    expect(created).not.toBe(before);
  });

  it('MountHasher keeps one stored key across instances and separates purposes', async () => {
    const storage = new MemoryStorageView();
    const first = await new MountHasher().hash(storage, 'role_id', { value: 'v', create: true });
    const second = await new MountHasher().hash(storage, 'role_id', { value: 'v', create: false });
    expect(second).toBe(first);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(
      await new MountHasher().hash(storage, 'secret_id', { value: 'v', create: true }),
    ).not.toBe(first);
    expect(storage.writeCount).toBe(1);
    expect((await storage.get(hmacKeyStorageKey))?.byteLength).toBe(32);
  });

  it('MountHasher never shows its key', async () => {
    const storage = new MemoryStorageView();
    const hasher = new MountHasher();
    await hasher.hash(storage, 'role_id', { value: 'v', create: true });
    const key = Buffer.from((await storage.get(hmacKeyStorageKey)) ?? []).toString('hex');
    expect(JSON.stringify(hasher)).not.toContain(key);
    expect(inspect(hasher, { showHidden: true, depth: 5 })).not.toMatch(/[0-9a-f]{2} [0-9a-f]{2}/);
  });
});
