/**
 * Software key wrapping: AES-256-GCM in node:crypto under a key that people hold as shares (the
 * Shamir unseal key, the break-glass key, the recovery key). A random 96-bit IV per wrap; the
 * associated data binds purpose and cluster (seal_binding.ts).
 *
 * NB: a failed unwrap returns undefined instead of throwing, because for share quorums a wrong
 * key is an expected outcome the caller branches on (STYLE.md 5.1), and the caller must answer
 * with one error whatever the cause.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import { SecretKey } from '../barrier/secret_key.ts';
import { associatedData, type WrapPurpose } from './seal_binding.ts';
import type { SealBinding } from './seal_provider.ts';
import {
  decodeWrappedKey,
  encodeWrappedKey,
  gcmIvSizeBytes,
  gcmTagSizeBytes,
  wrappedKeyHeader,
  WrappedKeyScheme,
} from './wrapped_key.ts';

/** Where a software-wrapped key is used: what it is for and which cluster. */
export interface WrapContext {
  readonly purpose: WrapPurpose;
  readonly binding: SealBinding;
}

/** Wraps `secret` under `kek` (32 bytes) with AES-256-GCM. Neither key is consumed. */
export function wrapWithKey(kek: SecretKey, secret: SecretKey, context: WrapContext): Buffer {
  const scheme = WrappedKeyScheme.softwareAesGcm;
  const aad = associatedData(wrappedKeyHeader(scheme), context.purpose, context.binding);
  const iv = randomBytes(gcmIvSizeBytes);
  const cipher = createCipheriv('aes-256-gcm', kek.reveal(), iv, {
    authTagLength: gcmTagSizeBytes,
  });
  cipher.setAAD(aad);
  const body = Buffer.concat([
    iv,
    cipher.update(secret.reveal()),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return encodeWrappedKey(scheme, body);
}

/**
 * Unwraps a software-wrapped key, or returns undefined when `kek` is not the key it was wrapped
 * under, the context differs or a byte changed. Throws COFFER_CORE_ROOT_KEY_BLOB_INVALID only
 * for a blob that is malformed whatever the key.
 */
export function unwrapWithKey(
  kek: SecretKey,
  wrapped: Uint8Array,
  context: WrapContext,
): SecretKey | undefined {
  const decoded = decodeWrappedKey(wrapped, [WrappedKeyScheme.softwareAesGcm]);
  const aad = associatedData(decoded.header, context.purpose, context.binding);
  const iv = decoded.body.subarray(0, gcmIvSizeBytes);
  const tagOffset = decoded.body.byteLength - gcmTagSizeBytes;
  const decipher = createDecipheriv('aes-256-gcm', kek.reveal(), iv, {
    authTagLength: gcmTagSizeBytes,
  });
  decipher.setAAD(aad);
  decipher.setAuthTag(decoded.body.subarray(tagOffset));
  const plain = decipher.update(decoded.body.subarray(gcmIvSizeBytes, tagOffset));
  try {
    decipher.final();
  } catch {
    plain.fill(0);
    return undefined;
  }
  // NB: update() output is not pooled memory for this size, but copy into an owned buffer
  // anyway and zero the intermediate, so the key owns the only copy.
  const key = SecretKey.fromBytes(plain);
  plain.fill(0);
  return key;
}
