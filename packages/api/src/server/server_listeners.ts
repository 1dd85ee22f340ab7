/**
 * How the server starts its two listeners over a node: the gRPC API server and the HTTP
 * listener (health, seal status, metrics). A port, so that the server's lifecycle (start,
 * reload, graceful close) is the same whatever the listeners are, and tests can inject their own.
 */
import type { CofferNode, ServerLog } from '@coffer/core';

import { ApiError, ApiErrorCode } from '../errors.ts';
import { GrpcApiServer } from '../grpc/grpc_api_server.ts';
import { HttpListener } from '../http/http_listener.ts';
import type { ApiMetrics } from '../metrics/api_metrics.ts';
import type { TlsMaterial } from '@coffer/core';
import type { ServerConfig } from './config.ts';
import { withoutGrpcBindLogging } from './grpc_logging.ts';
import { listenerTlsFields, type ListenerName } from './listener_tls.ts';

/** What the server needs of a running listener. */
export interface ServerListener {
  /** The bound port (the real one when the config asked for port 0). */
  readonly port: number;
  /** Serves new connections with `tls`; open connections keep theirs. */
  reloadTls(tls: TlsMaterial): void | Promise<void>;
  /** Marks the seal-bound services serving or not (gRPC health); absent: nothing to mark. */
  setServing?(serving: boolean): void;
  /** Stops accepting, lets in-flight requests finish for up to graceMs, then closes. */
  close(graceMs: number): Promise<void>;
}

/** What a listener is started with. */
export interface ListenerStart {
  readonly node: CofferNode;
  readonly config: ServerConfig;
  readonly tls: TlsMaterial;
  readonly metrics: ApiMetrics;
  readonly log: ServerLog;
}

/** Starts the listeners; each throws COFFER_API_LISTEN_FAILED when its address is taken. */
export interface ListenerFactories {
  grpc(start: ListenerStart): Promise<ServerListener>;
  http(start: ListenerStart): Promise<ServerListener>;
}

async function startGrpc(start: ListenerStart): Promise<ServerListener> {
  const { node, config, metrics } = start;
  const listener = config.listeners.grpc;
  const server = await withoutGrpcBindLogging(() =>
    GrpcApiServer.start({
      handler: node,
      host: listener.host,
      port: listener.port,
      tls: start.tls,
      limits: {
        messageBytesMax: config.limits.grpcMessageBytesMax,
        inFlightMax: config.limits.inFlightMax,
      },
      reflection: config.grpcReflection,
      onRequest: (observation) => {
        metrics.observeRequest(observation);
      },
    }),
  );
  return {
    get port() {
      return server.port;
    },
    reloadTls: (tls) => {
      server.reloadTls(tls);
    },
    setServing: (serving) => {
      server.setServing(serving);
    },
    close: (graceMs) => server.shutdown(graceMs),
  };
}

async function startHttp(start: ListenerStart): Promise<ServerListener> {
  const { node, config } = start;
  const listener = config.listeners.http;
  const server = await HttpListener.start({
    handler: node,
    host: listener.host,
    port: listener.port,
    tls: start.tls,
    metrics: start.metrics,
    metricsUnauthenticated: config.metricsUnauthenticated,
    requestBytesMax: config.limits.requestBytesMax,
    log: start.log,
    graphql: config.graphql,
    metricsSnapshot: () => node.metrics(),
  });
  return {
    get port() {
      return server.port;
    },
    reloadTls: (tls) => {
      server.reloadTls(tls);
    },
    close: (graceMs) => server.close(graceMs),
  };
}

/** The production listeners: GrpcApiServer and HttpListener. */
export const defaultListenerFactories: ListenerFactories = { grpc: startGrpc, http: startHttp };

/** `host:port`, with brackets around an IPv6 host. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The errno code (EADDRINUSE, ...) in an error or its causes, as a code or in a message. */
function systemCodeOf(error: unknown): string | undefined {
  let current = error;
  for (let depth = 0; current instanceof Error && depth < 4; depth += 1) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) {
      return code;
    }
    // NB: grpc-js gives the bind errors only as text: "... errors: [listen EADDRINUSE: ...]".
    const named = /\b(E[A-Z]{4,}[A-Z_]*)\b/.exec(current.message)?.[1];
    if (named !== undefined) {
      return named;
    }
    current = current.cause;
  }
  return undefined;
}

function listenProblem(error: unknown): string {
  // NB: grpc-js gives no code for a host name that does not resolve, only these words.
  const unresolved = /name resolution failed/i.test(String((error as Error).cause));
  const code = systemCodeOf(error) ?? (unresolved ? 'ENOTFOUND' : undefined);
  switch (code) {
    case 'EADDRINUSE':
      return 'it is in use; stop the process that holds it or choose another port';
    case 'EACCES':
    case 'EPERM':
      return 'this process may not bind it (ports below 1024 need privileges); choose another port';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'its host does not resolve; give an IP address or a name this host resolves';
    case 'EADDRNOTAVAIL':
      return 'no interface of this host has that address; give one of its addresses or 0.0.0.0';
    default:
      return `it could not be bound (${code ?? 'unknown error'}); check the host and the port`;
  }
}

/** A listener's failure to start, reworded to name the config field(s) it comes from. */
function namedStartFailure(
  error: unknown,
  at: { readonly name: ListenerName; readonly config: ServerConfig },
): unknown {
  if (!(error instanceof ApiError)) {
    return error;
  }
  if (error.code === ApiErrorCode.listenFailed) {
    const { host, port } = at.config.listeners[at.name];
    return new ApiError(
      ApiErrorCode.listenFailed,
      `listeners.${at.name}.address: cannot listen on "${hostPort(host, port)}": ` +
        listenProblem(error),
      { cause: error },
    );
  }
  if (error.code === ApiErrorCode.tlsInvalid) {
    const fields = listenerTlsFields(at.config, at.name);
    return new ApiError(
      ApiErrorCode.tlsInvalid,
      `${fields.certFile}, ${fields.keyFile}: ${error.message}`,
      { cause: error },
    );
  }
  return error;
}

/**
 * Starts the `name` listener with its factory. Throws what the factory throws, but an address
 * that cannot be bound (COFFER_API_LISTEN_FAILED) or TLS material that does not load
 * (COFFER_API_TLS_INVALID) reworded to name the config field and value, as config problems are:
 * `listeners.grpc.address: cannot listen on "127.0.0.1:8200": it is in use; ...`.
 */
export async function startListener(
  factories: ListenerFactories,
  name: ListenerName,
  start: ListenerStart,
): Promise<ServerListener> {
  try {
    return await factories[name](start);
  } catch (error) {
    throw namedStartFailure(error, { name, config: start.config });
  }
}
