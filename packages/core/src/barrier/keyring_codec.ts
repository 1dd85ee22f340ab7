/**
 * The keyring's stored form: its contents serialized, then sealed with AES-256-GCM under the
 * root key. This is both what storage keeps and what a keyring change carries through Raft, so
 * neither ever holds a data key in clear.
 *
 * ```
 * envelope:  version u8 = 1 │ nonce (12 random bytes) │ AES-256-GCM(contents) │ tag (16 bytes)
 *            associated data = "coffer/keyring/v1" ‖ version
 *
 * contents:  format u8 = 1 │ generation u32 │ activeTerm u32 │ identifierKey (32 bytes)
 *            │ termCount u16 │ termCount × ( term u32 │ installTimeMs u64 │ encryptions u32
 *            │ key (32 bytes) )                                   (all integers big-endian)
 * ```
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../errors.ts';
import { checkKeyringShape, type KeyringContents, type KeyTerm } from './keyring.ts';
import { nonceSizeBytes } from './nonce_pool.ts';
import { keySizeBytes, SecretKey } from './secret_key.ts';

/** The purpose string bound into every keyring envelope, so no other root-key ciphertext opens as one. */
export const keyringPurpose = 'coffer/keyring/v1';
/** The largest number of terms a keyring holds (the count is a uint16). */
export const keyringTermsMax = 0xffff;

const envelopeVersion = 1;
const contentsFormat = 1;
const tagSizeBytes = 16;
const envelopeOverheadBytes = 1 + nonceSizeBytes + tagSizeBytes;
const fixedSizeBytes = 1 + 4 + 4 + keySizeBytes + 2;
const termSizeBytes = 4 + 8 + 4 + keySizeBytes;
const associatedData = Buffer.concat([Buffer.from(keyringPurpose, 'utf8'), Buffer.of(1)]);

/** Serializes `contents` and seals it under `rootKey`. The contents' keys stay the caller's. */
export function encodeKeyring(contents: KeyringContents, rootKey: SecretKey): Uint8Array {
  const plaintext = serializeContents(contents);
  try {
    const nonce = randomBytes(nonceSizeBytes);
    const cipher = createCipheriv('aes-256-gcm', rootKey.reveal(), nonce, {
      authTagLength: tagSizeBytes,
    });
    cipher.setAAD(associatedData);
    const body = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([Buffer.of(envelopeVersion), nonce, body, cipher.getAuthTag()]);
  } finally {
    plaintext.fill(0);
  }
}

/**
 * Opens and validates a sealed keyring. Throws COFFER_CORE_KEYRING_CORRUPT when any bit was
 * changed, the root key is wrong or the contents break the keyring's rules. The returned keys
 * are new SecretKeys owned by the caller.
 */
export function decodeKeyring(sealed: Uint8Array, rootKey: SecretKey): KeyringContents {
  const input = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (input.byteLength < envelopeOverheadBytes || input[0] !== envelopeVersion) {
    throw corrupt(`it is ${input.byteLength} bytes or of an unknown version`);
  }
  const tagOffset = input.byteLength - tagSizeBytes;
  const decipher = createDecipheriv('aes-256-gcm', rootKey.reveal(), input.subarray(1, 13), {
    authTagLength: tagSizeBytes,
  });
  decipher.setAAD(associatedData);
  decipher.setAuthTag(input.subarray(tagOffset));
  const plaintext = decipher.update(input.subarray(1 + nonceSizeBytes, tagOffset));
  try {
    try {
      decipher.final();
    } catch (cause) {
      throw corrupt('it failed authentication (corrupted, or the root key is wrong)', cause);
    }
    return parseContents(plaintext);
  } finally {
    plaintext.fill(0);
  }
}

function serializeContents(contents: KeyringContents): Buffer {
  const out = Buffer.alloc(fixedSizeBytes + contents.terms.length * termSizeBytes);
  out.writeUInt8(contentsFormat, 0);
  out.writeUInt32BE(contents.generation, 1);
  out.writeUInt32BE(contents.activeTerm, 5);
  out.set(contents.identifierKey.reveal(), 9);
  out.writeUInt16BE(contents.terms.length, 9 + keySizeBytes);
  let offset = fixedSizeBytes;
  for (const entry of contents.terms) {
    out.writeUInt32BE(entry.term, offset);
    out.writeBigUInt64BE(BigInt(entry.installTimeMs), offset + 4);
    out.writeUInt32BE(entry.encryptions, offset + 12);
    out.set(entry.key.reveal(), offset + 16);
    offset += termSizeBytes;
  }
  return out;
}

function parseContents(plaintext: Buffer): KeyringContents {
  const termCount = plaintext.byteLength >= fixedSizeBytes ? plaintext.readUInt16BE(41) : -1;
  if (
    plaintext.byteLength !== fixedSizeBytes + termCount * termSizeBytes ||
    plaintext[0] !== contentsFormat
  ) {
    throw corrupt(`its contents are of an unknown format or the wrong size`);
  }
  const terms: KeyTerm[] = [];
  for (let offset = fixedSizeBytes; offset < plaintext.byteLength; offset += termSizeBytes) {
    terms.push({
      term: plaintext.readUInt32BE(offset),
      installTimeMs: Number(plaintext.readBigUInt64BE(offset + 4)),
      encryptions: plaintext.readUInt32BE(offset + 12),
      key: SecretKey.fromBytes(plaintext.subarray(offset + 16, offset + termSizeBytes)),
    });
  }
  const contents: KeyringContents = {
    generation: plaintext.readUInt32BE(1),
    activeTerm: plaintext.readUInt32BE(5),
    identifierKey: SecretKey.fromBytes(plaintext.subarray(9, 9 + keySizeBytes)),
    terms,
  };
  const problem = checkKeyringShape(contents);
  if (problem !== undefined) {
    contents.identifierKey.zero();
    terms.forEach((entry) => {
      entry.key.zero();
    });
    throw corrupt(problem);
  }
  return contents;
}

function corrupt(reason: string, cause?: unknown): CoreError {
  return new CoreError(
    CoreErrorCode.keyringCorrupt,
    `Cannot open the keyring: ${reason}; check the root key, or restore the keyring from a backup`,
    cause === undefined ? undefined : { cause },
  );
}
