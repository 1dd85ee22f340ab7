/**
 * TermCipher: AES-256-GCM encryption and decryption of values under the data key of one keyring
 * term, in the format of ciphertext_format.ts. This is the barrier's hot path: one output
 * allocation per encryption, nonces from a shared pool, associated data in a shared scratch
 * buffer, no other copies than the ones node:crypto's update() forces.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../errors.ts';
import {
  type AssociatedData,
  ciphertextOverheadBytes,
  ciphertextVersion,
  describePath,
  headerSizeBytes,
  nonceOffset,
  tagSizeBytes,
  termOffset,
} from './ciphertext_format.ts';
import type { NoncePool } from './nonce_pool.ts';
import type { SecretKey } from './secret_key.ts';

const algorithm = 'aes-256-gcm';
const gcmOptions = { authTagLength: tagSizeBytes } as const;

/** The scratch state every TermCipher of one barrier shares. */
export interface CipherScratch {
  /** Fresh random nonces, each used once. */
  readonly nonces: NoncePool;
  /** The reusable associated-data buffer. */
  readonly associatedData: AssociatedData;
}

/**
 * Encrypts and decrypts under one term's data key. It borrows the key: the keyring that owns
 * the SecretKey zeroes it, and after that this cipher must not be used (reveal() asserts).
 */
export class TermCipher {
  /** The keyring term written into every header. */
  readonly term: number;
  readonly #key: SecretKey;
  readonly #scratch: CipherScratch;

  /** Creates a cipher for `term` over a borrowed `key`. */
  constructor(term: number, key: SecretKey, scratch: CipherScratch) {
    this.term = term;
    this.#key = key;
    this.#scratch = scratch;
  }

  /** Encrypts `plaintext` for `path` with a fresh random nonce. */
  encrypt(path: string, plaintext: Uint8Array): Buffer {
    const sizeBytes = plaintext.byteLength;
    const out = Buffer.allocUnsafe(ciphertextOverheadBytes + sizeBytes);
    out[0] = ciphertextVersion;
    out.writeUInt32BE(this.term, termOffset);
    this.#scratch.nonces.copyInto(out, nonceOffset);
    const cipher = createCipheriv(
      algorithm,
      this.#key.reveal(),
      out.subarray(nonceOffset, headerSizeBytes),
      gcmOptions,
    );
    cipher.setAAD(this.#scratch.associatedData.build(out, path));
    const body = cipher.update(plaintext);
    body.copy(out, headerSizeBytes);
    // GCM is a stream mode: final() yields no bytes, only computes the tag.
    cipher.final();
    cipher.getAuthTag().copy(out, headerSizeBytes + sizeBytes);
    return out;
  }

  /**
   * Decrypts a ciphertext whose header was read and names this term. Returns the plaintext only
   * once the tag verified; on failure zeroes the unverified output and throws
   * COFFER_CORE_BARRIER_DECRYPT_FAILED naming the path.
   */
  decrypt(path: string, ciphertext: Uint8Array): Buffer {
    const input = Buffer.isBuffer(ciphertext)
      ? ciphertext
      : Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength);
    const tagOffset = input.byteLength - tagSizeBytes;
    const decipher = createDecipheriv(
      algorithm,
      this.#key.reveal(),
      input.subarray(nonceOffset, headerSizeBytes),
      gcmOptions,
    );
    decipher.setAAD(this.#scratch.associatedData.build(input, path));
    decipher.setAuthTag(input.subarray(tagOffset));
    const plaintext = decipher.update(input.subarray(headerSizeBytes, tagOffset));
    try {
      decipher.final();
    } catch (cause) {
      plaintext.fill(0);
      throw new CoreError(
        CoreErrorCode.barrierDecryptFailed,
        `Cannot decrypt the value at ${describePath(path)}: it failed authentication under ` +
          `term ${this.term} (tampered, corrupted or moved from another path); restore it from ` +
          `a backup`,
        { cause },
      );
    }
    return plaintext;
  }
}
