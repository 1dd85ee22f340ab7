/**
 * The `/graphql` route of the HTTP listener: graphql-yoga over the schema whose every routed
 * field is one core router request (graphql_resolvers.ts).
 *
 * One request, in order, each step refusing before the next runs:
 *
 *   POST only (the listener) ─▶ Content-Type application/json (CSRF) ─▶ token header shape
 *     ─▶ body within graphql.request_bytes_max ─▶ yoga: tokens ─▶ parse ─▶ validate (graphql's
 *     rules, depth, cost, aliases, introspection) ─▶ execute: each routed field → exchange.call
 *
 * A subscription (`Accept: text/event-stream`) is answered as Server-Sent Events, streamed as
 * yoga makes them; each of its polls is one `exchange.call` outside the document's budget, and
 * the port's signal aborts when the client goes away, which stops the polls.
 *
 * CSRF: a browser sends `application/json` cross-site only after a CORS preflight, which this
 * listener never answers with CORS headers; GET, forms and multipart are refused, so no simple
 * request (a link, an image, a form) can run an operation with the operator's credentials.
 *
 * Invariant: the token, the body and the variables never reach a log line or an error message;
 * the server log gets codes only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { ServerLog } from '@coffer/core';
import type { GraphQLError } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';

import { NoSchemaIntrospectionCustomRule, Source } from './graphql_module.ts';
import { ApiError, ApiErrorCode } from '../errors.ts';
import type { RouterCall } from '../grpc/method_table.ts';
import type { HttpExchange, HttpRoute } from '../http/http_routes.ts';
import { requestToken } from '../http/http_routes.ts';
import type { MetricsSnapshot } from '../metrics/api_metrics.ts';
import { isRoutedField } from './field_routes.ts';
import { maskGraphqlError } from './graphql_errors.ts';
import { executableSchema, type GraphqlContext, type RouterPort } from './graphql_resolvers.ts';
import { parseWithinLimits, queryLimitsRule, type QueryLimits } from './query_limits.ts';

/** The `graphql` section of the server config, resolved. */
export interface GraphqlSettings extends QueryLimits {
  /** Serve `/graphql` at all. */
  readonly enabled: boolean;
  /** Answer `__schema` and `__type`; off by default (the schema file is public anyway). */
  readonly introspection: boolean;
  /** The largest body read; more is refused with 413 before it is parsed. */
  readonly requestBytesMax: number;
  /** Router requests one document may make (nested routed fields under lists add up). */
  readonly routerRequestsMax: number;
  /**
   * How long one poll of a subscription waits for an event (core caps it at its
   * `events.wait_ms_max`): a subscription whose token expires or is revoked ends within one.
   */
  readonly subscriptionWaitMs: number;
}

/** The defaults of {@link GraphqlSettings} (docs/server-config.md). */
export const graphqlSettingsDefault: GraphqlSettings = {
  enabled: true,
  introspection: false,
  requestBytesMax: 64 * 1024,
  tokensMax: 5000,
  depthMax: 8,
  costMax: 500,
  aliasesMax: 50,
  routerRequestsMax: 100,
  subscriptionWaitMs: 10_000,
};

/** What the route needs besides its settings. */
export interface GraphqlEndpointOptions {
  readonly settings: GraphqlSettings;
  /** The node's metrics for `Query.metrics`; absent: that field is refused. */
  readonly metricsSnapshot?: () => MetricsSnapshot;
  readonly log?: ServerLog;
}

/** The path of the endpoint. */
export const graphqlPath = '/graphql';

const commonHeaders = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

/**
 * Masks every error of every result once more before it is serialized. NB: yoga hands its
 * `maskError` the errors of execution and of the request, but sends validation errors (which
 * quote the document's literals, e.g. `Int cannot represent non-integer value: "…"`) as
 * graphql-js made them; masking is idempotent, so what was masked passes unchanged.
 */
function maskResultErrors(result: unknown): unknown {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    return result;
  }
  const errors = (result as { errors?: unknown }).errors;
  if (!Array.isArray(errors) || errors.length === 0) {
    return result;
  }
  return { ...result, errors: errors.map(maskGraphqlError) };
}

