/**
 * Goal: the ciphertext format holds (version, term, nonce, body, tag), values round-trip, and
 * no change to a ciphertext, its header or its path ever yields plaintext: each gives a typed
 * integrity error. Nonces never repeat.
 * Method: a TermCipher over a generated key; deterministic plaintexts; every byte of a small
 * ciphertext flipped one at a time; 100,000 encryptions checked for a repeated nonce.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import {
  AssociatedData,
  ciphertextOverheadBytes,
  headerSizeBytes,
  readCiphertextHeader,
} from './ciphertext_format.ts';
import { NoncePool } from './nonce_pool.ts';
import { SecretKey } from './secret_key.ts';
import { TermCipher } from './term_cipher.ts';

const integrityCodes: readonly string[] = [
  CoreErrorCode.barrierDecryptFailed,
  CoreErrorCode.barrierInvalidCiphertext,
  CoreErrorCode.barrierUnknownTerm,
];

function newCipher(term = 7, key = SecretKey.generate()): TermCipher {
  return new TermCipher(term, key, {
    nonces: new NoncePool(),
    associatedData: new AssociatedData(),
  });
}

/** Decrypts the way the barrier does: header first, then the term's cipher. */
function open(cipher: TermCipher, path: string, ciphertext: Uint8Array): Uint8Array {
  const { term } = readCiphertextHeader(path, ciphertext);
  if (term !== cipher.term) {
    throw Object.assign(new Error('unknown term'), { code: CoreErrorCode.barrierUnknownTerm });
  }
  return cipher.decrypt(path, ciphertext);
}

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    return (error as { code?: string }).code ?? 'no code';
  }
  return 'returned a value';
}

function plaintextOf(sizeBytes: number, seed = 1): Buffer {
  return Buffer.from(Array.from({ length: sizeBytes }, (_, i) => (i * 31 + seed) & 0xff));
}

