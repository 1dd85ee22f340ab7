/**
 * The one file that uses @grpc/grpc-js at run time (STYLE.md 4.2): it opens a TLS channel and
 * makes unary calls on it, turning grpc-js's callback and ServiceError into a promise and a
 * plain {@link TransportFailure}. Everything above it (metadata rules, error codes, decoding)
 * is ours and testable without a socket.
 */
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';

/** The gRPC status codes the client branches on (grpc-js's `status` values, as numbers). */
export const GrpcStatus = {
  ok: status.OK as number,
  cancelled: status.CANCELLED as number,
  unknown: status.UNKNOWN as number,
  deadlineExceeded: status.DEADLINE_EXCEEDED as number,
  internal: status.INTERNAL as number,
  resourceExhausted: status.RESOURCE_EXHAUSTED as number,
  unavailable: status.UNAVAILABLE as number,
} as const;

/** The name of a gRPC status code, e.g. `UNAVAILABLE` for 14. */
export function grpcStatusName(code: number): string {
  const name: unknown = (status as unknown as Record<number, unknown>)[code];
  return typeof name === 'string' ? name : `status ${code}`;
}

/** How to reach the server over TLS. */
export interface TransportOptions {
  /** The grpc-js target, `host:port`. */
  readonly target: string;
  /** PEM of the CA that signed the server certificate. */
  readonly caCert: Buffer;
  /** The name to verify in the server certificate, when it differs from the target host. */
  readonly serverName?: string;
}

/** One unary method: its full path and its codecs (a proto-loader MethodDefinition). */
export interface UnaryMethod<Request, Response> {
  readonly path: string;
  readonly requestSerialize: (value: Request) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => Response;
}

/** One unary call: the method, the request message, metadata entries and a deadline. */
export interface UnaryCall<Request, Response> {
  readonly method: UnaryMethod<Request, Response>;
  readonly request: Request;
  /** Metadata entries; keys lowercase, values printable ASCII (checked by the caller). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Absolute deadline, ms since the epoch. */
  readonly deadlineMs: number;
}

/** A call that ended with a non-OK status. */
export interface TransportFailure {
  readonly grpcCode: number;
  readonly details: string;
  /** The trailers' string entries (the first value of each key). */
  readonly trailers: Readonly<Record<string, string>>;
  /** The grpc-js error, for `cause`. */
  readonly error: Error;
}

/** The outcome of a call: the decoded response or the failure. */
export type CallOutcome<Response> =
  | { readonly ok: true; readonly response: Response }
  | { readonly ok: false; readonly failure: TransportFailure };

/** A TLS channel to one server. */
export class GrpcTransport {
  readonly #client: Client;

  /** Opens the channel lazily: grpc-js connects on the first call. */
  constructor(options: TransportOptions) {
    const channelOptions =
      options.serverName === undefined
        ? {}
        : {
            'grpc.ssl_target_name_override': options.serverName,
            'grpc.default_authority': options.serverName,
          };
    this.#client = new Client(
      options.target,
      credentials.createSsl(options.caCert),
      channelOptions,
    );
  }

  /** Makes one unary call. Throws only when the channel is closed. */
  call<Request, Response>(call: UnaryCall<Request, Response>): Promise<CallOutcome<Response>> {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(call.metadata)) {
      metadata.set(key, value);
    }
    return new Promise((resolve) => {
      this.#client.makeUnaryRequest(
        call.method.path,
        call.method.requestSerialize,
        call.method.responseDeserialize,
        call.request,
        metadata,
        { deadline: call.deadlineMs },
        (error: ServiceError | null, response?: Response) => {
          if (error !== null) {
            resolve({ ok: false, failure: failureOf(error) });
          } else if (response === undefined) {
            resolve({ ok: false, failure: emptyResponseFailure() });
          } else {
            resolve({ ok: true, response });
          }
        },
      );
    });
  }

  /** Closes the channel; later calls throw, and grpc-js settles calls already in flight. */
  close(): void {
    this.#client.close();
  }
}

function failureOf(error: ServiceError): TransportFailure {
  const trailers: Record<string, string> = {};
  for (const [key, value] of Object.entries(error.metadata.getMap())) {
    if (typeof value === 'string') {
      trailers[key] = value;
    }
  }
  return { grpcCode: error.code, details: error.details, trailers, error };
}

function emptyResponseFailure(): TransportFailure {
  const details = 'The call ended with status OK but without a response message';
  return { grpcCode: status.INTERNAL, details, trailers: {}, error: new Error(details) };
}
