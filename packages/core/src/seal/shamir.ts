/**
 * Shamir's secret sharing over GF(2^8), through the audited `shamir-secret-sharing` package
 * (ADR 0003; the only file that imports it). A share is the secret's length plus one byte, the
 * x coordinate; a 1-of-1 "split" is the unsplit key itself.
 *
 * NB: the package keeps intermediate polynomial values in its own arrays, which we cannot zero;
 * we zero every buffer we own (docs/design/seal.md, "Memory").
 */
import { combine, split } from 'shamir-secret-sharing';

import { SecretKey } from '../barrier/secret_key.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';

/** How many shares to make and how many open the key. */
export interface ShareConfig {
  /** Shares handed out, N. */
  readonly shares: number;
  /** Shares needed, T. */
  readonly threshold: number;
}

/** Vault's and OpenBao's defaults: five shares, any three open. */
export const shareConfigDefault: ShareConfig = { shares: 5, threshold: 3 };

/** The most shares GF(2^8) allows: one x coordinate per nonzero byte value. */
export const sharesMax = 255;

/**
 * Throws COFFER_CORE_SEAL_CONFIG_INVALID unless 2 ≤ threshold ≤ shares ≤ 255, or the config is
 * the single unsplit key (1 of 1).
 */
export function validateShareConfig(config: ShareConfig): void {
  const { shares, threshold } = config;
  const integers = Number.isSafeInteger(shares) && Number.isSafeInteger(threshold);
  const single = shares === 1 && threshold === 1;
  const split = threshold >= 2 && threshold <= shares && shares <= sharesMax;
  if (!integers || !(single || split)) {
    throw new CoreError(
      CoreErrorCode.sealConfigInvalid,
      `Cannot split a key into ${shares} shares with threshold ${threshold}: use ` +
        `2 <= threshold <= shares <= ${sharesMax}, or 1 of 1`,
    );
  }
}

/**
 * A plain Uint8Array over the same memory (no copy). NB: the package checks
 * `value.constructor === Uint8Array`, which a Buffer fails.
 */
function plainView(bytes: Buffer): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The byte size of one share of a `secretSizeBytes` key under `config`. */
export function shareSizeBytes(config: ShareConfig, secretSizeBytes: number): number {
  return config.threshold === 1 ? secretSizeBytes : secretSizeBytes + 1;
}

/** Splits `secret` into `config.shares` shares. The caller keeps `secret` and owns the shares. */
export async function splitSecret(secret: SecretKey, config: ShareConfig): Promise<SecretKey[]> {
  validateShareConfig(config);
  if (config.threshold === 1) {
    return [secret.clone()];
  }
  const raw = await split(plainView(secret.reveal()), config.shares, config.threshold);
  return raw.map((share) => {
    const owned = SecretKey.fromBytes(share);
    share.fill(0);
    return owned;
  });
}

/**
 * Combines shares into a candidate secret, or returns undefined when they cannot be combined at
 * all (repeated x coordinates, unequal sizes). A candidate is not verified: the caller must
 * check it against stored data before using it. The caller keeps the shares.
 */
export async function combineShares(shares: readonly SecretKey[]): Promise<SecretKey | undefined> {
  const first = shares[0];
  if (first === undefined) {
    return undefined;
  }
  if (shares.length === 1) {
    return first.clone();
  }
  let raw: Uint8Array;
  try {
    raw = await combine(shares.map((share) => plainView(share.reveal())));
  } catch {
    return undefined;
  }
  const candidate = SecretKey.fromBytes(raw);
  raw.fill(0);
  return candidate;
}
