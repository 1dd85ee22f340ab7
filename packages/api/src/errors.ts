/**
 * Error codes and the error class for operating failures in @coffer/api.
 *
 * Codes are stable strings "COFFER_API_<WHAT>" (STYLE.md 5.2): callers match on `err.code`,
 * never on the message and never with instanceof across packages (STYLE.md 5.3). Every code
 * here is listed in docs/errors.md; test/src/errors_doc.test.ts fails when one is missing.
 */

/** Every error code that @coffer/api throws, keyed by a short name. */
export const ApiErrorCode = {
  /** A request failed validation before it reached the core router. */
  invalidRequest: 'COFFER_API_INVALID_REQUEST',
  /** A gRPC or HTTP listener could not bind its address. */
  listenFailed: 'COFFER_API_LISTEN_FAILED',
} as const;

/** The union of every @coffer/api error code string. */
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

/** Options for {@link ApiError}; pass `cause` whenever wrapping another error (STYLE.md 5.4). */
export interface ApiErrorOptions {
  /** The error or value that caused this one. */
  readonly cause?: unknown;
}

/**
 * An operating failure in @coffer/api: a request could not be decoded or a listener could not be started.
 *
 * NB: bugs fail an assert instead, and outcomes a caller must branch on are returned as a
 * discriminated union, not thrown (STYLE.md 5.1).
 */
export class ApiError extends Error {
  /** The stable code to match on. */
  readonly code: ApiErrorCode;

  /**
   * Creates an error. The message names what failed and what to do, action first, and never
   * contains secret material (STYLE.md 5.6, 5.7).
   */
  constructor(code: ApiErrorCode, message: string, options?: ApiErrorOptions) {
    super(message, options);
    this.name = 'ApiError';
    this.code = code;
  }
}