function safetyPlugin(settings: GraphqlSettings): Plugin {
  return {
    onResultProcess(payload) {
      payload.setResult(maskResultErrors(payload.result) as typeof payload.result);
    },
    onParse({ setParseFn }) {
      setParseFn((source: unknown) =>
        parseWithinLimits(
          typeof source === 'string' ? source : source instanceof Source ? source.body : '',
          settings.tokensMax,
        ),
      );
    },
    onValidate({ addValidationRule }) {
      addValidationRule(queryLimitsRule(settings, isRoutedField));
      if (!settings.introspection) {
        addValidationRule(NoSchemaIntrospectionCustomRule);
      }
    },
  };
}

function createGraphqlServer(options: GraphqlEndpointOptions) {
  return createYoga<GraphqlContext>({
    schema: executableSchema(),
    graphqlEndpoint: graphqlPath,
    cors: false,
    graphiql: false,
    landingPage: false,
    multipart: false,
    batching: false,
    logging: false,
    maskedErrors: {
      maskError: (error: unknown): GraphQLError => {
        const masked = maskGraphqlError(error);
        if (masked.extensions['code'] === ApiErrorCode.internal) {
          options.log?.error('graphql_internal_error', { code: errorName(error) });
        }
        return masked;
      },
    },
    plugins: [safetyPlugin(options.settings)],
  });
}

/** The class of an error for the log: never its message (it could quote a value). */
function errorName(error: unknown): string {
  const original = (error as { originalError?: unknown } | null)?.originalError ?? error;
  const code = (original as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    return code;
  }
  return original instanceof Error ? original.name : 'unknown';
}

/** Sends a refusal in GraphQL's response shape, before yoga ran. */
function sendRefusal(
  response: ServerResponse,
  refusal: { readonly status: number; readonly code: ApiErrorCode; readonly message: string },
): void {
  const text = `${JSON.stringify({ errors: [{ message: refusal.message, extensions: { code: refusal.code } }] })}\n`;
  response.writeHead(refusal.status, {
    ...commonHeaders,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(refusal.status === 413 ? { connection: 'close' } : {}),
  });
  response.end(text);
}

/** Whether the request says its body is JSON (`application/json`, parameters allowed). */
function isJsonRequest(request: IncomingMessage): boolean {
  const type = request.headers['content-type'] ?? '';
  return /^application\/json\s*(;.*)?$/i.test(type.trim());
}

/**
 * The media type the answer is asked in: `text/event-stream` (Server-Sent Events, graphql-sse's
 * distinct connections mode: subscriptions) when the client asks for it, else
 * `application/graphql-response+json` (request errors answer 4xx) when the client accepts it,
 * else `application/json` (they answer 200, the legacy GraphQL over HTTP way).
 */
function acceptOf(request: IncomingMessage): string {
  const accept = request.headers.accept ?? '';
  if (accept.length > 256) {
    return 'application/json';
  }
  if (accept.includes('text/event-stream')) {
    return eventStreamType;
  }
  return accept.includes('application/graphql-response+json')
    ? 'application/graphql-response+json'
    : 'application/json';
}

const eventStreamType = 'text/event-stream';

/** Resolves when `response` may take more data, or when it closed. */
function writable(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.once('drain', done);
    response.once('close', done);
  });
}

/**
 * Streams yoga's Server-Sent Events answer (a subscription's messages) as they come. When the
 * client goes away the stream is cancelled, which ends the subscription's source stream (it
 * stops after the poll it is waiting on).
 */
async function sendEventStream(answer: Response, response: ServerResponse): Promise<void> {
  response.writeHead(answer.status, {
    ...commonHeaders,
    'content-type': eventStreamType,
    connection: 'keep-alive',
  });
  response.flushHeaders();
  const reader = answer.body?.getReader();
  if (reader === undefined) {
    response.end();
    return;
  }
  const cancel = (): void => {
    reader.cancel().catch(() => undefined);
  };
  response.once('close', cancel);
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done || response.destroyed) {
        break;
      }
      if (!response.write(chunk.value)) {
        await writable(response);
      }
    }
  } catch {
    // NB: the stream failed after its headers went out: nothing can be answered any more.
    response.destroy();
    return;
  } finally {
    response.off('close', cancel);
  }
  response.end();
}

