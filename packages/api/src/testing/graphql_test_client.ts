/**
 * Test support for the GraphQL endpoint: a GraphQL-over-HTTP client on node:https that trusts
 * the listener's self-signed certificate (the `ca` option, as http_listener.test.ts does, so no
 * process-wide trust setting is touched), sends `POST /graphql` with a JSON body and keeps
 * every raw answer for the canary scan. It speaks the GraphQL over HTTP wire format any client
 * library speaks: `{query, variables}` in, `{data, errors}` out.
 */
import { request } from 'node:https';

/** One GraphQL error as the wire carries it. */
export interface WireGraphqlError {
  readonly message: string;
  readonly path?: readonly (string | number)[];
  readonly extensions?: { readonly code?: string } & Readonly<Record<string, unknown>>;
}

/** One answer. */
export interface GraphqlReply {
  readonly status: number;
  readonly body: string;
  readonly data: Readonly<Record<string, unknown>> | null | undefined;
  readonly errors: readonly WireGraphqlError[];
}

/** How to send one request. */
export interface GraphqlAsk {
  readonly query?: string;
  readonly variables?: Readonly<Record<string, unknown>>;
  /** Sent as `Authorization: Bearer`, or as X-Coffer-Token when `tokenHeader` is "x-coffer". */
  readonly token?: string;
  readonly tokenHeader?: 'bearer' | 'x-coffer';
  /** Replaces the JSON body (malformed-input tests). */
  readonly rawBody?: string;
  readonly method?: string;
  readonly contentType?: string;
}

/** A client of one listener. */
export class GraphqlTestClient {
  readonly #port: number;
  readonly #caPem: string;
  /** Every raw answer body, for a canary scan. */
  readonly bodies: string[] = [];

  constructor(port: number, caPem: string) {
    this.#port = port;
    this.#caPem = caPem;
  }

  /** Sends `ask` and parses the answer (a body that is not JSON gives data undefined). */
  async send(ask: GraphqlAsk): Promise<GraphqlReply> {
    const body =
      ask.method === 'GET'
        ? ''
        : (ask.rawBody ?? JSON.stringify({ query: ask.query, variables: ask.variables }));
    const headers: Record<string, string> = {
      'content-type': ask.contentType ?? 'application/json',
      // NB: what current GraphQL clients send: request errors then answer 4xx.
      accept: 'application/graphql-response+json, application/json',
    };
    if (ask.token !== undefined) {
      if (ask.tokenHeader === 'x-coffer') {
        headers['x-coffer-token'] = ask.token;
      } else {
        headers['authorization'] = `Bearer ${ask.token}`;
      }
    }
    const { status, text } = await this.#exchange({ method: ask.method ?? 'POST', headers, body });
    this.bodies.push(text);
    let parsed: { data?: Record<string, unknown> | null; errors?: WireGraphqlError[] } = {};
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      // NB: the caller checks `status` and `body`.
    }
    return { status, body: text, data: parsed.data, errors: parsed.errors ?? [] };
  }

  #exchange(outgoing: {
    readonly method: string;
    readonly headers: Record<string, string>;
    readonly body: string;
  }): Promise<{ readonly status: number; readonly text: string }> {
    return new Promise((resolve, reject) => {
      const sending = request(
        {
          host: '127.0.0.1',
          port: this.#port,
          path: '/graphql',
          method: outgoing.method,
          headers: { ...outgoing.headers, 'content-length': Buffer.byteLength(outgoing.body) },
          ca: this.#caPem,
          agent: false,
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('error', reject);
          incoming.on('end', () => {
            resolve({
              status: incoming.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      // NB: a refusal may close the connection before the whole body is written.
      sending.on('error', reject);
      sending.end(outgoing.body);
    });
  }
}

/** The `extensions.code` of the error at `path` (a top-level field name), if any. */
export function errorCodeAt(reply: GraphqlReply, field: string): string | undefined {
  return reply.errors.find((error) => error.path?.[0] === field)?.extensions?.code;
}
