/**
 * The HTTP listener (TLS, port 8300 by default): Vault's `/v1/sys/health` and
 * `/v1/sys/seal-status`, the Prometheus scrape at `/v1/sys/metrics`, and, when configured, the
 * GraphQL management API at `/graphql` (graphql/graphql_endpoint.ts), over the core router.
 *
 * Each request is matched on its exact path (no decoding) and method, refused with a JSON body
 * carrying a stable code when nothing matches, and otherwise answered by its route. The
 * listener never reads a body for the status routes: a request that carries one is refused and
 * its connection closed, so a client cannot make the server read without bound; `/graphql`
 * reads its own, up to its limit (a declared length over it is refused here first).
 *
 * Invariant: no answer repeats a header value, a query value or the request path; errors carry
 * fixed messages from this package or from core (which never hold secrets).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createSecureContext } from 'node:tls';

import { CoreErrorCode, type CoreRequest, type CoreResponse, type ServerLog } from '@coffer/core';

import { ApiError, ApiErrorCode } from '../errors.ts';
import { graphqlRoute, type GraphqlSettings } from '../graphql/graphql_endpoint.ts';
import type { ApiMetrics, MetricsSnapshot } from '../metrics/api_metrics.ts';
import type { TlsMaterial } from '@coffer/core';
import { sendError, type HttpRefusal } from './http_reply.ts';
import { statusRoutes, type HttpExchange, type HttpMethod, type HttpRoute } from './http_routes.ts';

/** The core router port: CofferNode satisfies it (a bare function is accepted too). */
export type CoreRequestHandler =
  | { handle(request: CoreRequest): Promise<CoreResponse> }
  | ((request: CoreRequest) => Promise<CoreResponse>);

/** Options of {@link HttpListener.start}. */
export interface HttpListenerOptions {
  readonly handler: CoreRequestHandler;
  readonly host: string;
  /** 0 picks a free port; read the bound one from `port`. */
  readonly port: number;
  readonly tls: TlsMaterial;
  readonly metrics: ApiMetrics;
  /** Serve `/v1/sys/metrics` without a token (a scraper inside a trusted network). */
  readonly metricsUnauthenticated: boolean;
  /** The largest request body any route accepts. Default 1 MiB. */
  readonly requestBytesMax?: number;
  /** Open connections at most; more wait in the kernel's backlog. Default 1024. */
  readonly connectionsMax?: number;
  /** The server version shown by the status endpoints. Default "0.0.0". */
  readonly version?: string;
  /** Wall-clock ms since the epoch (`server_time_utc`). Default Date.now. */
  readonly wallClockMs?: () => number;
  /** Where failures of the listener itself go (never a token, path or value). */
  readonly log?: ServerLog;
  /** Serves `/graphql` with these settings when `enabled`; absent: no GraphQL endpoint. */
  readonly graphql?: GraphqlSettings;
  /** The node's metrics for GraphQL's `Query.metrics`. */
  readonly metricsSnapshot?: () => MetricsSnapshot;
}

const requestBytesMaxDefault = 1024 * 1024;
const connectionsMaxDefault = 1024;
const headersTimeoutMs = 10_000;
const requestTimeoutMs = 30_000;
const keepAliveTimeoutMs = 5_000;
const knownMethods: ReadonlySet<string> = new Set<HttpMethod>(['GET', 'HEAD', 'POST']);

const routesSummary =
  '/v1/sys/health, /v1/sys/seal-status, /v1/sys/metrics and, when enabled, POST /graphql';

/** An HTTPS server over the core router. Start it with {@link HttpListener.start}. */
export class HttpListener {
  readonly #server: Server;
  readonly #options: HttpListenerOptions;
  readonly #routes: ReadonlyMap<string, HttpRoute>;
  readonly #handle: (request: CoreRequest) => Promise<CoreResponse>;
  #closing: Promise<void> | undefined;