/** The body, or undefined once it passes `bytesMax` (the rest is not read) or the client left. */
function readBody(request: IncomingMessage, bytesMax: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > bytesMax) {
        request.off('data', onData);
        request.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    request.on('data', onData);
    request.once('end', () => {
      resolve(Buffer.concat(chunks));
    });
    request.once('error', reject);
    // NB: a client that goes away mid-body ends the wait; the answer then goes nowhere.
    request.once('close', () => {
      resolve(undefined);
    });
  });
}

/** The router port of one HTTP request: the caller's token, a budget of router requests. */
function routerPortOf(
  exchange: HttpExchange,
  options: GraphqlEndpointOptions & { readonly token: string | undefined },
): RouterPort {
  let requests = 0;
  const budget = options.settings.routerRequestsMax;
  const gone = new AbortController();
  exchange.response.once('close', () => {
    gone.abort();
  });
  return {
    signal: gone.signal,
    call: (call: RouterCall) => {
      requests += 1;
      if (requests > budget) {
        throw new ApiError(
          ApiErrorCode.queryTooComplex,
          `Split the document: it made more than ${budget} router requests`,
        );
      }
      return exchange.call({
        ...call,
        ...(options.token === undefined ? {} : { token: options.token }),
      });
    },
    poll: (call: RouterCall) =>
      exchange.call({
        ...call,
        ...(options.token === undefined ? {} : { token: options.token }),
      }),
    pollWaitMs: options.settings.subscriptionWaitMs,
    metricsSnapshot: options.metricsSnapshot,
  };
}

type Refusal = Parameters<typeof sendRefusal>[1];

function refuseHeaders(request: IncomingMessage): Refusal | undefined {
  if (!isJsonRequest(request)) {
    return {
      status: 415,
      code: ApiErrorCode.invalidRequest,
      message: 'Send the document as a POST with "Content-Type: application/json"',
    };
  }
  return undefined;
}

async function serveGraphql(
  exchange: HttpExchange,
  context: { readonly options: GraphqlEndpointOptions; readonly yoga: YogaServer },
): Promise<void> {
  const { request, response } = exchange;
  const { options } = context;
  const token = requestToken(request);
  const refusal = refuseHeaders(request);
  if (refusal !== undefined) {
    sendRefusal(response, refusal);
    return;
  }
  const bytesMax = options.settings.requestBytesMax;
  const declared = request.headers['content-length'];
  const body =
    declared !== undefined && !(Number(declared) <= bytesMax)
      ? undefined
      : await readBody(request, bytesMax);
  if (body === undefined) {
    sendRefusal(response, {
      status: 413,
      code: ApiErrorCode.requestTooLarge,
      message: `Send at most ${bytesMax} bytes of GraphQL request body`,
    });
    return;
  }
  const answer = await context.yoga.fetch(
    `https://coffer.invalid${graphqlPath}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: acceptOf(request) },
      body: body.toString('utf8'),
    },
    { coffer: routerPortOf(exchange, { ...options, token }) },
  );
  if (answer.status === 406) {
    // NB: yoga answers 406, with no body, a stream (a subscription) asked as one JSON answer.
    await answer.body?.cancel();
    sendRefusal(response, {
      status: 406,
      code: ApiErrorCode.invalidRequest,
      message: 'Ask for a subscription with "Accept: text/event-stream" (Server-Sent Events)',
    });
    return;
  }
  if ((answer.headers.get('content-type') ?? '').startsWith(eventStreamType)) {
    await sendEventStream(answer, response);
    return;
  }
  const text = await answer.text();
  response.writeHead(answer.status, {
    ...commonHeaders,
    'content-type': answer.headers.get('content-type') ?? 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

type YogaServer = ReturnType<typeof createGraphqlServer>;

/** The `/graphql` route over yoga; its body limit is the settings' `requestBytesMax`. */
export function graphqlRoute(options: GraphqlEndpointOptions): HttpRoute {
  const yoga = createGraphqlServer(options);
  return {
    path: graphqlPath,
    methods: ['POST'],
    bodyBytesMax: options.settings.requestBytesMax,
    serve: (exchange) => serveGraphql(exchange, { options, yoga }),
  };
}