describe('TermCipher', () => {
  it('TermCipher.encrypt writes version 1, the term, a nonce, the body and a 16-byte tag', () => {
    const ciphertext = newCipher(0x01020304).encrypt('secret/a', plaintextOf(5));
    expect(ciphertext.byteLength).toBe(5 + ciphertextOverheadBytes);
    expect(ciphertext[0]).toBe(1);
    expect([...ciphertext.subarray(1, 5)]).toEqual([1, 2, 3, 4]);
    expect(readCiphertextHeader('secret/a', ciphertext)).toEqual({ version: 1, term: 0x01020304 });
  });

  it('TermCipher round-trips empty, small, 1 KiB and 1 MiB values and Unicode paths', () => {
    const cipher = newCipher();
    for (const sizeBytes of [0, 1, 15, 16, 17, 1024, 1 << 20]) {
      for (const path of ['', 'secret/a', 'kv/日本語/🔑', 'x'.repeat(5000)]) {
        const plaintext = plaintextOf(sizeBytes, sizeBytes);
        const ciphertext = cipher.encrypt(path, plaintext);
        expect(Buffer.from(open(cipher, path, ciphertext)).equals(plaintext)).toBe(true);
      }
    }
  });

  it('TermCipher.decrypt rejects every single-byte change of a ciphertext', () => {
    const cipher = newCipher();
    const ciphertext = cipher.encrypt('secret/a', plaintextOf(24));
    for (let position = 0; position < ciphertext.byteLength; position++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const tampered = Buffer.from(ciphertext);
        tampered[position] = (tampered[position] ?? 0) ^ mask;
        expect(integrityCodes, `byte ${position} ^ ${mask}`).toContain(
          codeOf(() => open(cipher, 'secret/a', tampered)),
        );
      }
    }
  });

  it('TermCipher.decrypt rejects a value moved to another path', () => {
    const cipher = newCipher();
    const ciphertext = cipher.encrypt('secret/a', plaintextOf(32));
    for (const path of ['secret/b', 'secret/a ', 'Secret/a', 'secret/', '', 'secret/a\u0000']) {
      expect(codeOf(() => open(cipher, path, ciphertext))).toBe(CoreErrorCode.barrierDecryptFailed);
    }
  });

  it('TermCipher.decrypt rejects a header with another term under the same key', () => {
    const key = SecretKey.generate();
    const ciphertext = newCipher(3, key).encrypt('secret/a', plaintextOf(32));
    const relabelled = Buffer.from(ciphertext);
    relabelled.writeUInt32BE(4, 1);
    expect(codeOf(() => newCipher(4, key).decrypt('secret/a', relabelled))).toBe(
      CoreErrorCode.barrierDecryptFailed,
    );
  });

  it('TermCipher.decrypt rejects a value encrypted under another key of the same term', () => {
    const ciphertext = newCipher(3).encrypt('secret/a', plaintextOf(32));
    expect(codeOf(() => newCipher(3).decrypt('secret/a', ciphertext))).toBe(
      CoreErrorCode.barrierDecryptFailed,
    );
  });

  it('readCiphertextHeader rejects truncated input and unknown versions', () => {
    const ciphertext = newCipher().encrypt('secret/a', plaintextOf(8));
    for (const length of [0, 1, headerSizeBytes, ciphertextOverheadBytes - 1]) {
      expect(codeOf(() => readCiphertextHeader('p', ciphertext.subarray(0, length)))).toBe(
        CoreErrorCode.barrierInvalidCiphertext,
      );
    }
    for (const version of [0, 2, 255]) {
      const changed = Buffer.from(ciphertext);
      changed[0] = version;
      expect(codeOf(() => readCiphertextHeader('p', changed))).toBe(
        CoreErrorCode.barrierInvalidCiphertext,
      );
    }
  });

  it('TermCipher.decrypt rejects a truncated or extended ciphertext', () => {
    const cipher = newCipher();
    const ciphertext = cipher.encrypt('secret/a', plaintextOf(40));
    for (const length of [ciphertextOverheadBytes, ciphertext.byteLength - 1]) {
      expect(integrityCodes).toContain(
        codeOf(() => open(cipher, 'secret/a', ciphertext.subarray(0, length))),
      );
    }
    const extended = Buffer.concat([ciphertext, Buffer.of(0)]);
    expect(codeOf(() => open(cipher, 'secret/a', extended))).toBe(
      CoreErrorCode.barrierDecryptFailed,
    );
  });

  it('TermCipher.decrypt errors name the path and never the plaintext', () => {
    const cipher = newCipher();
    const plaintext = Buffer.from('canary-plaintext-value', 'utf8');
    const ciphertext = Buffer.from(cipher.encrypt('secret/named', plaintext));
    ciphertext[ciphertext.byteLength - 1] = (ciphertext[ciphertext.byteLength - 1] ?? 0) ^ 1;
    let message = '';
    try {
      cipher.decrypt('secret/named', ciphertext);
    } catch (error) {
      message = `${(error as Error).message}\n${(error as Error).stack ?? ''}`;
    }
    expect(message).toContain('"secret/named"');
    expect(message).not.toContain('canary');
  });

  it('TermCipher draws no repeated nonce in 100,000 encryptions', () => {
    const cipher = newCipher();
    const nonces = new Set<string>();
    const plaintext = plaintextOf(1);
    for (let i = 0; i < 100_000; i++) {
      nonces.add(cipher.encrypt('p', plaintext).toString('latin1', 5, headerSizeBytes));
    }
    expect(nonces.size).toBe(100_000);
  });

  it('TermCipher binds the path length, so a path/body boundary cannot shift', () => {
    // Without the length prefix, header ‖ "ab" and header ‖ "a" with a "b" moved elsewhere could
    // collide; with it the associated data of different paths always differ.
    const data = new AssociatedData();
    const header = Buffer.alloc(headerSizeBytes + 8, 9);
    const first = Buffer.from(data.build(header, 'ab'));
    const second = Buffer.from(data.build(header, 'a'));
    expect(first.readUInt32BE(headerSizeBytes)).toBe(2);
    expect(second.readUInt32BE(headerSizeBytes)).toBe(1);
    expect(first.equals(second)).toBe(false);
  });
});
