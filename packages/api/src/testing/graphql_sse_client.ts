/**
 * Test support for GraphQL subscriptions: a client of one subscription over Server-Sent Events
 * as graphql-yoga serves it (graphql-sse's distinct connections mode: `POST /graphql` with
 * `Accept: text/event-stream`; `event: next` messages, `event: complete` at the end, `:`
 * pings), on node:https trusting the listener's certificate through the `ca` option, so no
 * process-wide trust setting is touched. It keeps the raw body for the canary scan and parses
 * whole SSE blocks only; waiting is the caller's (each test has its own deadlines).
 */
import type { ClientRequest } from 'node:http';
import { request } from 'node:https';

import type { WireGraphqlError } from './graphql_test_client.ts';

/** One `next` message: a result (top-level fields of object type), or an error that ends it. */
export interface SseMessage {
  readonly data?: Readonly<Record<string, Readonly<Record<string, unknown>> | null>> | null;
  readonly errors?: readonly WireGraphqlError[];
}

/** Where and as whom to subscribe. */
export interface SseSubscribeOptions {
  /** 127.0.0.1 when absent. */
  readonly host?: string;
  readonly port: number;
  readonly caPem: string | Buffer;
  readonly query: string;
  /** Sent as `Authorization: Bearer`; absent: no credentials. */
  readonly token?: string;
}

/** The cursor of a `clusterEvents` subscription: absent, from now. */
export interface ClusterEventsCursor {
  /** The last index the client has. */
  readonly after?: number;
  /** The epoch that index belongs to. */
  readonly epoch?: string;
}

const clusterEventFields = 'index epoch type time leaderId term peerId healthy leaseId';

/** The `Subscription.clusterEvents` document from `cursor`, with every event field. */
export function clusterEventsQuery(cursor: ClusterEventsCursor): string {
  const args = [
    cursor.after === undefined ? '' : `after: ${String(cursor.after)}`,
    cursor.epoch === undefined ? '' : `epoch: ${JSON.stringify(cursor.epoch)}`,
  ].filter((arg) => arg !== '');
  const cursorArgs = args.length === 0 ? '' : `(${args.join(', ')})`;
  return `subscription { clusterEvents${cursorArgs} { ${clusterEventFields} } }`;
}

/**
 * The whole SSE blocks of `body` from offset `from` (each ends with a blank line, which a
 * network chunk may split anywhere), and the offset after the last of them.
 */
export function wholeSseBlocks(
  body: string,
  from: number,
): { readonly blocks: string[]; readonly parsed: number } {
  const blocks: string[] = [];
  let parsed = from;
  for (;;) {
    const end = body.indexOf('\n\n', parsed);
    if (end === -1) {
      return { blocks, parsed };
    }
    blocks.push(body.slice(parsed, end));
    parsed = end + 2;
  }
}

/** One open subscription: its messages as they arrive, and how the stream ended. */
export class GraphqlSseClient {
  /** The `next` messages so far, in the order they came. */
  readonly messages: SseMessage[] = [];
  /** The raw SSE body so far, pings included. */
  body = '';
  /** The HTTP status; 0 until the answer's head arrives. */
  status = 0;
  /** The server sent `event: complete`. */
  completed = false;
  /** The connection ended, or failed. */
  ended = false;
  /** Where the body's first block not parsed yet starts. */
  #parsed = 0;
  readonly #request: ClientRequest;

  constructor(options: SseSubscribeOptions) {
    this.#request = request(
      {
        host: options.host ?? '127.0.0.1',
        port: options.port,
        path: '/graphql',
        method: 'POST',
        ca: options.caPem,
        agent: false,
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        },
      },
      (incoming) => {
        this.status = incoming.statusCode ?? 0;
        incoming.setEncoding('utf8');
        incoming.on('data', (chunk: string) => {
          this.#take(chunk);
        });
        incoming.on('end', () => {
          this.ended = true;
        });
        incoming.on('error', () => {
          this.ended = true;
        });
      },
    );
    this.#request.on('error', () => {
      this.ended = true;
    });
    this.#request.end(JSON.stringify({ query: options.query }));
  }

  /** The non-null values of the top-level `field` in the results so far. */
  events(field: string): Readonly<Record<string, unknown>>[] {
    return this.messages.flatMap((message) => {
      const value = message.data?.[field];
      return value === undefined || value === null ? [] : [value];
    });
  }

  /** The error codes sent so far ("none" for an error without one; a stream ends after one). */
  errorCodes(): string[] {
    return this.messages.flatMap((message) =>
      (message.errors ?? []).map((error) => error.extensions?.code ?? 'none'),
    );
  }

  /** Closes the connection, as a client that goes away. */
  close(): void {
    this.#request.destroy();
  }

  /** Parses each whole SSE block of the body once (`:` lines are pings). */
  #take(chunk: string): void {
    this.body += chunk;
    const { blocks, parsed } = wholeSseBlocks(this.body, this.#parsed);
    this.#parsed = parsed;
    for (const block of blocks) {
      const lines = block.split('\n');
      const event = lines.find((line) => line.startsWith('event: '))?.slice(7);
      const data = lines
        .find((line) => line.startsWith('data:'))
        ?.slice(5)
        .trim();
      if (event === 'next' && data !== undefined) {
        this.messages.push(JSON.parse(data) as SseMessage);
      }
      if (event === 'complete') {
        this.completed = true;
      }
    }
  }
}
