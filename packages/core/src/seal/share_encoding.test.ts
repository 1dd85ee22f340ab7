/**
 * Goal: encoded shares round-trip, and every malformed spelling is refused rather than decoded
 * to something else.
 * Method: encode random shares; decode a table of corrupted spellings.
 */
import { describe, expect, it } from 'vitest';

import { SecretKey } from '../barrier/secret_key.ts';
import { decodeShare, encodeShare, sharePrefix } from './share_encoding.ts';

describe('encodeShare and decodeShare', () => {
  it('decodeShare reverses encodeShare and ignores surrounding whitespace', () => {
    const share = SecretKey.generate(33);
    const encoded = encodeShare(share);
    expect(encoded.startsWith(sharePrefix)).toBe(true);
    expect(decodeShare(encoded, 33)?.equals(share)).toBe(true);
    expect(decodeShare(`  ${encoded}\n`, 33)?.equals(share)).toBe(true);
  });

  it('decodeShare refuses wrong prefixes, alphabets, sizes and non-canonical spellings', () => {
    const encoded = encodeShare(SecretKey.fromBytes(Buffer.alloc(33, 0xff)));
    const body = encoded.slice(sharePrefix.length);
    const malformed = [
      '',
      body,
      `coffer2:${body}`,
      `COFFER1:${body}`,
      `${encoded}=`,
      `${sharePrefix}${body.replaceAll('_', '/')}`,
      `${sharePrefix}${body} x`,
      `${sharePrefix}${body.slice(0, -1)}`,
      `${sharePrefix}${body}AA`,
      `${sharePrefix}${'A'.repeat(600)}`,
    ];
    for (const text of malformed) {
      expect(decodeShare(text, 33), text).toBeUndefined();
    }
    expect(decodeShare(encoded, 32)).toBeUndefined();
    // 32 bytes leave two spare bits in the last character: setting one is another spelling.
    const zeros = encodeShare(SecretKey.fromBytes(Buffer.alloc(32)));
    expect(decodeShare(zeros, 32)).toBeDefined();
    expect(decodeShare(`${zeros.slice(0, -1)}B`, 32)).toBeUndefined();
  });
});
