/**
 * The key that authenticates a state snapshot (HMAC-SHA256). Core derives it from the keyring
 * and hands it over as bytes or a KeyObject; storage never derives, stores or logs it.
 *
 * NB: bytes are copied into a KeyObject at once, so the caller may zero its buffer after the
 * call; a KeyObject shows only its type and size in util.inspect and JSON.stringify.
 */
import assert from 'node:assert/strict';
import { createHmac, createSecretKey, KeyObject } from 'node:crypto';

/** A running HMAC (the Hmac class itself is deprecated as a name). */
export type SnapshotHmac = ReturnType<typeof createHmac>;

/** The HMAC key of a snapshot: at least {@link snapshotKeyBytesMin} secret bytes. */
export type SnapshotKey = Uint8Array | KeyObject;

/** The shortest key accepted: HMAC-SHA256 gains nothing from more than 32 bytes. */
export const snapshotKeyBytesMin = 32;

/** The key as a secret KeyObject; a short or non-secret key is a caller bug (assert). */
export function snapshotKeyObject(key: SnapshotKey): KeyObject {
  if (key instanceof KeyObject) {
    assert(key.type === 'secret', 'the snapshot key is a secret KeyObject');
    assert((key.symmetricKeySize ?? 0) >= snapshotKeyBytesMin, 'the snapshot key has 32+ bytes');
    return key;
  }
  assert(key.byteLength >= snapshotKeyBytesMin, 'the snapshot key has 32+ bytes');
  return createSecretKey(key);
}

/** A fresh HMAC-SHA256 under key. */
export function snapshotHmac(key: KeyObject): SnapshotHmac {
  return createHmac('sha256', key);
}
