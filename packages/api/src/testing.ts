/**
 * Test support of @coffer/api for other workspaces' tests (the "./testing" export, STYLE.md
 * 1.3): a client of GraphQL subscriptions over Server-Sent Events.
 */
export {
  clusterEventsQuery,
  GraphqlSseClient,
  type ClusterEventsCursor,
  type SseMessage,
  type SseSubscribeOptions,
} from './testing/graphql_sse_client.ts';
