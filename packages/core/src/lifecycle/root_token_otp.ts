/**
 * Delivery of a generated root token to a one-time key of the requester (Vault's OTP scheme for
 * generate-root): the requester picks a random one-time key as long as a token id, the node
 * returns base64(token XOR otp), and only the requester, who holds the one-time key, can read
 * the token. The shares' holders, who see the answer, learn nothing of the token.
 */
import { randomBytes } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../errors.ts';
import { tokenIdLength } from './root_token.ts';

const printable = /^[\x21-\x7e]+$/;

/** A fresh one-time key for generate-root: `tokenIdLength` base64url characters. */
export function generateRootOtp(): string {
  return randomBytes(tokenIdLength).toString('base64url').slice(0, tokenIdLength);
}

/** Throws COFFER_CORE_ATTEMPT_INVALID unless `otp` fits a token id. */
export function validateRootOtp(otp: string): void {
  if (otp.length !== tokenIdLength || !printable.test(otp)) {
    throw new CoreError(
      CoreErrorCode.attemptInvalid,
      `Supply a one-time key of ${tokenIdLength} printable ASCII characters: ` +
        `the one given has ${otp.length} characters or others`,
    );
  }
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i += 1) {
    out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  }
  return out;
}

/** base64(token XOR otp). The scratch buffers are zeroed. */
export function encodeTokenForOtp(token: string, otp: string): string {
  validateRootOtp(otp);
  const tokenBytes = Buffer.from(token, 'latin1');
  const otpBytes = Buffer.from(otp, 'latin1');
  const mixed = xor(tokenBytes, otpBytes);
  try {
    return mixed.toString('base64');
  } finally {
    tokenBytes.fill(0);
    otpBytes.fill(0);
    mixed.fill(0);
  }
}

/** The requester's side: the token from the encoded answer and the one-time key. */
export function decodeTokenWithOtp(encoded: string, otp: string): string {
  validateRootOtp(otp);
  const mixed = Buffer.from(encoded, 'base64');
  if (mixed.length !== tokenIdLength) {
    throw new CoreError(
      CoreErrorCode.attemptInvalid,
      `Check the encoded token for a copy error: it decodes to ${mixed.length} bytes, not ${tokenIdLength}`,
    );
  }
  return xor(mixed, Buffer.from(otp, 'latin1')).toString('latin1');
}
