/**
 * The requester's side of generate-root's one-time key (Vault's OTP scheme): make a one-time
 * key, and read the new root token from the encoded answer. The scheme lives in @coffer/core
 * (lifecycle/root_token_otp.ts); the CLI reaches it through @coffer/api (STYLE.md 2.1).
 */

// NB: @coffer/api is loaded on first use, not at start-up: it is heavy, and only generate-root
// needs it among the client commands.

/** A fresh one-time key for `operator generate-root --init`. */
export async function generateRootOtp(): Promise<string> {
  return (await import('@coffer/api')).generateRootOtp();
}

/** The root token from generate-root's encoded answer and the one-time key. */
export async function decodeRootToken(encoded: string, otp: string): Promise<string> {
  return (await import('@coffer/api')).decodeTokenWithOtp(encoded, otp);
}
