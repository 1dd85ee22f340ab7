/**
 * Goal: a replica that restores a state snapshot can jump to the keyring it carries (never back
 * in time), and the snapshot HMAC key is the same on every replica whatever its keyring
 * generation.
 * Method: two Barriers over one root key; one follows a rotation, the other adopts the result.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { Barrier } from './barrier.ts';
import { KeyPurpose } from './key_derivation.ts';
import { initializeKeyring } from './keyring_change.ts';
import { SecretKey } from './secret_key.ts';

function pair(): { ahead: Barrier; behind: Barrier; first: Uint8Array } {
  const rootKey = SecretKey.generate();
  const first = initializeKeyring(rootKey, { nowMs: 0 });
  const ahead = new Barrier();
  const behind = new Barrier();
  ahead.unseal(rootKey.clone(), first);
  behind.unseal(rootKey, first);
  return { ahead, behind, first };
}

describe('Barrier.adoptKeyring', () => {
  it('Barrier.adoptKeyring jumps generations and keeps reading what the newer keyring wrote', () => {
    const { ahead, behind } = pair();
    for (const nowMs of [1000, 2000]) {
      expect(ahead.applyKeyringChange(ahead.prepareRotation(nowMs).bytes).applied).toBe(true);
    }
    behind.adoptKeyring(ahead.sealedKeyring());
    expect(behind.keyringStatus()).toEqual(ahead.keyringStatus());
    expect(ahead.applyKeyringChange(ahead.prepareReservation().bytes).applied).toBe(true);
    const ciphertext = ahead.encrypt('secret/a', Uint8Array.of(1, 2, 3));
    expect([...behind.decrypt('secret/a', ciphertext)]).toEqual([1, 2, 3]);
  });

  it('Barrier.adoptKeyring refuses an older keyring and one sealed under another root key', () => {
    const { ahead, behind, first } = pair();
    ahead.applyKeyringChange(ahead.prepareRotation(1000).bytes);
    behind.adoptKeyring(ahead.sealedKeyring());
    expect(() => {
      behind.adoptKeyring(first);
    }).toThrow(expect.objectContaining({ code: CoreErrorCode.keyringCorrupt }));
    const foreign = initializeKeyring(SecretKey.generate(), { nowMs: 0 });
    expect(() => {
      behind.adoptKeyring(foreign);
    }).toThrow(expect.objectContaining({ code: CoreErrorCode.keyringCorrupt }));
  });

  it('Barrier.deriveStableKey gives every replica the same key across rotations', () => {
    const { ahead, behind } = pair();
    ahead.applyKeyringChange(ahead.prepareRotation(1000).bytes);
    const a = ahead.deriveStableKey(KeyPurpose.snapshotHmac);
    const b = behind.deriveStableKey(KeyPurpose.snapshotHmac);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(ahead.deriveKey(KeyPurpose.snapshotHmac))).toBe(false);
  });
});
