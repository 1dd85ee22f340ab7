/**
 * Goal: `Subscription.clusterEvents` over Server-Sent Events on a real node gives a token what
 * `read sys/events` gives it through the router, and nothing more (issue 10 items 1 and 4):
 * events come in index order with their epoch; a client that reconnects with its last index
 * gets every event since, none twice; a cursor the node no longer holds, a token without read
 * on sys/events and an expired token get an error and the stream ends; an open subscription
 * ends with an error when its token is revoked or expires, and when the node is sealed; a
 * client that goes away stops the polls; no message holds a canary secret, a token or a share.
 * Method: a real single-voter CofferNode on LevelDB (testing/test_node.ts) whose wall clock the
 * test moves forward, behind an HttpListener with GraphQL on (subscription polls of 200 ms);
 * the SSE client of testing/graphql_sse_client.ts (graphql-sse's distinct connections mode: POST
 * with `Accept: text/event-stream`, `event: next` / `event: complete` messages) on node:https.
 * Waits are polled with deadlines; no sleeps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TlsMaterial } from '@coffer/core';

import type { HttpListener } from '../http/http_listener.ts';
import {
  clusterEventsQuery,
  GraphqlSseClient,
  type ClusterEventsCursor,
} from '../testing/graphql_sse_client.ts';
import { openGraphqlServer, type GraphqlServer } from '../testing/graphql_server.ts';
import type { GraphqlReply, GraphqlTestClient } from '../testing/graphql_test_client.ts';
import { testDeadlineMs, waitUntil, type TestInit, type TestNode } from '../testing/test_node.ts';
import { graphqlSettingsDefault } from './graphql_endpoint.ts';

const canarySecret = 'canary-secret-52d90e1a';
const hourMs = 60 * 60 * 1000;

let server: GraphqlServer;
let testNode: TestNode;
let tls: TlsMaterial;
let listener: HttpListener;
let client: GraphqlTestClient;
let init: TestInit;
let wallOffsetMs = 0;
/** sys/events requests the listener sent to the node, and those not answered yet. */
const polls = { sent: 0, inFlight: 0 };
/** Every SSE body of this file, for the canary scan. */
const streams: GraphqlSseClient[] = [];

/** Subscribes to `clusterEvents` from the cursor in `options`; the stream joins the canary scan. */
function subscribe(options: ClusterEventsCursor & { token?: string }): GraphqlSseClient {
  const stream = new GraphqlSseClient({
    port: listener.port,
    caPem: tls.certPem,
    query: clusterEventsQuery(options),
    ...(options.token === undefined ? {} : { token: options.token }),
  });
  streams.push(stream);
  return stream;
}

/** The events `stream` received so far. */
function eventsOf(stream: GraphqlSseClient): Readonly<Record<string, unknown>>[] {
  return stream.events('clusterEvents');
}

/** Waits until an event of `type` arrived on `stream`; answers every event so far. */
async function eventsUntil(
  stream: GraphqlSseClient,
  type: string,
): Promise<Readonly<Record<string, unknown>>[]> {
  await waitUntil(`a ${type} event`, () =>
    eventsOf(stream).some((event) => event['type'] === type),
  );
  return eventsOf(stream);
}

/** Waits until the server ended `stream`; answers the error code of its last message. */
async function endCode(stream: GraphqlSseClient): Promise<string | undefined> {
  await waitUntil('the end of the subscription', () => stream.completed && stream.ended);
  return stream.messages.at(-1)?.errors?.[0]?.extensions?.code;
}

async function asRoot(query: string, variables?: Record<string, unknown>): Promise<GraphqlReply> {
  const reply = await client.send({
    query,
    token: init.rootToken,
    ...(variables === undefined ? {} : { variables }),
  });
  expect(reply.errors, reply.body).toEqual([]);
  return reply;
}

/** Every token this file made, for the canary scan. */
const createdTokens: string[] = [];

