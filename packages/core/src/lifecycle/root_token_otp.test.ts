/**
 * Goal: a root token delivered under a one-time key decodes only with that key, and bad
 * one-time keys or encodings are refused with COFFER_CORE_ATTEMPT_INVALID.
 * Method: round trips with random tokens and keys; invalid inputs; no I/O.
 */
import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { tokenIdLength, tokenIdPrefix } from './root_token.ts';
import { decodeTokenWithOtp, encodeTokenForOtp, generateRootOtp } from './root_token_otp.ts';

const token = (): string => `${tokenIdPrefix}${randomBytes(24).toString('base64url')}`;

describe('root token one-time key', () => {
  it('encodeTokenForOtp round-trips with the one-time key and hides the token', () => {
    for (let i = 0; i < 20; i++) {
      const id = token();
      const otp = generateRootOtp();
      expect(otp).toHaveLength(tokenIdLength);
      const encoded = encodeTokenForOtp(id, otp);
      expect(encoded).not.toContain(id.slice(4, 12));
      expect(decodeTokenWithOtp(encoded, otp)).toBe(id);
      expect(decodeTokenWithOtp(encoded, generateRootOtp())).not.toBe(id);
    }
  });

  it('encodeTokenForOtp refuses one-time keys of the wrong length or alphabet', () => {
    for (const otp of ['', 'short', 'x'.repeat(tokenIdLength + 1), ' '.repeat(tokenIdLength)]) {
      expect(() => encodeTokenForOtp(token(), otp)).toThrow(
        expect.objectContaining({ code: CoreErrorCode.attemptInvalid }),
      );
    }
  });

  it('decodeTokenWithOtp refuses an encoding of the wrong length', () => {
    expect(() => decodeTokenWithOtp('AAAA', generateRootOtp())).toThrow(
      expect.objectContaining({ code: CoreErrorCode.attemptInvalid }),
    );
  });
});
