/**
 * Turns a failed call into a {@link CofferClientError}. A refusal by the server keeps the
 * server's stable code (trailer `coffer-error-code`) and message; a status without that trailer
 * is a transport failure and gets a COFFER_CLIENT_* code with a message that says what to do.
 */
import { ClientErrorCode, CofferClientError } from './errors.ts';
import { GrpcStatus, grpcStatusName, type TransportFailure } from './grpc_transport.ts';

/** The trailer that carries the server's stable error code. */
export const errorCodeTrailer = 'coffer-error-code';
/** The trailer that carries how long a rate-limited caller should wait, in ms. */
export const retryAfterTrailer = 'coffer-retry-after-ms';

/** What the message of a transport failure names. */
export interface CallContext {
  /** `Service/Method`, e.g. `Kv/Put`. */
  readonly method: string;
  /** The address of the last try, as given, e.g. `127.0.0.1:8200`. */
  readonly address: string;
  /** Every address of the client, as given (one for a single server). */
  readonly addresses: readonly string[];
  /** How many tries the call made, across addresses. */
  readonly tries: number;
  /** The call's deadline, relative, in ms. */
  readonly deadlineMs: number;
}

const serverCodePattern = /^COFFER_[A-Z0-9_]+$/;

function parseRetryAfterMs(text: string | undefined): number | undefined {
  if (text === undefined || !/^[0-9]{1,15}$/.test(text)) {
    return undefined;
  }
  return Number(text);
}

function serverRefusal(failure: TransportFailure, code: string): CofferClientError {
  const retryAfterMs = parseRetryAfterMs(failure.trailers[retryAfterTrailer]);
  const message =
    failure.details === '' ? `The server refused the call with ${code}` : failure.details;
  return new CofferClientError(code, message, {
    grpcCode: failure.grpcCode,
    cause: failure.error,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

function unavailableMessage(failure: TransportFailure, context: CallContext): string {
  const call = `Call ${context.method} to "${context.address}"`;
  if (context.addresses.length === 1) {
    return (
      `Check that the server at "${context.address}" runs, that COFFER_ADDR names it and that ` +
      `COFFER_CACERT holds the CA of its certificate: ${call} failed (${failure.details})`
    );
  }
  const addresses = context.addresses.map((address) => `"${address}"`).join(', ');
  return (
    `Check that a server at ${addresses} runs, that COFFER_ADDR names them and that ` +
    `COFFER_CACERT holds the CA of their certificates: ${call} failed, the last of ` +
    `${context.tries} tries before the deadline of ${context.deadlineMs} ms (${failure.details})`
  );
}

function transportMessage(failure: TransportFailure, context: CallContext): [string, string] {
  const call = `Call ${context.method} to "${context.address}"`;
  switch (failure.grpcCode) {
    case GrpcStatus.unavailable:
      return [ClientErrorCode.unavailable, unavailableMessage(failure, context)];
    case GrpcStatus.deadlineExceeded:
      return [
        ClientErrorCode.deadlineExceeded,
        `Retry later or raise the deadline: ${call} got no answer within ` +
          `${context.deadlineMs} ms`,
      ];
    case GrpcStatus.resourceExhausted:
      // NB: with no Coffer code, gRPC itself refused: a message over its size limit.
      return [
        ClientErrorCode.messageTooLarge,
        `Send less data, or read it in smaller parts: ${call} carried a request or an answer ` +
          `over the gRPC message limit (${failure.details})`,
      ];
    case GrpcStatus.cancelled:
      return [
        ClientErrorCode.cancelled,
        `Keep the client open until its calls finish: ${call} was cancelled (${failure.details})`,
      ];
    default:
      return [
        ClientErrorCode.callFailed,
        `Check that client and server versions match, and the server log: ${call} failed with ` +
          `gRPC status ${grpcStatusName(failure.grpcCode)} (${failure.details})`,
      ];
  }
}

/**
 * The error for a failed call. Invariant: the message holds only the server's message, the
 * address, the method and grpc-js's transport details, never a token or a value.
 */
export function callError(failure: TransportFailure, context: CallContext): CofferClientError {
  const serverCode = failure.trailers[errorCodeTrailer];
  if (serverCode !== undefined && serverCodePattern.test(serverCode)) {
    return serverRefusal(failure, serverCode);
  }
  const [code, message] = transportMessage(failure, context);
  return new CofferClientError(code, message, { grpcCode: failure.grpcCode, cause: failure.error });
}