async function createToken(policies: readonly string[], ttl: string): Promise<string> {
  const reply = await asRoot(
    'mutation($input: TokenCreateInput!) { createToken(input: $input) { clientToken } }',
    { input: { policies, ttl } },
  );
  const token = (reply.data?.['createToken'] as { clientToken: string }).clientToken;
  createdTokens.push(token);
  return token;
}

async function revokeToken(token: string): Promise<void> {
  await asRoot('mutation($t: String!) { revokeToken(token: $t) { warnings } }', { t: token });
}

beforeAll(async () => {
  server = await openGraphqlServer({
    wallClockMs: () => Date.now() + wallOffsetMs,
    graphql: { ...graphqlSettingsDefault, subscriptionWaitMs: 200 },
    canarySecret,
    handler: (node) => async (coreRequest) => {
      const poll = coreRequest.path === 'sys/events';
      polls.sent += poll ? 1 : 0;
      polls.inFlight += poll ? 1 : 0;
      try {
        return await node.handle(coreRequest);
      } finally {
        polls.inFlight -= poll ? 1 : 0;
      }
    },
  });
  ({ testNode, tls, listener, client, init } = server);
  await asRoot(
    'mutation($text: String!) { writePolicy(name: "events", text: $text) { warnings } }',
    { text: 'path "sys/events" { capabilities = ["read"] }' },
  );
}, testDeadlineMs);

afterAll(async () => {
  for (const stream of streams) {
    stream.close();
  }
  await server.close();
});