  private constructor(server: Server, options: HttpListenerOptions) {
    this.#server = server;
    this.#options = options;
    const routes = statusRoutes({
      metrics: options.metrics,
      metricsUnauthenticated: options.metricsUnauthenticated,
      version: options.version ?? '0.0.0',
      wallClockMs: options.wallClockMs ?? Date.now,
    });
    const graphql = options.graphql?.enabled === true ? [graphqlRouteOf(options)] : [];
    this.#routes = new Map([...routes, ...graphql].map((route) => [route.path, route]));
    const handler = options.handler;
    this.#handle = typeof handler === 'function' ? handler : (request) => handler.handle(request);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      this.#serve(request, response).catch((error: unknown) => {
        this.#fail(response, error);
      });
    });
  }

  /**
   * Binds `host:port` and serves. Throws ApiError COFFER_API_TLS_INVALID when the key or
   * certificate does not load, COFFER_API_LISTEN_FAILED when the address cannot be bound.
   */
  static async start(options: HttpListenerOptions): Promise<HttpListener> {
    let server: Server;
    try {
      server = createServer({
        key: options.tls.keyPem,
        cert: options.tls.certPem,
        minVersion: 'TLSv1.2',
        headersTimeout: headersTimeoutMs,
        requestTimeout: requestTimeoutMs,
        keepAliveTimeout: keepAliveTimeoutMs,
      });
    } catch (error) {
      throw tlsInvalid(error);
    }
    server.maxConnections = options.connectionsMax ?? connectionsMaxDefault;
    const listener = new HttpListener(server, options);
    await listen(server, options);
    server.on('error', (error) => {
      options.log?.error('http_listener_error', { code: errorCode(error) });
    });
    return listener;
  }

  /** The bound port. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /**
   * Serves new connections with `tls`; open connections keep their session. Throws ApiError
   * COFFER_API_TLS_INVALID (and keeps the old material) when the new one does not load.
   */
  reloadTls(tls: TlsMaterial): void {
    const material = { key: tls.keyPem, cert: tls.certPem, minVersion: 'TLSv1.2' } as const;
    try {
      // NB: setSecureContext does not say which part is wrong; building the context first does.
      createSecureContext(material);
      this.#server.setSecureContext(material);
    } catch (error) {
      throw tlsInvalid(error);
    }
  }

  /**
   * Stops accepting, closes idle connections at once and the others as their requests finish;
   * after `graceMs` closes whatever is left. Calling it again returns the same promise.
   */
  close(graceMs: number): Promise<void> {
    this.#closing ??= this.#shutdown(graceMs);
    return this.#closing;
  }

  async #shutdown(graceMs: number): Promise<void> {
    const server = this.#server;
    const closed = new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    server.closeIdleConnections();
    const force = setTimeout(() => {
      server.closeAllConnections();
    }, graceMs);
    try {
      await closed;
    } finally {
      clearTimeout(force);
    }
  }

  async #serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (this.#closing !== undefined) {
      response.setHeader('connection', 'close');
    }
    response.on('finish', () => {
      if (this.#closing !== undefined) {
        // NB: the connection becomes idle only once the response is done.
        setImmediate(() => {
          this.#server.closeIdleConnections();
        });
      }
    });
    const target = splitTarget(request.url ?? '');
    const route = this.#routes.get(target.path);
    const headOnly = request.method === 'HEAD';
    if (route === undefined) {
      sendRefusal(response, routeNotFound, headOnly);
      return;
    }
    const refusal = refuseRequest(request, { route, requestBytesMax: this.#requestBytesMax() });
    if (refusal !== undefined) {
      sendRefusal(response, refusal, headOnly);
      return;
    }
    await route.serve(this.#exchange(request, response, target.query));
  }

  #requestBytesMax(): number {
    return this.#options.requestBytesMax ?? requestBytesMaxDefault;
  }

  #exchange(
    request: IncomingMessage,
    response: ServerResponse,
    query: URLSearchParams,
  ): HttpExchange {
    const clientAddress = request.socket.remoteAddress;
    return {
      request,
      response,
      method: request.method as HttpMethod,
      query,
      call: async (coreRequest) => {
        const started = performance.now();
        const answer = await this.#callRouter({
          ...coreRequest,
          ...(clientAddress === undefined ? {} : { clientAddress }),
        });
        this.#options.metrics.observeRequest({
          operation: coreRequest.operation,
          mount: answer.mountPath,
          code: answer.ok ? 'ok' : answer.code,
          seconds: (performance.now() - started) / 1000,
        });
        return answer;
      },
    };
  }

  /** One router request; the port promises never to throw, but a throw is still an answer. */
  async #callRouter(request: CoreRequest): Promise<CoreResponse> {
    try {
      return await this.#handle(request);
    } catch (error) {
      this.#options.log?.error('http_router_threw', { code: errorCode(error) });
      return {
        ok: false,
        requestId: request.requestId ?? randomUUID(),
        code: CoreErrorCode.internal,
        message: 'Retry later: the request failed inside the server (the server log has details)',
      };
    }
  }

  #fail(response: ServerResponse, error: unknown): void {
    const code = errorCode(error);
    this.#options.log?.error('http_request_failed', { code });
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const unavailable = code === ApiErrorCode.metricsUnavailable;
    sendError(response, {
      status: unavailable ? 503 : 500,
      code: unavailable ? ApiErrorCode.metricsUnavailable : ApiErrorCode.internal,
      message: unavailable
        ? 'Retry the scrape: the node could not report its state'
        : 'Retry later: the listener failed to answer (the server log has details)',
    });
  }
}

