/**
 * Purpose-bound keys derived from keyring keys with HKDF-SHA256 (RFC 5869), and the salted
 * hashing of identifiers (token ids, lease ids, secret_ids) so that they never appear in clear
 * in storage. A derived key is useful for its one purpose only: the purpose string is the HKDF
 * info, so two purposes never share a key.
 */
import assert from 'node:assert/strict';
import { createHmac, hkdfSync } from 'node:crypto';

import { keySizeBytes, SecretKey } from './secret_key.ts';

/** Purposes for `Barrier.deriveKey`. A new purpose gets a new string; a changed use, a new version. */
export const KeyPurpose = {
  /**
   * Authenticates storage snapshot streams (HMAC-SHA256 over the stream); derived with
   * `Barrier.deriveStableKey`, so a follower of any keyring generation can verify one.
   */
  snapshotHmac: 'coffer/snapshot-hmac/v1',
} as const;

/** Kinds of identifiers `Barrier.hmacIdentifier` hashes; each kind hashes under its own key. */
export const IdentifierPurpose = {
  /** Token ids and accessors. */
  token: 'token',
  /** Lease ids. */
  lease: 'lease',
  /** AppRole secret_ids and their accessors. */
  secretId: 'secret-id',
  /** Request outcomes: who sent what under which request id (request_outcomes.ts). */
  requestOutcome: 'request-outcome',
} as const;

const purposePattern = /^coffer\/[a-z0-9][a-z0-9/-]*\/v[0-9]+$/;
const identifierPurposePattern = /^[a-z0-9][a-z0-9-]{0,63}$/;
const identifierInfoPrefix = 'coffer/id-hmac/v1/';
const emptySalt = Buffer.alloc(0);

/**
 * Derives a 32-byte key for `purpose` (like "coffer/snapshot-hmac/v1") from `baseKey`. The
 * caller owns the result and zeroes it when done.
 */
export function deriveKey(baseKey: SecretKey, purpose: string): SecretKey {
  assert(purposePattern.test(purpose), `key purpose ${JSON.stringify(purpose)} is malformed`);
  return hkdf(baseKey, purpose);
}

/**
 * Hashes identifiers with HMAC-SHA256 under one key per purpose, each derived from the keyring's
 * identifier key. The same identifier always hashes to the same string, on every node and across
 * rotations, so the hash can be a storage key.
 *
 * NB: borrows the identifier key; `zero()` zeroes only the per-purpose keys it derived.
 */
export class IdentifierHasher {
  readonly #identifierKey: SecretKey;
  readonly #keys = new Map<string, SecretKey>();

  /** Creates a hasher over a borrowed identifier key. */
  constructor(identifierKey: SecretKey) {
    this.#identifierKey = identifierKey;
  }

  /** The salted hash of `value` for `purpose`, as 43 base64url characters. */
  hash(purpose: string, value: string | Uint8Array): string {
    return createHmac('sha256', this.#keyFor(purpose).reveal()).update(value).digest('base64url');
  }

  /** Zeroes and forgets every per-purpose key. */
  zero(): void {
    for (const key of this.#keys.values()) {
      key.zero();
    }
    this.#keys.clear();
  }

  #keyFor(purpose: string): SecretKey {
    const cached = this.#keys.get(purpose);
    if (cached !== undefined) {
      return cached;
    }
    assert(
      identifierPurposePattern.test(purpose),
      `identifier purpose ${JSON.stringify(purpose)} is malformed`,
    );
    const key = hkdf(this.#identifierKey, `${identifierInfoPrefix}${purpose}`);
    this.#keys.set(purpose, key);
    return key;
  }
}

function hkdf(baseKey: SecretKey, info: string): SecretKey {
  const derived = hkdfSync('sha256', baseKey.reveal(), emptySalt, info, keySizeBytes);
  return SecretKey.adopt(Buffer.from(derived));
}
