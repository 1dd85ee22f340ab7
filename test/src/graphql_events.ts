/**
 * Test support for GraphQL subscriptions against real server processes: the
 * `Subscription.clusterEvents` stream of a node's HTTP listener, over the SSE client of
 * @coffer/api/testing (graphql-yoga's distinct connections mode, on node:https trusting the
 * listener's certificate through the `ca` option). It keeps every raw body for canary scans.
 * Every wait polls with a deadline.
 */
import { clusterEventsQuery, GraphqlSseClient } from '@coffer/api/testing';

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
  readonly #client: GraphqlSseClient;

  constructor(options: SubscribeOptions) {
    const [host, port] = options.address.split(':');
    this.#client = new GraphqlSseClient({
      ...(host === undefined ? {} : { host }),
      port: Number(port),
      caPem: options.caPem,
      token: options.token,
      query: clusterEventsQuery(options),
    });
  }

  /** The raw SSE body so far. */
  get body(): string {
    return this.#client.body;
  }

  /** The server sent `complete`, or the connection ended. */
  get ended(): boolean {
    return this.#client.completed || this.#client.ended;
  }

  /** The events so far, in the order they came. */
  events(): ClusterEventMessage[] {
    return this.#client.events('clusterEvents') as ClusterEventMessage[];
  }

  /** The error codes sent so far (a stream ends after one). */
  errorCodes(): string[] {
    return this.#client.errorCodes();
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
    this.#client.close();
  }
}

/** Subscribes to the cluster events of the node at `options.address`. */
export function subscribeClusterEvents(options: SubscribeOptions): ClusterEventStream {
  return new ClusterEventStream(options);
}
