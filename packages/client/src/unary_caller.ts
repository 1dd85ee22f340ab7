/**
 * Makes one typed unary call with Coffer's metadata conventions (common.proto): the token in
 * `coffer-token`, a wrapping TTL in `coffer-wrap-ttl`, a request id in `coffer-request-id` (the
 * caller's or a fresh UUID, the same on every try), a read consistency in `coffer-consistency`
 * (read_consistency.ts), a deadline on every call, and the response
 * decoded into a {@link CofferResponse}. With several addresses a call that its node could not
 * serve moves to the next node (failover.ts) until its deadline.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import type { CallOptions, CofferResponse, ReadConsistency } from './client_api.ts';
import { callError, errorCodeTrailer, type CallContext } from './call_error.ts';
import type { ClientConnection } from './client_connection.ts';
import { ClientErrorCode, CofferClientError } from './errors.ts';
import { failoverBackoffMs, isFailoverRetryable } from './failover.ts';
import type { Response__Output } from './generated/coffer/v1/Response.ts';
import type { CallOutcome, UnaryCall, UnaryMethod } from './grpc_transport.ts';
import { consistencyOf } from './read_consistency.ts';
import { decodeResponse } from './response_decoding.ts';
import type { MethodName, RequestOf, ServiceName } from './service_definitions.ts';

/** Metadata keys of the Coffer API (common.proto). */
export const MetadataKey = {
  token: 'coffer-token',
  wrapTtl: 'coffer-wrap-ttl',
  requestId: 'coffer-request-id',
  consistency: 'coffer-consistency',
} as const;

/** The default deadline of a call, in ms (client_api.ts: 30 s). */
export const callDeadlineMsDefault = 30_000;

/** `Service/Method` for every method of coffer.v1, e.g. `Kv/Put`. */
export type MethodPath = { [S in ServiceName]: `${S}/${MethodName<S>}` }[ServiceName];

/** The request message (input form) of the method at `P`. */
export type RequestOfPath<P extends MethodPath> =
  P extends `${infer S extends ServiceName}/${infer M}`
    ? M extends MethodName<S>
      ? RequestOf<S, M>
      : never
    : never;

/** What a caller sends unless a call overrides it. */
export interface CallerDefaults {
  /** The token; absent or "" for none. Secret. */
  readonly token?: string;
  /** The deadline of each call, in ms. */
  readonly deadlineMs: number;
  /** The consistency of reads and lists of secrets that name none (read_consistency.ts). */
  readonly readConsistency?: ReadConsistency;
}

/** The read consistencies the server knows (a JavaScript caller may pass anything). */
const readConsistencies: readonly string[] = ['linearizable', 'stale'];

/** A header value gRPC accepts: printable ASCII without spaces. */
const headerValuePattern = /^[\x21-\x7e]{1,4096}$/;
/**
 * A request id the server keeps (@coffer/api call_context.ts); it replaces any other with a
 * fresh one, which would give each try of a call its own id.
 */
const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/;

function invalidRequest(message: string): CofferClientError {
  return new CofferClientError(ClientErrorCode.invalidRequest, message);
}

/** Checks a deadline option; throws COFFER_CLIENT_INVALID_REQUEST when out of range. */
export function checkDeadlineMs(deadlineMs: number): number {
  if (!Number.isSafeInteger(deadlineMs) || deadlineMs <= 0) {
    throw invalidRequest(`Give the deadline as whole milliseconds above 0, not ${deadlineMs}`);
  }
  return deadlineMs;
}

function callMetadata(
  token: string | undefined,
  options: CallOptions,
  consistency: ReadConsistency | undefined,
): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (consistency !== undefined) {
    if (!readConsistencies.includes(consistency)) {
      throw invalidRequest('Give the read consistency as "stale" or "linearizable"');
    }
    metadata[MetadataKey.consistency] = consistency;
  }
  if (token !== undefined && token !== '') {
    if (!headerValuePattern.test(token)) {
      // NB: the message never repeats the token, not even in part.
      throw invalidRequest(
        'Check the token (--token-file, the login token file or COFFER_TOKEN): it holds ' +
          'characters a token cannot have, such as spaces or a line break',
      );
    }
    metadata[MetadataKey.token] = token;
  }
  const wrapTtlSeconds = options.wrapTtlSeconds;
  if (wrapTtlSeconds !== undefined) {
    if (!Number.isSafeInteger(wrapTtlSeconds) || wrapTtlSeconds <= 0) {
      throw invalidRequest(`Give the wrap TTL as whole seconds above 0, not ${wrapTtlSeconds}`);
    }
    metadata[MetadataKey.wrapTtl] = String(wrapTtlSeconds);
  }
  if (options.requestId !== undefined && !requestIdPattern.test(options.requestId)) {
    throw invalidRequest('Give a request id of 1 to 128 letters, digits, ".", "_" or "-"');
  }
  metadata[MetadataKey.requestId] = options.requestId ?? randomUUID();
  return metadata;
}

