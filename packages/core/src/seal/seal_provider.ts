/**
 * The seal port: what core needs from whatever protects the root key (STYLE.md 2.2: the consumer
 * declares the port; ShamirSeal and Pkcs11Seal implement it beside it).
 *
 * The key hierarchy is: data keys (the barrier's keyring) under the root key; the root key
 * wrapped by a seal. A seal wraps and unwraps exactly one thing, the 32-byte root key, bound to
 * a cluster id through authenticated associated data, so a wrapped root key copied from another
 * cluster does not open here. Rekey and seal migration rewrap the root key; nothing under it is
 * re-encrypted. See docs/design/seal.md.
 */
import type { SecretKey } from '../barrier/secret_key.ts';

/** The kinds of seal: Shamir shares held by people, or a key inside a PKCS#11 HSM. */
export const SealType = {
  shamir: 'shamir',
  pkcs11: 'pkcs11',
} as const;

/** The union of seal kinds. */
export type SealType = (typeof SealType)[keyof typeof SealType];

/**
 * Why a seal cannot wrap or unwrap right now. Stable strings for status pages and alerts; none
 * of them carries or hints at secret material.
 */
export const SealUnavailableReason = {
  /** Shamir: no unseal key in memory; submit shares. */
  awaitingShares: 'awaiting_shares',
  /** The PKCS#11 library file does not exist or does not load. */
  libraryMissing: 'library_missing',
  /** The PKCS#11 library loaded but C_Initialize failed (bad SOFTHSM2_CONF, driver error). */
  libraryFailed: 'library_failed',
  /** No token with the configured label (or no slot with the configured id) is present. */
  tokenAbsent: 'token_absent',
  /** More than one token carries the configured label; name the slot instead. */
  tokenAmbiguous: 'token_ambiguous',
  /** The PIN file was refused (mode, owner, empty) or could not be read. */
  pinFileInvalid: 'pin_file_invalid',
  /** C_Login refused the PIN. Not retried until the PIN file changes, so the token never locks. */
  pinIncorrect: 'pin_incorrect',
  /** The token locked the user PIN; an officer must unlock it. */
  pinLocked: 'pin_locked',
  /** No key with the configured label and type on the token. */
  keyMissing: 'key_missing',
  /** More than one key with the configured label and type. */
  keyAmbiguous: 'key_ambiguous',
  /** The key is extractable or not sensitive: it was refused. */
  keyInsecure: 'key_insecure',
  /** The token does not do the configured mechanism or parameters. */
  mechanismUnsupported: 'mechanism_unsupported',
  /** No connection attempt has finished yet. */
  notConnected: 'not_connected',
  /** The device or session failed (removed, general error); reconnecting with backoff. */
  deviceError: 'device_error',
  /** The seal was closed by its owner. */
  closed: 'closed',
} as const;

/** The union of unavailability reasons. */
export type SealUnavailableReason =
  (typeof SealUnavailableReason)[keyof typeof SealUnavailableReason];

/**
 * What a seal reports about itself. Safe to show unauthenticated: a state, a reason code and a
 * short non-secret detail (never a PIN, share or key byte).
 */
export type SealStatus =
  | { readonly state: 'ready'; readonly type: SealType }
  | {
      readonly state: 'unavailable';
      readonly type: SealType;
      readonly reason: SealUnavailableReason;
      /** A sentence for operators, such as the PKCS#11 return value name. */
      readonly detail: string;
    };

/** Ties a wrapped root key to one cluster: the cluster id goes into the associated data. */
export interface SealBinding {
  /** The cluster's id, fixed at init. 1 to 128 characters of [A-Za-z0-9._:-]. */
  readonly clusterId: string;
}

/**
 * Something that protects the root key.
 *
 * Invariant: `unwrapRootKey(wrapRootKey(k, b), b)` returns k; with another binding, another
 * key or a changed byte it throws COFFER_CORE_ROOT_KEY_UNWRAP_FAILED (or BLOB_INVALID for a
 * malformed blob) and returns nothing.
 */
export interface SealProvider {
  /** Which kind of seal this is. */
  readonly type: SealType;
  /** The current state; cheap, never does I/O. */
  status(): SealStatus;
  /**
   * Wraps the root key for storage. The caller keeps ownership of `rootKey`; the returned
   * bytes are not secret (they are an authenticated ciphertext).
   */
  wrapRootKey(rootKey: SecretKey, binding: SealBinding): Promise<Buffer>;
  /**
   * Unwraps a stored root key and verifies it (authenticated decryption). The caller owns the
   * returned key and zeroes it when done.
   */
  unwrapRootKey(wrapped: Uint8Array, binding: SealBinding): Promise<SecretKey>;
  /** Drops every key and session this seal holds; later calls fail with SEAL_UNAVAILABLE. */
  close(): Promise<void>;
}

/**
 * Where seals report events. Fields are non-secret by construction: reason codes, counts,
 * labels and PKCS#11 return value names.
 */
export interface SealLogger {
  /** A routine event (connected, key generated). */
  info(event: string, fields?: Readonly<Record<string, string | number | boolean>>): void;
  /** Something an operator should look at (HSM unreachable, retrying). */
  warn(event: string, fields?: Readonly<Record<string, string | number | boolean>>): void;
}

/** A logger that drops everything, for callers that pass none. */
export const silentSealLogger: SealLogger = {
  info: () => undefined,
  warn: () => undefined,
};

/** The time source seals and limiters use; structurally the Raft driver's DriverClock. */
export interface SealClock {
  /** Monotonic milliseconds. */
  nowMs(): number;
  /** Calls `callback` after `delayMs`; the handle cancels it. */
  setTimer(delayMs: number, callback: () => void): { cancel(): void };
}
