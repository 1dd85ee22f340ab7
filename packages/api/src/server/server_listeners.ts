/**
 * How the server starts its two listeners over a node: the gRPC API server and the HTTP
 * listener (health, seal status, metrics). A port, so that the server's lifecycle (start,
 * reload, graceful close) is the same whatever the listeners are, and tests can inject their own.
 */
import type { CofferNode, ServerLog } from '@coffer/core';

import { GrpcApiServer } from '../grpc/grpc_api_server.ts';
import { HttpListener } from '../http/http_listener.ts';
import type { ApiMetrics } from '../metrics/api_metrics.ts';
import type { TlsMaterial } from '../tls/self_signed.ts';
import type { ServerConfig } from './config.ts';

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
  const server = await GrpcApiServer.start({
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
  });
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