/** Makes calls on one connection with one set of defaults (token, deadline). */
export class UnaryCaller {
  readonly #connection: ClientConnection;
  /** Secret: kept in a #private field so inspecting the caller does not show it. */
  readonly #token: string | undefined;
  readonly #deadlineMs: number;
  readonly #readConsistency: ReadConsistency | undefined;

  /** A caller on `connection` that sends `defaults` unless a call overrides them. */
  constructor(connection: ClientConnection, defaults: CallerDefaults) {
    this.#connection = connection;
    this.#token = defaults.token;
    this.#deadlineMs = checkDeadlineMs(defaults.deadlineMs);
    this.#readConsistency = defaults.readConsistency;
  }

  /**
   * Calls the method at `path` with `request`; resolves with the decoded response and rejects
   * with a {@link CofferClientError}. Starts at the address that answered last; with several
   * addresses, a try that its node could not serve (failover.ts) is repeated on the next address
   * with the same metadata, request id included, while the backoff ends before the deadline.
   */
  async call<P extends MethodPath>(
    path: P,
    request: RequestOfPath<P>,
    options: CallOptions = {},
  ): Promise<CofferResponse> {
    const deadlineMs = checkDeadlineMs(options.deadlineMs ?? this.#deadlineMs);
    const connection = this.#connection;
    const unary: UnaryCall<RequestOfPath<P>, Response__Output> = {
      method: this.#method(path),
      request,
      metadata: callMetadata(
        options.token ?? this.#token,
        options,
        consistencyOf({ method: path, request, options }, this.#readConsistency),
      ),
      deadlineMs: connection.timing.now() + deadlineMs,
    };
    const addressCount = connection.addresses.length;
    let index = connection.preferredIndex;
    for (let tries = 1; ; tries += 1) {
      const outcome = await this.#try(path, unary, index);
      if (outcome.ok) {
        connection.answeredAt(index);
        return decodeResponse(outcome.response);
      }
      const failure = outcome.failure;
      const retryable = addressCount > 1 && isFailoverRetryable(failure);
      const waitMs = failoverBackoffMs(tries - 1, connection.timing.random);
      if (!retryable || connection.timing.now() + waitMs >= unary.deadlineMs) {
        if (!retryable && failure.trailers[errorCodeTrailer] !== undefined) {
          // A refusal is an answer: the node is up, so the next call starts there.
          connection.answeredAt(index);
        }
        throw callError(failure, this.#context(path, { index, tries, deadlineMs }));
      }
      await connection.timing.sleep(waitMs);
      index = (index + 1) % addressCount;
    }
  }

  /** One try on the address at `index`; throws COFFER_CLIENT_CLOSED after close. */
  #try<P extends MethodPath>(
    path: P,
    unary: UnaryCall<RequestOfPath<P>, Response__Output>,
    index: number,
  ): Promise<CallOutcome<Response__Output>> {
    if (this.#connection.closed) {
      return Promise.reject(
        new CofferClientError(
          ClientErrorCode.closed,
          `Create a new client: this one was closed before the call ${path}`,
        ),
      );
    }
    return this.#connection.transportAt(index).call(unary);
  }

  #context(
    method: string,
    attempt: { readonly index: number; readonly tries: number; readonly deadlineMs: number },
  ): CallContext {
    return {
      method,
      address: this.#connection.addressAt(attempt.index),
      addresses: this.#connection.addresses,
      tries: attempt.tries,
      deadlineMs: attempt.deadlineMs,
    };
  }

  #method<P extends MethodPath>(path: P): UnaryMethod<RequestOfPath<P>, Response__Output> {
    const [service, method] = path.split('/') as [ServiceName, string];
    const definitions = this.#connection.services[service] as unknown as Record<
      string,
      UnaryMethod<RequestOfPath<P>, Response__Output>
    >;
    const definition = definitions[method];
    // Invariant: a typed MethodPath always names a method of the loaded definitions.
    assert(definition !== undefined, `coffer.v1 has no method ${path}`);
    return definition;
  }
}
