/**
 * A real single-voter node behind an HttpListener with GraphQL on, initialized and unsealed,
 * with a GraphQL client trusting the listener's certificate: the set-up of this package's
 * GraphQL tests. A canary secret is written at `secret/data/canary` so each test file can scan
 * every answer for it.
 */
import type { TlsMaterial } from '@coffer/core';

import type { GraphqlSettings } from '../graphql/graphql_endpoint.ts';
import { HttpListener, type CoreRequestHandler } from '../http/http_listener.ts';
import { ApiMetrics } from '../metrics/api_metrics.ts';
import { GraphqlTestClient } from './graphql_test_client.ts';
import { createTestTls, openTestNode, type TestInit, type TestNode } from './test_node.ts';

/** What {@link openGraphqlServer} started. */
export interface GraphqlServer {
  readonly testNode: TestNode;
  readonly tls: TlsMaterial;
  readonly metrics: ApiMetrics;
  readonly listener: HttpListener;
  readonly client: GraphqlTestClient;
  readonly init: TestInit;
  /** Closes the listener, the metrics and the node. */
  close(): Promise<void>;
}

/** Options of {@link openGraphqlServer}. */
export interface GraphqlServerOptions {
  /** The node's wall clock (see openTestNode). */
  readonly wallClockMs: () => number;
  readonly graphql: GraphqlSettings;
  /** The canary value written at `secret/data/canary`. */
  readonly canarySecret: string;
  /** Wraps the node's handler (to count requests); default: the node itself. */
  readonly handler?: (node: TestNode['node']) => CoreRequestHandler;
}

/** Starts the node and the listener, initializes and unseals, and writes the canary. */
export async function openGraphqlServer(options: GraphqlServerOptions): Promise<GraphqlServer> {
  const testNode = await openTestNode({ wallClockMs: options.wallClockMs });
  const tls = await createTestTls();
  const metrics = new ApiMetrics({ source: { snapshot: () => testNode.node.metrics() } });
  const listener = await HttpListener.start({
    handler: options.handler?.(testNode.node) ?? testNode.node,
    host: '127.0.0.1',
    port: 0,
    tls,
    metrics,
    metricsUnauthenticated: false,
    graphql: options.graphql,
    metricsSnapshot: () => testNode.node.metrics(),
  });
  const client = new GraphqlTestClient(listener.port, tls.certPem);
  const init = await testNode.initAndUnseal();
  const put = await testNode.node.handle({
    operation: 'update',
    path: 'secret/data/canary',
    token: init.rootToken,
    data: { data: { value: options.canarySecret } },
  });
  if (!put.ok) {
    throw new Error(`the canary write failed: ${put.code}`);
  }
  return {
    testNode,
    tls,
    metrics,
    listener,
    client,
    init,
    close: async () => {
      await listener.close(1000);
      metrics.close();
      await testNode.close();
    },
  };
}