/** The `/graphql` route of `options` (whose `graphql` is set). */
function graphqlRouteOf(options: HttpListenerOptions): HttpRoute {
  const settings = options.graphql;
  assert(settings !== undefined);
  return graphqlRoute({
    settings,
    ...(options.metricsSnapshot === undefined ? {} : { metricsSnapshot: options.metricsSnapshot }),
    ...(options.log === undefined ? {} : { log: options.log }),
  });
}

/** A refusal before any route runs; `allow` is set on a 405. */
type EarlyRefusal = HttpRefusal & { readonly allow?: string };

/** The path and the query of a request target; the path is never decoded. */
function splitTarget(target: string): { readonly path: string; readonly query: URLSearchParams } {
  const mark = target.indexOf('?');
  return mark < 0
    ? { path: target, query: new URLSearchParams() }
    : { path: target.slice(0, mark), query: new URLSearchParams(target.slice(mark + 1)) };
}

/** Sends an early refusal; a too-large body also closes the connection (it was not read). */
function sendRefusal(response: ServerResponse, refusal: EarlyRefusal, headOnly: boolean): void {
  const closeConnection = refusal.code === ApiErrorCode.requestTooLarge;
  sendError(response, refusal, {
    headers: {
      ...(refusal.allow === undefined ? {} : { allow: refusal.allow }),
      ...(closeConnection ? { connection: 'close' } : {}),
    },
    headOnly,
  });
}

const routeNotFound: EarlyRefusal = {
  status: 404,
  code: ApiErrorCode.routeNotFound,
  message: `Check the path: this listener serves ${routesSummary}`,
};

/** Why a request is refused before its route runs: a wrong method or a body. */
function refuseRequest(
  request: IncomingMessage,
  context: { readonly route: HttpRoute; readonly requestBytesMax: number },
): EarlyRefusal | undefined {
  const route = context.route;
  const method = request.method ?? '';
  if (!knownMethods.has(method) || !route.methods.includes(method as HttpMethod)) {
    const allow = route.methods.join(', ');
    return {
      status: 405,
      code: ApiErrorCode.methodNotAllowed,
      message: `Send the request with ${route.methods.join(' or ')}`,
      allow,
    };
  }
  return refuseBody(request, route.bodyBytesMax ?? context.requestBytesMax, {
    bodyTaken: route.bodyBytesMax !== undefined,
  });
}

/**
 * A route that takes no body refuses any body, and closes the connection; one that takes a
 * body (`bodyTaken`) checks its size itself, declared or counted as it reads.
 */
function refuseBody(
  request: IncomingMessage,
  requestBytesMax: number,
  options: { readonly bodyTaken: boolean },
): EarlyRefusal | undefined {
  const length = request.headers['content-length'];
  const chunked = request.headers['transfer-encoding'] !== undefined;
  if (!chunked && (length === undefined || length === '0')) {
    return undefined;
  }
  if (options.bodyTaken) {
    // NB: the route refuses an oversized body itself, in its own answer shape.
    return undefined;
  }
  const tooLarge = length !== undefined && !(Number(length) <= requestBytesMax);
  return {
    status: 413,
    code: ApiErrorCode.requestTooLarge,
    message: tooLarge
      ? `Send at most ${String(requestBytesMax)} bytes of body`
      : 'Send the request without a body: this endpoint takes none',
  };
}

async function listen(server: Server, options: HttpListenerOptions): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    throw new ApiError(
      ApiErrorCode.listenFailed,
      `Choose a free address for the HTTP listener: "${options.host}:${String(options.port)}" ` +
        'could not be bound',
      { cause: error },
    );
  }
}

function tlsInvalid(cause: unknown): ApiError {
  return new ApiError(
    ApiErrorCode.tlsInvalid,
    'Check the HTTP listener TLS key and certificate: they do not load as a matching PEM pair',
    { cause },
  );
}

/** The code of an error, for logs: a COFFER_* or Node code, else its name. */
function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') {
      return code;
    }
    const name = (error as { name?: unknown }).name;
    return typeof name === 'string' ? name : 'unknown';
  }
  return 'unknown';
}