describe('Subscription.clusterEvents over SSE', () => {
  let lastIndex = 0;
  let epoch = '';

  it('sends the events from an index in order, then resumes after a reconnect', async () => {
    const first = subscribe({ token: init.rootToken, after: 0 });
    const [leader] = await eventsUntil(first, 'LEADER_CHANGE');
    expect(leader).toMatchObject({ index: 1, type: 'LEADER_CHANGE', leaderId: '1' });
    epoch = String(leader?.['epoch']);
    const token = await createToken(['default'], '1h');
    await revokeToken(token);
    const events = await eventsUntil(first, 'LEASE_REVOKED');
    const revoked = events.find((event) => event['type'] === 'LEASE_REVOKED');
    expect(JSON.stringify(events)).not.toContain(token);
    expect(revoked?.['leaseId']).toMatch(/^auth\/token\/create\//);
    expect(events.map((event) => event['index'])).toEqual(events.map((_, i) => i + 1));
    expect(new Set(events.map((event) => event['epoch']))).toEqual(new Set([epoch]));
    lastIndex = Number(events.at(-1)?.['index']);
    first.close();
    await waitUntil('the first stream to close', () => first.ended);

    await revokeToken(await createToken(['default'], '1h'));
    const resumed = subscribe({ token: init.rootToken, after: lastIndex, epoch });
    const [next] = await eventsUntil(resumed, 'LEASE_REVOKED');
    expect(next).toMatchObject({ index: lastIndex + 1, epoch, type: 'LEASE_REVOKED' });
    lastIndex += 1;
    resumed.close();
  });

  it('stops polling once the client goes away', async () => {
    const before = polls.sent;
    const open = subscribe({ token: init.rootToken });
    await waitUntil('three polls', () => polls.sent >= before + 3);
    open.close();
    // NB: the poll in flight answers within its 200 ms wait; then no other may start.
    let seen = polls.sent;
    let stableSince = performance.now();
    await waitUntil('polls to stop for a second', () => {
      if (polls.sent !== seen || polls.inFlight > 0) {
        seen = polls.sent;
        stableSince = performance.now();
      }
      return performance.now() - stableSince > 1000;
    });
    expect(polls.sent - before).toBeLessThan(20);
  });

  it('refuses a subscription asked without text/event-stream with COFFER_API_INVALID_REQUEST', async () => {
    const reply = await client.send({
      query: 'subscription { clusterEvents { index } }',
      token: init.rootToken,
    });
    expect(reply.status).toBe(406);
    expect(reply.errors.map((error) => error.extensions?.code)).toEqual([
      'COFFER_API_INVALID_REQUEST',
    ]);
  });

  it('ends with COFFER_CORE_EVENTS_INDEX_EXPIRED for a cursor of another epoch', async () => {
    const stale = subscribe({ token: init.rootToken, after: 1, epoch: 'another-process' });
    expect(await endCode(stale)).toBe('COFFER_CORE_EVENTS_INDEX_EXPIRED');
    expect(eventsOf(stale)).toEqual([]);
  });

  it('refuses a token without read on sys/events, and none', async () => {
    const other = await createToken(['default'], '1h');
    for (const token of [other, undefined]) {
      const refused = subscribe(token === undefined ? {} : { token });
      expect(await endCode(refused)).toBe('COFFER_CORE_PERMISSION_DENIED');
      expect(refused.status).toBe(200);
    }
  });

  it('ends an open subscription when its token is revoked', async () => {
    const token = await createToken(['events'], '1h');
    const open = subscribe({ token, after: lastIndex });
    await waitUntil('the first poll', () => open.body.length > 0);
    await revokeToken(token);
    expect(await endCode(open)).toBe('COFFER_CORE_PERMISSION_DENIED');
    // NB: its own token's lease may come first: the revocation wakes the poll.
    expect(eventsOf(open).every((event) => event['type'] === 'LEASE_REVOKED')).toBe(true);
  });

  it('refuses an expired token, and ends an open subscription when its token expires', async () => {
    const expiring = await createToken(['events'], '1h');
    const later = await createToken(['events'], '1h');
    const open = subscribe({ token: later });
    await waitUntil('the first poll', () => open.body.length > 0);
    wallOffsetMs += 2 * hourMs;
    expect(await endCode(subscribe({ token: expiring }))).toBe('COFFER_CORE_PERMISSION_DENIED');
    expect(await endCode(open)).toBe('COFFER_CORE_PERMISSION_DENIED');
  });

  it('ends when the node is sealed, and resumes after unseal with seal, unseal and leader change', async () => {
    const cursor = subscribe({ token: init.rootToken, after: lastIndex });
    await waitUntil('the first poll', () => cursor.body.length > 0);
    await asRoot('mutation { seal { warnings } }');
    expect(await endCode(cursor)).toBe('COFFER_CORE_SEALED');
    const seen = eventsOf(cursor);
    const resumeAfter = Number(seen.at(-1)?.['index'] ?? lastIndex);
    await testNode.unseal(init.shares);
    const resumed = subscribe({ token: init.rootToken, after: resumeAfter, epoch });
    const events = await (async () => {
      await waitUntil('the leader change after unseal', () =>
        eventsOf(resumed).some((event) => event['type'] === 'LEADER_CHANGE'),
      );
      return [...seen, ...eventsOf(resumed)];
    })();
    // NB: leases of the tokens the previous test let expire may be revoked at any point.
    const types = events.map((event) => event['type']).filter((type) => type !== 'LEASE_REVOKED');
    expect(types).toEqual(['SEALED', 'UNSEALED', 'LEADER_CHANGE']);
    expect(events.map((event) => event['index'])).toEqual(events.map((_, i) => lastIndex + 1 + i));
    resumed.close();
  });
});

describe('the canary scan of the event streams', () => {
  it('no message holds a canary secret, a token, a share or a stack trace', () => {
    expect(streams.length).toBeGreaterThan(8);
    const forbidden = [canarySecret, init.rootToken, ...init.shares, ...createdTokens];
    for (const stream of streams) {
      for (const secret of forbidden) {
        expect(stream.body.includes(secret)).toBe(false);
      }
      expect(stream.body).not.toMatch(/"stack"|node_modules|\.ts:\d|originalError/);
    }
  });
});
