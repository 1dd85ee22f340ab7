/**
 * Goal: GrpcRaftTransport carries Raft messages between nodes over real mutual-TLS streams on
 * loopback, control before bulk, never blocking its caller, and comes back after a peer does.
 *
 * Method: three nodes, each a ClusterServer and a GrpcRaftTransport with certificates from one
 * test CA (cluster_tls_fixture.ts). Messages are built by hand (raft_transport_harness.ts).
 * Backoff runs on a ManualTimer the test fires; every wait is a condition with a deadline.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { RaftMessage } from '@coffer/core';

import { waitUntil } from '../testing/test_node.ts';
import { createClusterTlsFixture, type ClusterTlsFixture } from './cluster_tls_fixture.ts';
import {
  ManualTimer,
  raftMessage,
  startTestNode,
  tagOf,
  type TestClusterNode,
  type TestTransportOptions,
} from './raft_transport_harness.ts';

let fixture: ClusterTlsFixture;
const running: TestClusterNode[] = [];

beforeAll(async () => {
  fixture = await createClusterTlsFixture({ nodeIds: [1, 2, 3] });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((node) => node.close()));
});

async function startNodes(
  nodeIds: readonly number[],
  options: TestTransportOptions = {},
): Promise<{ nodes: TestClusterNode[]; addresses: Map<number, string> }> {
  const addresses = new Map<number, string>();
  const nodes: TestClusterNode[] = [];
  for (const nodeId of nodeIds) {
    const node = await startTestNode(await fixture.tlsFor(nodeId), addresses, options);
    running.push(node);
    nodes.push(node);
  }
  return { nodes, addresses };
}

function tags(messages: readonly RaftMessage[]): number[] {
  return messages.map(tagOf);
}

describe('GrpcRaftTransport', () => {
  it('carries messages between three nodes both ways', async () => {
    const { nodes } = await startNodes([1, 2, 3]);
    for (const sender of nodes) {
      sender.transport.send(
        nodes
          .filter((peer) => peer !== sender)
          .map((peer) => raftMessage({ type: 'heartbeat', from: sender.nodeId, to: peer.nodeId })),
      );
    }
    await waitUntil('every node hears from both others', () =>
      nodes.every((node) => node.received.length === 2),
    );
    for (const node of nodes) {
      const senders = node.received.map((message) => message.from).sort();
      expect(senders).toEqual([1, 2, 3].filter((id) => id !== node.nodeId));
      expect(node.received.every((message) => message.to === node.nodeId)).toBe(true);
      expect(node.server.stats().messagesDroppedMisrouted).toBe(0);
    }
    expect(nodes[0]?.transport.stats()).toMatchObject({
      messagesSent: 2,
      streamsOpened: 2,
      streamsAdmitted: 2,
      reconnects: 0,
      messagesDroppedQueueFull: 0,
    });
  });

  it('sends votes and heartbeats before appends within a send', async () => {
    const { nodes } = await startNodes([1, 2]);
    const [one, two] = nodes as [TestClusterNode, TestClusterNode];
    one.transport.send([
      raftMessage({ type: 'append', from: 1, to: 2, entryBytes: [8], tag: 1 }),
      raftMessage({ type: 'heartbeat', from: 1, to: 2, tag: 2 }),
      raftMessage({ type: 'append', from: 1, to: 2, entryBytes: [8], tag: 3 }),
      raftMessage({ type: 'vote', from: 1, to: 2, tag: 4 }),
    ]);
    await waitUntil('node 2 receives all four', () => two.received.length === 4);
    expect(tags(two.received)).toEqual([2, 4, 1, 3]);
  });

  it('drops a message whose sender is not the stream’s node', async () => {
    const { nodes } = await startNodes([1, 2, 3]);
    const [one, two] = nodes as [TestClusterNode, TestClusterNode];
    one.transport.send([
      raftMessage({ type: 'vote', from: 3, to: 2, tag: 1 }),
      raftMessage({ type: 'heartbeat', from: 1, to: 2, tag: 2 }),
    ]);
    await waitUntil('the genuine message arrives', () => two.received.length === 1);
    expect(tags(two.received)).toEqual([2]);
    expect(two.server.stats().messagesDroppedMisrouted).toBe(1);
  });

  it('drops rather than blocks when a peer’s queue is full', async () => {
    const { nodes } = await startNodes([1, 2], { queueMessagesMax: 4 });
    const [one, two] = nodes as [TestClusterNode, TestClusterNode];
    const heartbeats = Array.from({ length: 10 }, (_, i) =>
      raftMessage({ type: 'heartbeat', from: 1, to: 2, tag: i }),
    );
    // The queue drains only after this turn of the event loop, so the bound is all there is.
    one.transport.send(heartbeats);
    expect(one.transport.stats().messagesDroppedQueueFull).toBe(6);
    await waitUntil('the queued four arrive', () => two.received.length === 4);
    expect(tags(two.received)).toEqual([0, 1, 2, 3]);
  });

  it('lets a control message displace the newest append in a full queue', async () => {
    const { nodes } = await startNodes([1, 2], { queueMessagesMax: 4 });
    const [one, two] = nodes as [TestClusterNode, TestClusterNode];
    const appends = [1, 2, 3, 4].map((tag) =>
      raftMessage({ type: 'append', from: 1, to: 2, entryBytes: [8], tag }),
    );
    one.transport.send([...appends, raftMessage({ type: 'heartbeat', from: 1, to: 2, tag: 9 })]);
    expect(one.transport.stats().messagesDroppedQueueFull).toBe(1);
    await waitUntil('four messages arrive', () => two.received.length === 4);
    expect(tags(two.received)).toEqual([9, 1, 2, 3]);
  });

  it('waits for drain when the stream pushes back, and loses nothing queued', async () => {
    const { nodes } = await startNodes([1, 2], { batchBytesMax: 64 * 1024 });
    const [one, two] = nodes as [TestClusterNode, TestClusterNode];
    const count = 200;
    one.transport.send(
      Array.from({ length: count }, (_, i) =>
        raftMessage({ type: 'append', from: 1, to: 2, entryBytes: [60 * 1024], tag: i % 256 }),
      ),
    );
    await waitUntil('every append arrives', () => two.received.length === count);
    expect(tags(two.received)).toEqual(Array.from({ length: count }, (_, i) => i % 256));
    expect(one.transport.stats().batchesSent).toBe(count);
    expect(one.transport.stats().drainWaits).toBeGreaterThan(0);
  });

  it('reconnects with growing jittered backoff to a peer that went away and came back, telling onPeerLost once', async () => {
    const timer = new ManualTimer();
    const admitTimeoutMs = 60_000;
    const options = {
      timer,
      admitTimeoutMs,
      backoff: { initialMs: 100, maxMs: 400 },
      randomInt: (maxExclusive: number) => maxExclusive - 1,
    };
    const { nodes, addresses } = await startNodes([1, 2], options);
    const [one, two] = nodes as [TestClusterNode, TestClusterNode];
    const waiting = (): boolean => one.transport.peerStatus(2)?.state === 'waiting';
    const lost: number[] = [];
    one.transport.onPeerLost((peerId) => lost.push(peerId));
    one.transport.send([raftMessage({ type: 'heartbeat', from: 1, to: 2, tag: 1 })]);
    await waitUntil('the first message arrives', () => two.received.length === 1);
    expect(lost).toEqual([]);

    await two.close();
    await waitUntil('node 1 notices and waits to reconnect', waiting);
    expect(lost).toEqual([2]);
    one.transport.send([raftMessage({ type: 'heartbeat', from: 1, to: 2, tag: 2 })]);
    for (let attempt = 0; attempt < 3; attempt++) {
      timer.fireAll();
      await waitUntil(`attempt ${attempt} to a closed port fails`, waiting);
    }
    // Admitted streams reset the backoff; failed attempts double it up to the cap.
    const retryDelaysMs = timer.delaysMs.filter((delayMs) => delayMs !== admitTimeoutMs);
    expect(retryDelaysMs).toEqual([100, 200, 400, 400]);
    // Attempts that were never admitted lose nothing more.
    expect(lost).toEqual([2]);
    expect(one.transport.peerStatus(2)?.queuedMessages).toBe(1);

    const back = await startTestNode(two.tls, addresses, options);
    running.push(back);
    timer.fireAll();
    await waitUntil(
      'the queued message reaches the restarted node',
      () => back.received.length === 1,
    );
    expect(tags(back.received)).toEqual([2]);
    expect(one.transport.peerStatus(2)?.state).toBe('open');
    expect(one.transport.stats()).toMatchObject({ reconnects: 4, streamsAdmitted: 2 });
  });

  it('gives up on a stream the peer never admits, and tries again after backoff', async () => {
    // A peer that accepts TCP connections and never says a word: no TLS, no HTTP/2.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const timer = new ManualTimer();
    const { nodes, addresses } = await startNodes([1], { timer, admitTimeoutMs: 5_000 });
    const [one] = nodes as [TestClusterNode];
    addresses.set(2, `127.0.0.1:${port}`);
    const lost: number[] = [];
    one.transport.onPeerLost((peerId) => lost.push(peerId));
    try {
      one.transport.send([raftMessage({ type: 'heartbeat', from: 1, to: 2 })]);
      await waitUntil('the stream connects', () => sockets.size === 1);
      expect(one.transport.peerStatus(2)?.state).toBe('connecting');
      timer.fireAll();
      expect(one.transport.peerStatus(2)?.state).toBe('waiting');
      expect(one.transport.stats().streamsTimedOut).toBe(1);
      timer.fireAll();
      await waitUntil('the next attempt connects', () => sockets.size === 2);
      expect(lost).toEqual([]);
    } finally {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('refuses a server whose certificate names another node', async () => {
    const { nodes, addresses } = await startNodes([1, 2]);
    const [one, two] = nodes as [TestClusterNode, TestClusterNode];
    // Node 1 dials node 3 but reaches node 2, which proves it is node 2.
    addresses.set(3, two.server.address);
    one.transport.send([raftMessage({ type: 'heartbeat', from: 1, to: 3 })]);
    await waitUntil('the handshake is refused', () => one.transport.stats().serversRefused > 0);
    expect(one.transport.stats().streamsAdmitted).toBe(0);
    expect(two.server.stats().streamsAccepted).toBe(0);
    expect(two.received).toEqual([]);
  });

  it('drops messages to a node without an address and after close, without throwing', async () => {
    const { nodes } = await startNodes([1]);
    const [one] = nodes as [TestClusterNode];
    one.transport.send([raftMessage({ type: 'heartbeat', from: 1, to: 7 })]);
    await one.transport.close();
    one.transport.send([raftMessage({ type: 'heartbeat', from: 1, to: 2 })]);
    expect(one.transport.stats().messagesDroppedUnroutable).toBe(2);
  });
});
