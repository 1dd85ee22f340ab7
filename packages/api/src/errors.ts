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
  /** The server config file has invalid or unknown fields; the server refuses to start. */
  configInvalid: 'COFFER_API_CONFIG_INVALID',
  /** The server config file could not be read or parsed as JSON or YAML. */
  configUnreadable: 'COFFER_API_CONFIG_UNREADABLE',
  /** Dev mode could not set itself up (init, unseal, mount or its files). */
  devSetupFailed: 'COFFER_API_DEV_SETUP_FAILED',
  /** No HTTP route serves the requested path. */
  routeNotFound: 'COFFER_API_ROUTE_NOT_FOUND',
  /** The HTTP route exists but does not serve the request's method. */
  methodNotAllowed: 'COFFER_API_METHOD_NOT_ALLOWED',
  /** A request that needs a token came without one. */
  tokenMissing: 'COFFER_API_TOKEN_MISSING',
  /** An HTTP request body is larger than the listener accepts. */
  requestTooLarge: 'COFFER_API_REQUEST_TOO_LARGE',
  /** The TLS key or certificate given to a listener could not be loaded. */
  tlsInvalid: 'COFFER_API_TLS_INVALID',
  /** The metrics could not be collected (the server log has details). */
  metricsUnavailable: 'COFFER_API_METRICS_UNAVAILABLE',
  /** An API listener failed to answer a request (a bug; the server log has details). */
  internal: 'COFFER_API_INTERNAL',
  /** The listener is at its bound on concurrent requests; retry after a short wait. */
  overloaded: 'COFFER_API_OVERLOADED',
  /** The call's deadline passed before the request could reach the router. */
  deadlineExceeded: 'COFFER_API_DEADLINE_EXCEEDED',
  /** Outside dev mode a secret-bearing environment variable is set; the server refuses to start. */
  secretInEnvironment: 'COFFER_API_SECRET_IN_ENVIRONMENT',
  /** Outside dev mode the Node inspector was requested (--inspect, NODE_OPTIONS); refused. */
  debuggerRefused: 'COFFER_API_DEBUGGER_REFUSED',
  /** Core dumps could not be turned off (RLIMIT_CORE); the server refuses to start. */
  coreDumpsOn: 'COFFER_API_CORE_DUMPS_ON',
  /** A cluster peer speaks another cluster protocol or Raft wire version; upgrade nodes in turn. */
  clusterProtocolMismatch: 'COFFER_API_CLUSTER_PROTOCOL_MISMATCH',
  /** A cluster peer came without a certificate or without the node id its certificate names. */
  clusterPeerRefused: 'COFFER_API_CLUSTER_PEER_REFUSED',
  /** A cluster peer sent bytes that are not a Raft message; its stream was ended. */
  clusterInvalidMessage: 'COFFER_API_CLUSTER_INVALID_MESSAGE',
  /** A GraphQL document is over a limit (tokens, depth, cost, aliases, router requests). */
  queryTooComplex: 'COFFER_API_QUERY_TOO_COMPLEX',
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
