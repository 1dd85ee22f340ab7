/**
 * The wrapping key inside the token: finding it by label, generating it at init, and checking
 * that it can never leave the token.
 *
 * A generated key is a token object (CKA_TOKEN), private to the logged-in user (CKA_PRIVATE),
 * sensitive (CKA_SENSITIVE: its value is never revealed in clear) and not extractable
 * (CKA_EXTRACTABLE false: it cannot be wrapped out either); it may only encrypt and decrypt.
 * A key found at connect time is checked for the same properties and refused otherwise.
 */
import { randomBytes } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../errors.ts';
import type { Pkcs11Handle, Pkcs11Template } from './pkcs11_adapter.ts';
import type { ResolvedPkcs11Config } from './pkcs11_config.ts';
import type { TokenContext, TokenOutcome } from './pkcs11_token.ts';
import { SealUnavailableReason } from './seal_provider.ts';

/** The token key (AES) or key pair (RSA) the seal wraps with. */
export type TokenKey =
  | { readonly kind: 'aes'; readonly secretKey: Pkcs11Handle }
  | { readonly kind: 'rsa'; readonly publicKey: Pkcs11Handle; readonly privateKey: Pkcs11Handle };

const aesKeySizeBytes = 32;
const rsaPublicExponent = Buffer.from([0x01, 0x00, 0x01]);

/** Finds every object matching `template`. */
function findObjects(context: TokenContext, template: Pkcs11Template): Pkcs11Handle[] {
  const { pkcs11, session } = context;
  pkcs11.C_FindObjectsInit(session, template);
  try {
    return pkcs11.C_FindObjects(session, 16);
  } finally {
    pkcs11.C_FindObjectsFinal(session);
  }
}

function keyTemplate(context: TokenContext, objectClass: number, label: string): Pkcs11Template {
  const { module } = context;
  const keyType = objectClass === module.CKO_SECRET_KEY ? module.CKK_AES : module.CKK_RSA;
  return [
    { type: module.CKA_CLASS, value: objectClass },
    { type: module.CKA_KEY_TYPE, value: keyType },
    { type: module.CKA_LABEL, value: label },
    { type: module.CKA_TOKEN, value: true },
  ];
}

/** Finds exactly one object of `objectClass` labelled `label`. */
function findOne(
  context: TokenContext,
  objectClass: number,
  label: string,
): TokenOutcome<Pkcs11Handle> {
  const found = findObjects(context, keyTemplate(context, objectClass, label));
  const handle = found[0];
  if (handle === undefined) {
    return { ok: false, reason: SealUnavailableReason.keyMissing, detail: `No key "${label}"` };
  }
  if (found.length > 1) {
    const detail = `${found.length} keys are labelled "${label}"`;
    return { ok: false, reason: SealUnavailableReason.keyAmbiguous, detail };
  }
  return { ok: true, value: handle };
}

/** Reads boolean attributes of an object (CK_BBOOL: one byte, nonzero is true). */
export function readFlags(
  context: TokenContext,
  handle: Pkcs11Handle,
  types: readonly number[],
): boolean[] {
  const { pkcs11, session } = context;
  const values = pkcs11.C_GetAttributeValue(
    session,
    handle,
    types.map((type) => ({ type })),
  );
  return values.map((attribute) => attribute.value.some((byte) => byte !== 0));
}

/** True when the object's value can never leave the token in clear or wrapped. */
function isLockedIn(context: TokenContext, handle: Pkcs11Handle): boolean {
  const { module } = context;
  const [sensitive, extractable] = readFlags(context, handle, [
    module.CKA_SENSITIVE,
    module.CKA_EXTRACTABLE,
  ]);
  return sensitive === true && extractable === false;
}

/** Finds the configured key and checks it is sensitive and not extractable. */
export function findTokenKey(
  context: TokenContext,
  config: ResolvedPkcs11Config,
): TokenOutcome<TokenKey> {
  const { module } = context;
  const label = config.keyLabel;
  const secretClass =
    config.mechanism === 'aes-gcm' ? module.CKO_SECRET_KEY : module.CKO_PRIVATE_KEY;
  const secret = findOne(context, secretClass, label);
  if (!secret.ok) {
    return secret;
  }
  if (!isLockedIn(context, secret.value)) {
    const detail = `Key "${label}" is extractable or not sensitive; refusing it`;
    return { ok: false, reason: SealUnavailableReason.keyInsecure, detail };
  }
  if (config.mechanism === 'aes-gcm') {
    return { ok: true, value: { kind: 'aes', secretKey: secret.value } };
  }
  const publicKey = findOne(context, module.CKO_PUBLIC_KEY, label);
  if (!publicKey.ok) {
    return publicKey;
  }
  return { ok: true, value: { kind: 'rsa', publicKey: publicKey.value, privateKey: secret.value } };
}

