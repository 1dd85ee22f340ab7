/**
 * Goal: NoncePool hands out 12-byte nonces at the requested offset, each pool byte once, and
 * refills when empty; discard forgets what is left.
 * Method: a small pool (4 nonces) drained across several refills; uniqueness over 100,000
 * nonces is checked through TermCipher in term_cipher.test.ts.
 */
import { describe, expect, it } from 'vitest';

import { nonceSizeBytes, NoncePool } from './nonce_pool.ts';

describe('NoncePool', () => {
  it('NoncePool.copyInto writes 12 bytes at the offset and nothing else', () => {
    const pool = new NoncePool(4);
    const target = Buffer.alloc(30, 0xaa);
    pool.copyInto(target, 5);
    expect(target.subarray(0, 5).every((byte) => byte === 0xaa)).toBe(true);
    expect(target.subarray(17).every((byte) => byte === 0xaa)).toBe(true);
  });

  it('NoncePool never repeats a nonce across refills and after discard', () => {
    const pool = new NoncePool(4);
    const seen = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      if (i % 7 === 0) {
        pool.discard();
      }
      const nonce = Buffer.alloc(nonceSizeBytes);
      pool.copyInto(nonce, 0);
      seen.add(nonce.toString('hex'));
    }
    expect(seen.size).toBe(1_000);
  });
});
