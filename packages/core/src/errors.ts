/**
 * Error codes and the error class for operating failures in @coffer/core.
 *
 * Codes are stable strings "COFFER_CORE_<WHAT>" (STYLE.md 5.2): callers match on `err.code`,
 * never on the message and never with instanceof across packages (STYLE.md 5.3). Every code
 * here is listed in docs/errors.md; test/src/errors_doc.test.ts fails when one is missing.
 */

/** Every error code that @coffer/core throws, keyed by a short name. */
export const CoreErrorCode = {
  /** The node is sealed; unseal it before serving requests. */
  sealed: 'COFFER_CORE_SEALED',
  /** A value read through the barrier failed authenticated decryption. */
  barrierDecryptFailed: 'COFFER_CORE_BARRIER_DECRYPT_FAILED',
  /** The configured seal (Shamir or HSM) could not be reached or used. */
  sealUnavailable: 'COFFER_CORE_SEAL_UNAVAILABLE',
} as const;

/** The union of every @coffer/core error code string. */
export type CoreErrorCode = (typeof CoreErrorCode)[keyof typeof CoreErrorCode];

/** Options for {@link CoreError}; pass `cause` whenever wrapping another error (STYLE.md 5.4). */
export interface CoreErrorOptions {
  /** The error or value that caused this one. */
  readonly cause?: unknown;
}

/**
 * An operating failure in @coffer/core: the barrier, a seal or a request could not be served.
 *
 * NB: bugs fail an assert instead, and outcomes a caller must branch on are returned as a
 * discriminated union, not thrown (STYLE.md 5.1).
 */
export class CoreError extends Error {
  /** The stable code to match on. */
  readonly code: CoreErrorCode;

  /**
   * Creates an error. The message names what failed and what to do, action first, and never
   * contains secret material (STYLE.md 5.6, 5.7).
   */
  constructor(code: CoreErrorCode, message: string, options?: CoreErrorOptions) {
    super(message, options);
    this.name = 'CoreError';
    this.code = code;
  }
}
