/**
 * The requester's side of generate-root's one-time key (Vault's OTP scheme): make a one-time
 * key, and read the new root token from the encoded answer. The scheme lives in @coffer/core
 * (lifecycle/root_token_otp.ts); the CLI reaches it through @coffer/api (STYLE.md 2.1).
 */
import { decodeTokenWithOtp, generateRootOtp as makeOtp } from '@coffer/api';

/** A fresh one-time key for `operator generate-root --init`. */
export function generateRootOtp(): string {
  return makeOtp();
}

/** The root token from generate-root's encoded answer and the one-time key. */
export function decodeRootToken(encoded: string, otp: string): string {
  return decodeTokenWithOtp(encoded, otp);
}
