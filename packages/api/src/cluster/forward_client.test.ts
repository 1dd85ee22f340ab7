/**
 * Goal: ForwardClient gets the router's answer from the node it names over mutual TLS, refuses
 * a server whose certificate names another node, and tells a retryable failure (unreachable,
 * deadline) from a final one (refused, nonsense answer); its leader stream comes back after the
 * peer does.
 *
 * Method: real ClusterServers with the Forward service on loopback mutual TLS
 * (cluster_tls_fixture.ts); peers are "down" when their server is closed. Reconnection backoff
 * runs on a ManualTimer the test fires; every wait is a condition with a deadline.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { status } from '@grpc/grpc-js';

import type { CoreRequest, CoreResponse } from '@coffer/core';

import { waitUntil } from '../testing/test_node.ts';
import { ClusterServer } from './cluster_server.ts';
import type { FixtureClusterTls } from './cluster_tls_fixture.ts';
import { createClusterTlsFixture, type ClusterTlsFixture } from './cluster_tls_fixture.ts';
import { ForwardClient, ForwardError } from './forward_client.ts';
import {
  forwardServiceDefinition,
  ForwardService,
  LeaderChanges,
  type LeaderChange,
} from './forward_service.ts';
import { ManualTimer } from './raft_transport_harness.ts';

const token = 'hvs.forward-client-token-do-not-print';

let fixture: ClusterTlsFixture;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  fixture = await createClusterTlsFixture({ nodeIds: [1, 2, 3] });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

interface ForwardNode {
  readonly server: ClusterServer;
  readonly handled: CoreRequest[];
  readonly leaders: LeaderChanges;
}

async function startForwardNode(
  tls: FixtureClusterTls,
  answer: (request: CoreRequest) => Promise<CoreResponse> = (request) =>
    Promise.resolve({ ok: true, requestId: request.requestId ?? '', data: { node: tls.nodeId } }),
): Promise<ForwardNode> {
  const server = new ClusterServer({ clusterTls: tls, host: '127.0.0.1', port: 0 });
  const handled: CoreRequest[] = [];
  const leaders = new LeaderChanges();
  const service = new ForwardService({
    leaders,
    handle: (request) => {
      handled.push(request);
      return answer(request);
    },
  });
  server.addService(forwardServiceDefinition, service.implementation());
  await server.start();
  cleanups.push(() => server.close());
  return { server, handled, leaders };
}

async function clientOf(
  nodeId: number,
  addresses: ReadonlyMap<number, string>,
  options: { readonly timer?: ManualTimer; readonly tls?: FixtureClusterTls } = {},
): Promise<ForwardClient> {
  const timer = options.timer ?? new ManualTimer();
  const client = new ForwardClient({
    clusterTls: options.tls ?? (await fixture.tlsFor(nodeId)),
    resolve: (id) => addresses.get(id),
    timer,
    randomInt: () => 0,
  });
  cleanups.push(() => {
    client.close();
  });
  return client;
}

function request(requestId: string): CoreRequest {
  return { operation: 'update', path: 'secret/data/app', token, requestId, data: { v: 1 } };
}

async function forwardFailure(promise: Promise<unknown>): Promise<ForwardError> {
  const error: unknown = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ForwardError);
  return error as ForwardError;
}

describe('ForwardClient.forward', () => {
  it('returns the named node’s answer and reuses its channel', async () => {
    const two = await startForwardNode(await fixture.tlsFor(2));
    const one = await clientOf(1, new Map([[2, two.server.address]]));
    for (const id of ['r-1', 'r-2']) {
      const response = await one.forward(2, request(id), { deadlineMs: 10_000 });
      expect(response).toEqual({ ok: true, requestId: id, data: { node: 2 } });
    }
    expect(two.handled.map((handled) => handled.requestId)).toEqual(['r-1', 'r-2']);
    expect(one.stats()).toMatchObject({ forwardsSent: 2, forwardsAnswered: 2, channelsOpened: 1 });
  });

  it('refuses a server whose certificate names another node, retryably', async () => {
    // Node 3 listens where node 1 believes node 2 is (a stale address).
    const three = await startForwardNode(await fixture.tlsFor(3));
    const one = await clientOf(1, new Map([[2, three.server.address]]));
    const failure = await forwardFailure(one.forward(2, request('r-1'), { deadlineMs: 10_000 }));
    expect(failure).toMatchObject({ reason: 'unavailable', retryable: true, peerId: 2 });
    expect(failure.message).not.toContain(token);
    expect(one.stats().serversRefused).toBeGreaterThan(0);
    expect(three.handled).toEqual([]);
  });

  it('fails retryably while the node is down, and reaches it again at its new address', async () => {
    const tls = await fixture.tlsFor(2);
    const first = await startForwardNode(tls);
    const addresses = new Map([[2, first.server.address]]);
    const one = await clientOf(1, addresses);
    await one.forward(2, request('r-1'), { deadlineMs: 10_000 });
    await first.server.close();

    const down = await forwardFailure(one.forward(2, request('r-2'), { deadlineMs: 10_000 }));
    expect(down).toMatchObject({ reason: 'unavailable', retryable: true });
    addresses.delete(2);
    const unknown = await forwardFailure(one.forward(2, request('r-2'), { deadlineMs: 10_000 }));
    expect(unknown).toMatchObject({ reason: 'unavailable', retryable: true });

    const second = await startForwardNode(tls);
    addresses.set(2, second.server.address);
    const response = await one.forward(2, request('r-2'), { deadlineMs: 10_000 });
    expect(response).toMatchObject({ ok: true, requestId: 'r-2' });
    expect(second.handled.map((handled) => handled.requestId)).toEqual(['r-2']);
  });

  it('fails retryably when the deadline passes before the answer', async () => {
    let release: (() => void) | undefined;
    const two = await startForwardNode(
      await fixture.tlsFor(2),
      (handled) =>
        new Promise((resolve) => {
          release = () => {
            resolve({ ok: true, requestId: handled.requestId ?? '' });
          };
        }),
    );
    const one = await clientOf(1, new Map([[2, two.server.address]]));
    const failure = await forwardFailure(one.forward(2, request('r-1'), { deadlineMs: 300 }));
    expect(failure).toMatchObject({
      reason: 'deadline',
      retryable: true,
      grpcCode: status.DEADLINE_EXCEEDED,
    });
    release?.();
  });

  it('fails for good when the node refuses this node, or answers nonsense', async () => {
    const two = await startForwardNode(await fixture.tlsFor(2), () =>
      Promise.resolve({ hello: 'world' } as unknown as CoreResponse),
    );
    const addresses = new Map([[2, two.server.address]]);
    const stranger = await clientOf(9, addresses, {
      tls: await fixture.tlsFor(9, await fixture.certificateFor(9)),
    });
    const refused = await forwardFailure(
      stranger.forward(2, request('r-1'), { deadlineMs: 10_000 }),
    );
    expect(refused).toMatchObject({
      reason: 'refused',
      retryable: false,
      grpcCode: status.PERMISSION_DENIED,
      peerErrorCode: 'COFFER_CORE_REMOVED',
    });

    const one = await clientOf(1, addresses);
    const nonsense = await forwardFailure(one.forward(2, request('r-2'), { deadlineMs: 10_000 }));
    expect(nonsense).toMatchObject({ reason: 'invalidResponse', retryable: false });
    expect(two.handled.map((handled) => handled.requestId)).toEqual(['r-2']);
  });
});

describe('ForwardClient.watchLeader', () => {
  it('follows a peer’s leader stream across the peer’s restart', async () => {
    const tls = await fixture.tlsFor(2);
    const first = await startForwardNode(tls);
    first.leaders.publish({ term: 3, leaderId: 2, apiAddress: 'a2', clusterAddress: 'c2' });
    const addresses = new Map([[2, first.server.address]]);
    const timer = new ManualTimer();
    const one = await clientOf(1, addresses, { timer });
    const seen: LeaderChange[] = [];
    const watch = one.watchLeader(2, (change) => seen.push(change));
    await waitUntil('the current leader arrives', () => seen.length === 1);

    await first.server.close();
    await waitUntil('the stream ends', () => watch.state === 'waiting');
    const second = await startForwardNode(tls);
    second.leaders.publish({ term: 4, leaderId: 3, apiAddress: 'a3', clusterAddress: 'c3' });
    addresses.set(2, second.server.address);
    timer.fireAll();
    await waitUntil('the restarted peer’s leader arrives', () => seen.length === 2);
    expect(seen.map((change) => [change.term, change.leaderId, change.index])).toEqual([
      [3, 2, 1],
      [4, 3, 1],
    ]);
    expect(watch.state).toBe('open');
    expect(one.stats().watchStreamsOpened).toBe(2);
  });

  it('waits while the peer has no address, and stops for good on close', async () => {
    const addresses = new Map<number, string>();
    const timer = new ManualTimer();
    const one = await clientOf(1, addresses, { timer });
    const watch = one.watchLeader(2, () => undefined);
    expect(watch.state).toBe('waiting');
    expect(timer.pending).toBe(1);
    watch.close();
    expect(watch.state).toBe('closed');
    expect(timer.pending).toBe(0);
  });
});