/** Attributes every generated secret or private key carries. */
function lockedInAttributes(context: TokenContext, label: string, id: Buffer): Pkcs11Template {
  const { module } = context;
  return [
    { type: module.CKA_TOKEN, value: true },
    { type: module.CKA_PRIVATE, value: true },
    { type: module.CKA_SENSITIVE, value: true },
    { type: module.CKA_EXTRACTABLE, value: false },
    { type: module.CKA_DECRYPT, value: true },
    { type: module.CKA_SIGN, value: false },
    { type: module.CKA_UNWRAP, value: false },
    { type: module.CKA_DERIVE, value: false },
    { type: module.CKA_LABEL, value: label },
    { type: module.CKA_ID, value: id },
  ];
}

function generateAes(context: TokenContext, label: string, id: Buffer): TokenKey {
  const { module, pkcs11, session } = context;
  const secretKey = pkcs11.C_GenerateKey(session, { mechanism: module.CKM_AES_KEY_GEN }, [
    { type: module.CKA_CLASS, value: module.CKO_SECRET_KEY },
    { type: module.CKA_KEY_TYPE, value: module.CKK_AES },
    { type: module.CKA_VALUE_LEN, value: aesKeySizeBytes },
    { type: module.CKA_ENCRYPT, value: true },
    { type: module.CKA_VERIFY, value: false },
    { type: module.CKA_WRAP, value: false },
    ...lockedInAttributes(context, label, id),
  ]);
  return { kind: 'aes', secretKey };
}

function generateRsa(context: TokenContext, config: ResolvedPkcs11Config, id: Buffer): TokenKey {
  const { module, pkcs11, session } = context;
  const label = config.keyLabel;
  const pair = pkcs11.C_GenerateKeyPair(
    session,
    { mechanism: module.CKM_RSA_PKCS_KEY_PAIR_GEN },
    [
      { type: module.CKA_CLASS, value: module.CKO_PUBLIC_KEY },
      { type: module.CKA_KEY_TYPE, value: module.CKK_RSA },
      { type: module.CKA_TOKEN, value: true },
      { type: module.CKA_ENCRYPT, value: true },
      { type: module.CKA_VERIFY, value: false },
      { type: module.CKA_WRAP, value: false },
      { type: module.CKA_MODULUS_BITS, value: config.rsaModulusBits },
      { type: module.CKA_PUBLIC_EXPONENT, value: rsaPublicExponent },
      { type: module.CKA_LABEL, value: label },
      { type: module.CKA_ID, value: id },
    ],
    [
      { type: module.CKA_CLASS, value: module.CKO_PRIVATE_KEY },
      { type: module.CKA_KEY_TYPE, value: module.CKK_RSA },
      ...lockedInAttributes(context, label, id),
    ],
  );
  return { kind: 'rsa', publicKey: pair.publicKey, privateKey: pair.privateKey };
}

/**
 * Generates the configured key inside the token. Throws COFFER_CORE_SEAL_KEY_EXISTS when any
 * token object already carries the label (a half of an RSA pair included), so a label never
 * names two keys; lets PKCS#11 errors through for the caller to classify.
 */
export function generateTokenKey(context: TokenContext, config: ResolvedPkcs11Config): TokenKey {
  const { module } = context;
  const taken = findObjects(context, [
    { type: module.CKA_LABEL, value: config.keyLabel },
    { type: module.CKA_TOKEN, value: true },
  ]);
  if (taken.length > 0) {
    throw new CoreError(
      CoreErrorCode.sealKeyExists,
      `Cannot generate key "${config.keyLabel}": the token already holds a key with that label`,
    );
  }
  const id = randomBytes(16);
  const key =
    config.mechanism === 'aes-gcm'
      ? generateAes(context, config.keyLabel, id)
      : generateRsa(context, config, id);
  const secret = key.kind === 'aes' ? key.secretKey : key.privateKey;
  if (!isLockedIn(context, secret)) {
    throw new CoreError(
      CoreErrorCode.sealUnavailable,
      `The token made key "${config.keyLabel}" extractable or not sensitive; refusing to use it`,
    );
  }
  return key;
}
