/**
 * The per-mount HMAC key of an AppRole mount and the hashes made with it. Secret_ids and
 * role_ids never appear in storage keys or values in clear: entries live under
 * HMAC-SHA256(key, purpose || 0x00 || value), hex. The key is 32 random bytes created on the
 * first write that needs it and stored at `salt` in the mount's view (encrypted by the barrier).
 *
 * Invariant: once stored, the key never changes (a changed key would orphan every entry), so it
 * is cached after the first read. Logins never create it: without a key no role exists yet, and a
 * throwaway key gives the same amount of work and no match.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { StorageView } from '../../router/storage_view.ts';

/** What a hash is of; part of the HMAC input so a role_id never hashes like a secret_id. */
export type HashPurpose = 'role_id' | 'secret_id';

/** The storage key of the HMAC key, relative to the mount's view. */
export const hmacKeyStorageKey = 'salt';

const keySizeBytes = 32;

/** Hashes role_ids and secret_ids with the mount's key. */
export class MountHasher {
  #key: Buffer | undefined;

  /** The stored key, created when absent and `create` is set; undefined otherwise. */
  async #loadKey(storage: StorageView, create: boolean): Promise<Buffer | undefined> {
    if (this.#key !== undefined) {
      return this.#key;
    }
    const stored = await storage.get(hmacKeyStorageKey);
    if (stored !== undefined) {
      if (stored.byteLength !== keySizeBytes) {
        throw new CoreError(
          CoreErrorCode.internal,
          'Restore the AppRole mount from a backup: its stored HMAC key has the wrong size',
        );
      }
      this.#key = Buffer.from(stored);
      return this.#key;
    }
    if (!create) {
      return undefined;
    }
    const fresh = randomBytes(keySizeBytes);
    const outcome = await storage.write({
      conditions: [{ kind: 'absent', key: hmacKeyStorageKey }],
      operations: [{ kind: 'put', key: hmacKeyStorageKey, value: fresh }],
    });
    // A lost race means another request stored its key first: use that one.
    return outcome.ok ? (this.#key = fresh) : this.#loadKey(storage, false);
  }

  /**
   * The hash of `value` for `purpose`. With `create`, a missing key is created (writes); without
   * it, a missing key hashes with a throwaway key (no entry can match).
   */
  async hash(
    storage: StorageView,
    purpose: HashPurpose,
    options: { readonly value: string; readonly create: boolean },
  ): Promise<string> {
    const stored = await this.#loadKey(storage, options.create);
    assert(stored !== undefined || !options.create, 'a created HMAC key reads back');
    const key = stored ?? randomBytes(keySizeBytes);
    return createHmac('sha256', key).update(`${purpose}\u0000${options.value}`).digest('hex');
  }
}
