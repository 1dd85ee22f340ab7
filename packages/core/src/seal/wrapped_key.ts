/**
 * The stored form of every wrapped key: a two-byte header, then the scheme's body.
 *
 *   byte 0      format version (1)
 *   byte 1      scheme (WrappedKeyScheme)
 *   bytes 2..   AES-GCM schemes: iv (12) | ciphertext | tag (16)
 *               RSA-OAEP schemes: the RSA ciphertext
 *
 * The header is authenticated as part of the associated data (seal_binding.ts). Decoding
 * validates sizes only; authenticity comes from the decryption.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';

/** The one format version this code writes and reads. */
export const wrappedKeyVersion = 1;

/** How the body was produced. Stored as one byte; never reuse a number. */
export const WrappedKeyScheme = {
  /** AES-256-GCM in node:crypto under a key that people hold (unseal, break-glass, recovery). */
  softwareAesGcm: 1,
  /** CKM_AES_GCM inside a PKCS#11 token. */
  pkcs11AesGcm: 2,
  /** CKM_RSA_PKCS_OAEP with SHA-256 and MGF1-SHA-256 inside a PKCS#11 token. */
  pkcs11RsaOaepSha256: 3,
  /** CKM_RSA_PKCS_OAEP with SHA-1, for tokens without SHA-256 OAEP (SoftHSM 2.6). */
  pkcs11RsaOaepSha1: 4,
} as const;

/** The union of scheme numbers. */
export type WrappedKeyScheme = (typeof WrappedKeyScheme)[keyof typeof WrappedKeyScheme];

/** Bytes of the header. */
export const headerSizeBytes = 2;
/** Bytes of an AES-GCM IV (96 bits, the only size GCM handles without hashing it). */
export const gcmIvSizeBytes = 12;
/** Bytes of an AES-GCM tag (128 bits). */
export const gcmTagSizeBytes = 16;
/** A wrapped key's body is never larger than this (an RSA-8192 ciphertext is 1 KiB). */
const bodySizeBytesMax = 4096;

/** A decoded wrapped key: its scheme, its header bytes (for the AAD) and its body. */
export interface WrappedKey {
  readonly scheme: WrappedKeyScheme;
  readonly header: Buffer;
  readonly body: Buffer;
}

/** The two header bytes for a scheme. */
export function wrappedKeyHeader(scheme: WrappedKeyScheme): Buffer {
  return Buffer.from([wrappedKeyVersion, scheme]);
}

/** Concatenates a header and a body into the stored form. */
export function encodeWrappedKey(scheme: WrappedKeyScheme, body: Uint8Array): Buffer {
  return Buffer.concat([wrappedKeyHeader(scheme), body]);
}

function invalid(what: string): CoreError {
  return new CoreError(
    CoreErrorCode.rootKeyBlobInvalid,
    `Cannot read the wrapped key: ${what}; restore it from a backup`,
  );
}

/** True for the scheme numbers this code knows. */
function isScheme(value: number): value is WrappedKeyScheme {
  return (Object.values(WrappedKeyScheme) as number[]).includes(value);
}

/**
 * Decodes and size-checks a stored wrapped key, expecting one of `schemes`. Throws
 * COFFER_CORE_ROOT_KEY_BLOB_INVALID for anything else.
 */
export function decodeWrappedKey(
  stored: Uint8Array,
  schemes: readonly WrappedKeyScheme[],
): WrappedKey {
  if (stored.byteLength < headerSizeBytes + 1 || stored.byteLength > bodySizeBytesMax) {
    throw invalid(`it is ${stored.byteLength} bytes long`);
  }
  const version = stored[0] ?? 0;
  const scheme = stored[1] ?? 0;
  if (version !== wrappedKeyVersion) {
    throw invalid(`format version ${version} is not supported`);
  }
  if (!isScheme(scheme) || !schemes.includes(scheme)) {
    throw invalid(`scheme ${scheme} is not expected here`);
  }
  const bytes = Buffer.from(stored);
  const body = bytes.subarray(headerSizeBytes);
  const gcm =
    scheme === WrappedKeyScheme.softwareAesGcm || scheme === WrappedKeyScheme.pkcs11AesGcm;
  if (gcm && body.byteLength <= gcmIvSizeBytes + gcmTagSizeBytes) {
    throw invalid(`an AES-GCM body of ${body.byteLength} bytes is too short`);
  }
  return { scheme, header: bytes.subarray(0, headerSizeBytes), body };
}
