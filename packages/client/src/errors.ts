/**
 * Error codes and the error class of @coffer/client.
 *
 * A call the server refused keeps the server's stable code (the `coffer-error-code` trailer,
 * e.g. COFFER_CORE_PERMISSION_DENIED) and the server's message. A failure on this side (bad
 * options, no connection, a deadline, an unreadable response) gets one of the COFFER_CLIENT_*
 * codes below and a message that says what to do. Callers match on `err.code`, never on the
 * message and never with instanceof across packages (STYLE.md 5.3). Every code here is listed
 * in docs/errors.md.
 */

/** Every error code that @coffer/client itself produces, keyed by a short name. */
export const ClientErrorCode = {
  /** The server address is not `host:port`, `https://host:port` or `[v6]:port`. */
  invalidAddress: 'COFFER_CLIENT_INVALID_ADDRESS',
  /** The CA certificate is not a PEM certificate. */
  invalidCaCert: 'COFFER_CLIENT_INVALID_CA_CERT',
  /** A client option or call argument is out of range (deadline, wrap TTL, token characters). */
  invalidRequest: 'COFFER_CLIENT_INVALID_REQUEST',
  /** No connection to the server: it is down, the address is wrong or TLS verification failed. */
  unavailable: 'COFFER_CLIENT_UNAVAILABLE',
  /** The call's deadline passed before the server answered. */
  deadlineExceeded: 'COFFER_CLIENT_DEADLINE_EXCEEDED',
  /** The call was cancelled on this side (the client was closed). */
  cancelled: 'COFFER_CLIENT_CANCELLED',
  /** The client was closed; calls on it are refused. */
  closed: 'COFFER_CLIENT_CLOSED',
  /** The server's answer could not be decoded (its data is not a JSON object). */
  invalidResponse: 'COFFER_CLIENT_INVALID_RESPONSE',
  /** The request or the answer was over the gRPC message size limit (4 MiB by default). */
  messageTooLarge: 'COFFER_CLIENT_MESSAGE_TOO_LARGE',
  /** The call failed with a gRPC status that carries no Coffer code (e.g. UNIMPLEMENTED). */
  callFailed: 'COFFER_CLIENT_CALL_FAILED',
} as const;

/** The union of every @coffer/client error code string. */
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Options for {@link CofferClientError}. */
export interface CofferClientErrorOptions {
  /** The gRPC status code of the failed call; 2 (UNKNOWN) when no call was made. */
  readonly grpcCode?: number;
  /** How long the server asked the caller to wait before retrying (rate limits). */
  readonly retryAfterMs?: number;
  /** The error that caused this one (STYLE.md 5.4). */
  readonly cause?: unknown;
}

/** The gRPC status UNKNOWN, for errors raised before any call was made. */
const grpcUnknown = 2;

/**
 * A failed client call or a refused client option.
 *
 * `code` is either a server code (COFFER_CORE_*, COFFER_API_*) or a {@link ClientErrorCode}.
 * Invariant: the message never contains a token, a share or a secret value (STYLE.md 5.7).
 */
export class CofferClientError extends Error {
  /** The stable code to match on. */
  readonly code: string;
  /** The gRPC status code of the failed call (2, UNKNOWN, when no call was made). */
  readonly grpcCode: number;
  /** Set when the server asked the caller to wait this long before retrying. */
  readonly retryAfterMs: number | undefined;

  /** Creates an error; the message says what failed and what to do (STYLE.md 5.6). */
  constructor(code: string, message: string, options: CofferClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CofferClientError';
    this.code = code;
    this.grpcCode = options.grpcCode ?? grpcUnknown;
    this.retryAfterMs = options.retryAfterMs;
  }
}
