/**
 * Wrapping the root key inside the token.
 *
 * AES-GCM: CKM_AES_GCM with a fresh 96-bit IV from node:crypto, a 128-bit tag and the
 * cluster-bound associated data. The parameter block is pkcs11js's CK_PARAMS_AES_GCM_v240
 * (the PKCS#11 2.40 CK_GCM_PARAMS with pIv, ulIvLen, ulIvBits, pAAD, ulAADLen, ulTagBits), with
 * ulIvBits set, which some tokens require; the known-answer test against node:crypto checks this
 * layout on SoftHSM (pkcs11_seal.test.ts).
 *
 * RSA-OAEP: PKCS#11 OAEP labels are not supported by every token (SoftHSM 2.6 refuses any), so
 * the cluster binding travels inside the plaintext: rootKey || SHA-256(associated data), checked
 * after decryption in constant time.
 *
 * NB: calls are synchronous. A session runs one operation at a time, and a synchronous call
 * cannot interleave with another on the event loop; wrapping happens at init, unseal and rekey
 * only, so the short block is acceptable. TODO(#6): async calls for network HSMs.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

import { SecretKey } from '../barrier/secret_key.ts';
import type { Pkcs11GcmParams, Pkcs11MechanismSpec, Pkcs11OaepParams } from './pkcs11_adapter.ts';
import type { OaepHash } from './pkcs11_config.ts';
import type { TokenKey } from './pkcs11_key.ts';
import type { TokenContext } from './pkcs11_token.ts';
import { gcmIvSizeBytes, gcmTagSizeBytes, WrappedKeyScheme } from './wrapped_key.ts';

/** CKZ_DATA_SPECIFIED; pkcs11js does not export it. */
const ckzDataSpecified = 1;
const digestSizeBytes = 32;
const rsaOutputSizeBytesMax = 1024;

/** The stored scheme for a key kind and OAEP hash. */
export function schemeFor(key: TokenKey, oaepHash: OaepHash): WrappedKeyScheme {
  if (key.kind === 'aes') {
    return WrappedKeyScheme.pkcs11AesGcm;
  }
  return oaepHash === 'sha256'
    ? WrappedKeyScheme.pkcs11RsaOaepSha256
    : WrappedKeyScheme.pkcs11RsaOaepSha1;
}

/** The CKM_AES_GCM mechanism for one IV and associated data. */
export function aesGcmMechanism(
  context: TokenContext,
  iv: Buffer,
  aad: Buffer,
): Pkcs11MechanismSpec {
  const { module } = context;
  const parameter: Pkcs11GcmParams = {
    type: module.CK_PARAMS_AES_GCM_v240,
    iv,
    ivBits: gcmIvSizeBytes * 8,
    aad,
    tagBits: gcmTagSizeBytes * 8,
  };
  return { mechanism: module.CKM_AES_GCM, parameter };
}

function oaepMechanism(context: TokenContext, scheme: WrappedKeyScheme): Pkcs11MechanismSpec {
  const { module } = context;
  const sha256 = scheme === WrappedKeyScheme.pkcs11RsaOaepSha256;
  const parameter: Pkcs11OaepParams = {
    type: module.CK_PARAMS_RSA_OAEP,
    hashAlg: sha256 ? module.CKM_SHA256 : module.CKM_SHA_1,
    mgf: sha256 ? module.CKG_MGF1_SHA256 : module.CKG_MGF1_SHA1,
    source: ckzDataSpecified,
  };
  return { mechanism: module.CKM_RSA_PKCS_OAEP, parameter };
}

/** Encrypts the root key on the token; returns the body (without the header). */
export function encryptOnToken(
  context: TokenContext,
  key: TokenKey,
  input: { readonly rootKey: SecretKey; readonly aad: Buffer; readonly scheme: WrappedKeyScheme },
): Buffer {
  const { pkcs11, session } = context;
  const plain = input.rootKey.reveal();
  if (key.kind === 'aes') {
    const iv = randomBytes(gcmIvSizeBytes);
    pkcs11.C_EncryptInit(session, aesGcmMechanism(context, iv, input.aad), key.secretKey);
    const sealed = pkcs11.C_Encrypt(session, plain, Buffer.alloc(plain.byteLength + 64));
    return Buffer.concat([iv, sealed]);
  }
  const digest = createHash('sha256').update(input.aad).digest();
  const message = Buffer.concat([plain, digest]);
  try {
    pkcs11.C_EncryptInit(session, oaepMechanism(context, input.scheme), key.publicKey);
    return Buffer.from(pkcs11.C_Encrypt(session, message, Buffer.alloc(rsaOutputSizeBytesMax)));
  } finally {
    message.fill(0);
  }
}

/**
 * Decrypts a body on the token. Returns undefined when the plaintext has the wrong size or,
 * for RSA, the wrong binding digest; lets PKCS#11 errors through for the caller to classify.
 */
export function decryptOnToken(
  context: TokenContext,
  key: TokenKey,
  input: { readonly body: Buffer; readonly aad: Buffer; readonly scheme: WrappedKeyScheme },
): SecretKey | undefined {
  const { pkcs11, session } = context;
  const out = Buffer.alloc(rsaOutputSizeBytesMax);
  try {
    if (key.kind === 'aes') {
      const iv = input.body.subarray(0, gcmIvSizeBytes);
      pkcs11.C_DecryptInit(session, aesGcmMechanism(context, iv, input.aad), key.secretKey);
      const plain = pkcs11.C_Decrypt(session, input.body.subarray(gcmIvSizeBytes), out);
      return plain.byteLength === 32 ? SecretKey.fromBytes(plain) : undefined;
    }
    pkcs11.C_DecryptInit(session, oaepMechanism(context, input.scheme), key.privateKey);
    const plain = pkcs11.C_Decrypt(session, input.body, out);
    if (plain.byteLength !== 32 + digestSizeBytes) {
      return undefined;
    }
    const digest = createHash('sha256').update(input.aad).digest();
    const bound = timingSafeEqual(plain.subarray(32), digest);
    return bound ? SecretKey.fromBytes(plain.subarray(0, 32)) : undefined;
  } finally {
    out.fill(0);
  }
}
