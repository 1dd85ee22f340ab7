/**
 * Test support for GraphQL subscriptions against real server processes: a client of the
 * `Subscription.clusterEvents` stream over Server-Sent Events as graphql-yoga serves it
 * (graphql-sse's distinct connections mode: `POST /graphql` with `Accept: text/event-stream`;
 * `event: next` messages, `event: complete` at the end, `:` pings), on node:https trusting the
 * listener's certificate through the `ca` option. It keeps every raw body for canary scans.
 * Every wait polls with a deadline.
 */
import type { ClientRequest } from 'node:http';
import { request } from 'node:https';

/** One event as the subscription sends it. */
export type ClusterEventMessage = Readonly<Record<string, unknown>> & {
  readonly index: number;
  readonly epoch: string;
  readonly type: string;
  readonly leaderId: string | null;
};

/** Where and as whom to subscribe, and from which cursor. */
export interface SubscribeOptions {
  /** The HTTP listener, `host:port`. */
  readonly address: string;
  readonly caPem: string | Buffer;
  readonly token: string;
  /** The last index the client has; absent: from now. */
  readonly after?: number;
  /** The epoch that index belongs to. */
  readonly epoch?: string;
}

interface WireMessage {
  readonly data?: { readonly clusterEvents?: ClusterEventMessage | null } | null;
  readonly errors?: readonly { readonly extensions?: { readonly code?: string } }[];
}

const eventFields = 'index epoch type time leaderId term peerId healthy leaseId';

/** Polls `condition` every 50 ms; throws after `deadlineMs`. */
async function pollUntil(
  what: string,
  condition: () => boolean,
  deadlineMs: number,
): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > until) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One open subscription to a node's cluster events. */
export class ClusterEventStream {
  readonly #messages: WireMessage[] = [];
  readonly #request: ClientRequest;
  /** The raw SSE body so far. */
  body = '';
  /** The server sent `complete`, or the connection ended. */
  ended = false;

  constructor(options: SubscribeOptions) {
    const args = [
      options.after === undefined ? '' : `after: ${String(options.after)}`,
      options.epoch === undefined ? '' : `epoch: ${JSON.stringify(options.epoch)}`,
    ].filter((arg) => arg !== '');
    const query = `subscription { clusterEvents${args.length === 0 ? '' : `(${args.join(', ')})`} { ${eventFields} } }`;
    const [host, port] = options.address.split(':');
    this.#request = request(
      {
        host,
        port: Number(port),
        path: '/graphql',
        method: 'POST',
        ca: options.caPem,
        agent: false,
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          authorization: `Bearer ${options.token}`,
        },
      },
      (incoming) => {
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
    this.#request.end(JSON.stringify({ query }));
  }

  #take(chunk: string): void {
    const start = this.body.length;
    this.body += chunk;
    const pending = this.body.slice(this.body.lastIndexOf('\n\n', start) + 2);
    for (const block of pending.split('\n\n').slice(0, -1)) {
      const lines = block.split('\n');
      const event = lines.find((line) => line.startsWith('event: '))?.slice(7);
      const data = lines
        .find((line) => line.startsWith('data:'))
        ?.slice(5)
        .trim();
      if (event === 'next' && data !== undefined) {
        this.#messages.push(JSON.parse(data) as WireMessage);
      }
      if (event === 'complete') {
        this.ended = true;
      }
    }
  }

  /** The events so far, in the order they came. */
  events(): ClusterEventMessage[] {
    return this.#messages.flatMap((message) => {
      const event = message.data?.clusterEvents;
      return event === undefined || event === null ? [] : [event];
    });
  }

  /** The error codes sent so far (a stream ends after one). */
  errorCodes(): string[] {
    return this.#messages.flatMap((message) =>
      (message.errors ?? []).map((error) => error.extensions?.code ?? 'none'),
    );
  }

  /** Waits for an event that `matches`; throws when the stream ends first or at the deadline. */
  async waitForEvent(
    what: string,
    matches: (event: ClusterEventMessage) => boolean,
    deadlineMs = 30_000,
  ): Promise<ClusterEventMessage> {
    await pollUntil(what, () => this.events().some(matches) || this.ended, deadlineMs);
    const found = this.events().find(matches);
    if (found === undefined) {
      throw new Error(`the stream ended before ${what}: ${this.errorCodes().join(', ')}`);
    }
    return found;
  }

  /** Closes the connection, as a client that goes away. */
  close(): void {
    this.#request.destroy();
  }
}

/** Subscribes to the cluster events of the node at `options.address`. */
export function subscribeClusterEvents(options: SubscribeOptions): ClusterEventStream {
  return new ClusterEventStream(options);
}
