/**
 * Goal: deriveKey is HKDF-SHA256 (RFC 5869) with the purpose as info and an empty salt, and
 * IdentifierHasher is HMAC-SHA256 under a per-purpose key derived the same way, so other
 * implementations (and future versions) can reproduce both.
 * Method: compare with HKDF written out by hand from HMAC (extract, then expand) on generated keys.
 */
import { createHmac } from 'node:crypto';

import { describe, expect, it, vi } from 'vitest';

import { deriveKey, IdentifierHasher, IdentifierPurpose, KeyPurpose } from './key_derivation.ts';
import { SecretKey } from './secret_key.ts';

/** RFC 5869 HKDF-SHA256 with an empty salt and a 32-byte output: one expand block. */
function hkdfByHand(ikm: Buffer, info: string): Buffer {
  const prk = createHmac('sha256', Buffer.alloc(32)).update(ikm).digest();
  return createHmac('sha256', prk)
    .update(Buffer.concat([Buffer.from(info, 'utf8'), Buffer.of(1)]))
    .digest();
}

describe('key derivation', () => {
  it('deriveKey matches HKDF-SHA256 computed by hand', () => {
    const base = SecretKey.generate();
    const derived = deriveKey(base, KeyPurpose.snapshotHmac);
    expect(derived.reveal().equals(hkdfByHand(base.reveal(), 'coffer/snapshot-hmac/v1'))).toBe(
      true,
    );
    expect(derived.equals(base)).toBe(false);
  });

  it('deriveKey refuses a malformed purpose', () => {
    const base = SecretKey.generate();
    for (const purpose of ['', 'snapshot', 'coffer/x', 'coffer/Upper/v1', 'coffer/x/v1 ']) {
      expect(() => deriveKey(base, purpose)).toThrow(/malformed/);
    }
  });

  it('IdentifierHasher.hash is HMAC-SHA256 under the per-purpose derived key', () => {
    const identifierKey = SecretKey.generate();
    const hasher = new IdentifierHasher(identifierKey);
    const purposeKey = hkdfByHand(identifierKey.reveal(), 'coffer/id-hmac/v1/token');
    const expected = createHmac('sha256', purposeKey).update('token-id').digest('base64url');
    expect(hasher.hash(IdentifierPurpose.token, 'token-id')).toBe(expected);
    expect(hasher.hash(IdentifierPurpose.token, Buffer.from('token-id'))).toBe(expected);
    expect(() => hasher.hash('Bad Purpose', 'x')).toThrow(/malformed/);
  });

  it('IdentifierHasher.zero zeroes its derived keys but not the borrowed identifier key', () => {
    const identifierKey = SecretKey.generate();
    const hasher = new IdentifierHasher(identifierKey);
    const captured: Buffer[] = [];
    const adopt = SecretKey.adopt.bind(SecretKey);
    const spy = vi.spyOn(SecretKey, 'adopt').mockImplementation((buffer) => {
      captured.push(buffer);
      return adopt(buffer);
    });
    hasher.hash(IdentifierPurpose.lease, 'lease-1');
    hasher.hash(IdentifierPurpose.secretId, 'secret-1');
    hasher.hash(IdentifierPurpose.lease, 'lease-2');
    spy.mockRestore();
    expect(captured).toHaveLength(2);
    hasher.zero();
    expect(captured.every((buffer) => buffer.every((byte) => byte === 0))).toBe(true);
    expect(identifierKey.isZeroed).toBe(false);
  });
});
