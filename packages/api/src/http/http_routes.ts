/**
 * The HTTP listener's route table: Vault's status endpoints and the Prometheus scrape. Each
 * route is a path, its methods and a function that answers one exchange; the GraphQL endpoint
 * (graphql/graphql_endpoint.ts) is one more entry, added by the listener when configured.
 *
 * Every router request a route makes goes through `exchange.call`, which the listener times
 * and counts in the request metrics under the mount core reports (`mountPath`), as the gRPC
 * adapter does, so one request counts alike whichever API carried it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { CoreRequest, CoreResponse } from '@coffer/core';

import { ApiError, ApiErrorCode } from '../errors.ts';
import type { ApiMetrics } from '../metrics/api_metrics.ts';
import { routableToken } from '../token_value.ts';
import {
  healthBody,
  healthStatusCode,
  parseHealthQuery,
  parseStatusView,
  sealStatusBody,
  type StatusView,
} from './health_status.ts';
import { sendError, sendJson, sendText, type HttpRefusal } from './http_reply.ts';
import { httpStatusOfCoreCode } from './http_status.ts';

/** The methods the listener knows. */
export type HttpMethod = 'GET' | 'HEAD' | 'POST';

/** One request as a route sees it. */
export interface HttpExchange {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly method: HttpMethod;
  readonly query: URLSearchParams;
  /** Sends one request to the core router, timed and counted in the request metrics. */
  call(request: CoreRequest): Promise<CoreResponse>;
}

/** One entry of the route table. */
export interface HttpRoute {
  /** The exact request path (no decoding, no trailing slash). */
  readonly path: string;
  readonly methods: readonly HttpMethod[];
  /**
   * The largest body the route reads itself (GraphQL); absent: the route takes no body and the
   * listener refuses any.
   */
  readonly bodyBytesMax?: number;
  /** Answers the exchange; a throw is answered with a 500 by the listener. */
  serve(exchange: HttpExchange): Promise<void>;
}

/** What the routes need from the listener's options. */
export interface RouteSettings {
  readonly metrics: ApiMetrics;
  readonly metricsUnauthenticated: boolean;
  readonly version: string;
  readonly wallClockMs: () => number;
}

/** The refusal for a core failure: its mapped status, its code and its message. */
export function coreRefusal(response: Extract<CoreResponse, { ok: false }>): HttpRefusal {
  return {
    status: httpStatusOfCoreCode(response.code),
    code: response.code,
    message: response.message,
  };
}

/** Reads the node state through the router; throws when core answers something unexpected. */
async function readStatus(exchange: HttpExchange, path: string): Promise<StatusView | HttpRefusal> {
  const response = await exchange.call({ operation: 'read', path });
  if (!response.ok) {
    return coreRefusal(response);
  }
  const view = parseStatusView(response.data);
  if (view === undefined) {
    throw new ApiError(ApiErrorCode.internal, `Report a bug: core's "${path}" data is malformed`);
  }
  return view;
}

function isRefusal(value: StatusView | HttpRefusal): value is HttpRefusal {
  return 'code' in value;
}

async function serveHealth(exchange: HttpExchange, settings: RouteSettings): Promise<void> {
  const headOnly = exchange.method === 'HEAD';
  const query = parseHealthQuery(exchange.query);
  if (!query.ok) {
    const refusal = { status: 400, code: ApiErrorCode.invalidRequest, message: query.message };
    sendError(exchange.response, refusal, { headOnly });
    return;
  }
  const view = await readStatus(exchange, 'sys/health');
  if (isRefusal(view)) {
    sendError(exchange.response, view, { headOnly });
    return;
  }
  const body = healthBody(view, { version: settings.version, nowMs: settings.wallClockMs() });
  sendJson(exchange.response, { status: healthStatusCode(view, query.codes), body }, { headOnly });
}

async function serveSealStatus(exchange: HttpExchange, settings: RouteSettings): Promise<void> {
  const view = await readStatus(exchange, 'sys/seal-status');
  if (isRefusal(view)) {
    sendError(exchange.response, view);
    return;
  }
  const body = sealStatusBody(view, { version: settings.version, nowMs: settings.wallClockMs() });
  sendJson(exchange.response, { status: 200, body });
}

/** Token header names; Node lower-cases them. */
const tokenHeader = 'x-coffer-token';
const bearerPattern = /^Bearer[ ]+(\S+)[ ]*$/i;

/**
 * The caller's token from `X-Coffer-Token`, else `Authorization: Bearer`, as the router gets it
 * (token_value.ts); undefined if none.
 */
export function requestToken(request: IncomingMessage): string | undefined {
  const header = request.headers[tokenHeader];
  if (typeof header === 'string' && header !== '') {
    return routableToken(header);
  }
  const authorization = request.headers.authorization;
  const match = authorization === undefined ? null : bearerPattern.exec(authorization);
  return match?.[1] === undefined ? undefined : routableToken(match[1]);
}

async function serveMetrics(exchange: HttpExchange, settings: RouteSettings): Promise<void> {
  if (!settings.metricsUnauthenticated) {
    const token = requestToken(exchange.request);
    if (token === undefined) {
      sendError(exchange.response, {
        status: 401,
        code: ApiErrorCode.tokenMissing,
        message:
          'Send a token with read on "sys/metrics" in the X-Coffer-Token header or as ' +
          '"Authorization: Bearer <token>"',
      });
      return;
    }
    const response = await exchange.call({ operation: 'read', path: 'sys/metrics', token });
    if (!response.ok) {
      sendError(exchange.response, coreRefusal(response));
      return;
    }
  }
  const text = await settings.metrics.render();
  sendText(exchange.response, { status: 200, text }, settings.metrics.contentType);
}

/** The status and metrics routes over `settings`. */
export function statusRoutes(settings: RouteSettings): readonly HttpRoute[] {
  return [
    {
      path: '/v1/sys/health',
      methods: ['GET', 'HEAD'],
      serve: (exchange) => serveHealth(exchange, settings),
    },
    {
      path: '/v1/sys/seal-status',
      methods: ['GET'],
      serve: (exchange) => serveSealStatus(exchange, settings),
    },
    {
      path: '/v1/sys/metrics',
      methods: ['GET'],
      serve: (exchange) => serveMetrics(exchange, settings),
    },
  ];
}
