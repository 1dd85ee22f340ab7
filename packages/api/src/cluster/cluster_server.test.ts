/**
 * Goal: ClusterServer admits only peers that prove, by a certificate of this cluster, the node
 * they claim to be and that speak our protocol; it delivers only messages from that node to
 * this one; and one bad peer never stops it serving the others.
 *
 * Method: real ClusterServers on loopback TLS with certificates from a test CA
 * (cluster_tls_fixture.ts). Bad peers are real transports with bad material, or raw streams
 * with hand-made metadata and bytes. Every wait is a condition with a deadline.
 */
import { inspect } from 'node:util';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  Client,
  credentials,
  Metadata,
  status,
  type ChannelCredentials,
  type StatusObject,
} from '@grpc/grpc-js';

import { encodeRaftMessage, raftWireVersion, type TlsMaterial } from '@coffer/core';

import { waitUntil } from '../testing/test_node.ts';
import { ClusterCertificateProvider, clusterChannelCredentials } from './cluster_credentials.ts';
import type { ClusterTls } from './cluster_tls.ts';
import {
  createClusterTlsFixture,
  expiredCertificate,
  foreignCertificate,
  type ClusterTlsFixture,
} from './cluster_tls_fixture.ts';
import { GrpcRaftTransport } from './grpc_raft_transport.ts';
import {
  ManualTimer,
  raftMessage,
  startTestNode,
  tagOf,
  type TestClusterNode,
} from './raft_transport_harness.ts';
import {
  ClusterErrorCode,
  ClusterMetadataKey,
  clusterProtocolVersion,
  raftStreamMethod,
} from './raft_service.ts';

const peerRefusedCode = 'COFFER_CORE_CLUSTER_PEER_REFUSED';

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

async function startNode(nodeId: number, addresses: Map<number, string>): Promise<TestClusterNode> {
  const node = await startTestNode(await fixture.tlsFor(nodeId), addresses);
  cleanups.push(() => node.close());
  return node;
}

/** A raw Raft stream to `address`, trusting whatever server answers. */
function openRawStream(options: {
  readonly address: string;
  readonly channelCredentials: ChannelCredentials;
  readonly metadata: Readonly<Record<string, string>>;
}) {
  const client = new Client(options.address, options.channelCredentials, {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.ssl_target_name_override': 'raw.cluster.coffer.invalid',
  });
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(options.metadata)) {
    metadata.set(key, value);
  }
  const stream = client.makeBidiStreamRequest(
    raftStreamMethod.path,
    raftStreamMethod.requestSerialize,
    raftStreamMethod.responseDeserialize,
    metadata,
  );
  stream.on('error', () => undefined);
  stream.on('data', () => undefined);
  const ended = new Promise<StatusObject>((resolve) => stream.on('status', resolve));
  const admitted = new Promise<void>((resolve) => {
    stream.on('metadata', () => {
      resolve();
    });
  });
  cleanups.push(() => {
    stream.cancel();
    client.close();
  });
  return { stream, ended, admitted };
}

function clusterCredentials(tls: ClusterTls): ChannelCredentials {
  const provider = new ClusterCertificateProvider(tls);
  cleanups.push(() => {
    provider.close();
  });
  return clusterChannelCredentials(provider, () => undefined);
}

function goodMetadata(nodeId: number): Record<string, string> {
  return {
    [ClusterMetadataKey.protocol]: String(clusterProtocolVersion),
    [ClusterMetadataKey.raftWire]: String(raftWireVersion),
    [ClusterMetadataKey.node]: String(nodeId),
  };
}

function errorCodeOf(ended: StatusObject): unknown {
  return ended.metadata.get(ClusterMetadataKey.errorCode)[0];
}

/** A transport of node `nodeId` with `material`, dialling node 2 at `address`. */
async function badPeer(nodeId: number, material: TlsMaterial, address: string) {
  const transport = new GrpcRaftTransport({
    clusterTls: await fixture.tlsFor(nodeId, material),
    server: { setRaftHandler: () => undefined },
    resolve: (id) => (id === 2 ? address : undefined),
    timer: new ManualTimer(),
  });
  cleanups.push(() => transport.close());
  transport.send([raftMessage({ type: 'vote', from: nodeId, to: 2, tag: 99 })]);
  return { transport };
}

describe('ClusterServer', () => {
  it('refuses bad peers at the handshake or the check, and keeps serving good ones', async () => {
    const addresses = new Map<number, string>();
    const [one, two] = [await startNode(1, addresses), await startNode(2, addresses)];
    one.transport.send([raftMessage({ type: 'heartbeat', from: 1, to: 2, tag: 1 })]);
    await waitUntil('the good peer is heard', () => two.received.length === 1);

    const nonMember = 9;
    const peers = {
      foreignCa: await badPeer(
        3,
        await foreignCertificate(fixture.clusterId, 3),
        two.server.address,
      ),
      expired: await badPeer(3, await expiredCertificate(fixture, 3), two.server.address),
      otherNode: await badPeer(3, await fixture.certificateFor(1), two.server.address),
      nonMember: await badPeer(
        nonMember,
        await fixture.certificateFor(nonMember),
        two.server.address,
      ),
    };
    for (const [name, peer] of Object.entries(peers)) {
      await waitUntil(
        `the ${name} peer is refused`,
        () => peer.transport.peerStatus(2)?.state === 'waiting',
      );
      expect(peer.transport.stats().streamsAdmitted, name).toBe(0);
    }
    // The handshake refuses another CA's and an expired certificate before any call.
    expect(peers.foreignCa.transport.peerStatus(2)?.lastRefusalCode).toBeUndefined();
    expect(peers.expired.transport.peerStatus(2)?.lastRefusalCode).toBeUndefined();
    // The call's check refuses a certificate naming another node, or a non-member.
    expect(peers.otherNode.transport.peerStatus(2)?.lastRefusalCode).toBe(peerRefusedCode);
    expect(peers.nonMember.transport.peerStatus(2)?.lastRefusalCode).toBe('COFFER_CORE_REMOVED');
    expect(two.server.stats()).toMatchObject({ streamsAccepted: 1, streamsRefused: 2 });

    const noCertificate = openRawStream({
      address: two.server.address,
      channelCredentials: credentials.createSsl(
        Buffer.from(fixture.authority.certPem),
        null,
        null,
        {
          checkServerIdentity: () => undefined,
        },
      ),
      metadata: goodMetadata(3),
    });
    expect((await noCertificate.ended).code).toBe(status.UNAVAILABLE);

    one.transport.send([raftMessage({ type: 'heartbeat', from: 1, to: 2, tag: 2 })]);
    await waitUntil('the good peer is still heard', () => two.received.length === 2);
    expect(two.received.map(tagOf)).toEqual([1, 2]);
    expect(two.server.stats().streamsAccepted).toBe(1);
  });

  it('refuses another cluster protocol or Raft wire version with the mismatch code', async () => {
    const two = await startNode(2, new Map());
    const tls = await fixture.tlsFor(1);
    for (const override of [
      { [ClusterMetadataKey.protocol]: String(clusterProtocolVersion + 1) },
      { [ClusterMetadataKey.raftWire]: String(raftWireVersion + 1) },
      { [ClusterMetadataKey.protocol]: '' },
    ]) {
      const raw = openRawStream({
        address: two.server.address,
        channelCredentials: clusterCredentials(tls),
        metadata: { ...goodMetadata(1), ...override },
      });
      const ended = await raw.ended;
      expect(ended.code).toBe(status.FAILED_PRECONDITION);
      expect(errorCodeOf(ended)).toBe(ClusterErrorCode.protocolMismatch);
    }
    expect(two.server.stats()).toMatchObject({ streamsAccepted: 0, streamsRefused: 3 });
  });

  it('refuses a stream that does not say which node it is', async () => {
    const two = await startNode(2, new Map());
    const withoutNode = Object.fromEntries(
      Object.entries(goodMetadata(1)).filter(([key]) => key !== ClusterMetadataKey.node),
    );
    const raw = openRawStream({
      address: two.server.address,
      channelCredentials: clusterCredentials(await fixture.tlsFor(1)),
      metadata: withoutNode,
    });
    const ended = await raw.ended;
    expect(ended.code).toBe(status.UNAUTHENTICATED);
    expect(errorCodeOf(ended)).toBe(ClusterErrorCode.peerRefused);
  });

  it('drops messages not from the peer or not to this node, and delivers the rest', async () => {
    const two = await startNode(2, new Map());
    const raw = openRawStream({
      address: two.server.address,
      channelCredentials: clusterCredentials(await fixture.tlsFor(1)),
      metadata: goodMetadata(1),
    });
    await raw.admitted;
    const messages = [
      raftMessage({ type: 'vote', from: 3, to: 2, tag: 1 }),
      raftMessage({ type: 'vote', from: 1, to: 3, tag: 2 }),
      raftMessage({ type: 'vote', from: 1, to: 2, tag: 3 }),
    ];
    raw.stream.write({ messages: messages.map(encodeRaftMessage) });
    await waitUntil('the genuine message arrives', () => two.received.length === 1);
    expect(two.received.map(tagOf)).toEqual([3]);
    expect(two.server.stats().messagesDroppedMisrouted).toBe(2);
  });

  it('ends a stream that sends bytes that are not a Raft message, delivering none of the batch', async () => {
    const two = await startNode(2, new Map());
    const raw = openRawStream({
      address: two.server.address,
      channelCredentials: clusterCredentials(await fixture.tlsFor(1)),
      metadata: goodMetadata(1),
    });
    await raw.admitted;
    const genuine = encodeRaftMessage(raftMessage({ type: 'vote', from: 1, to: 2 }));
    raw.stream.write({ messages: [genuine, Uint8Array.of(0xff, 0x00, 0x13)] });
    const ended = await raw.ended;
    expect(ended.code).toBe(status.INVALID_ARGUMENT);
    expect(errorCodeOf(ended)).toBe(ClusterErrorCode.invalidMessage);
    expect(two.received).toEqual([]);
  });

  it('ends a stream admitted while its node was a member once the node is removed (COFFER_CORE_REMOVED)', async () => {
    const two = await startNode(2, new Map());
    const raw = openRawStream({
      address: two.server.address,
      channelCredentials: clusterCredentials(await fixture.tlsFor(3)),
      metadata: goodMetadata(3),
    });
    await raw.admitted;
    raw.stream.write({
      messages: [encodeRaftMessage(raftMessage({ type: 'vote', from: 3, to: 2, tag: 1 }))],
    });
    await waitUntil('the member message arrives', () => two.received.length === 1);
    fixture.members.delete(3);
    try {
      raw.stream.write({
        messages: [encodeRaftMessage(raftMessage({ type: 'vote', from: 3, to: 2, tag: 2 }))],
      });
      const ended = await raw.ended;
      expect(ended.code).toBe(status.PERMISSION_DENIED);
      expect(errorCodeOf(ended)).toBe('COFFER_CORE_REMOVED');
      expect(two.received.map(tagOf)).toEqual([1]);
    } finally {
      fixture.members.add(3);
    }
  });

  it('handshakes new connections with renewed material', async () => {
    const addresses = new Map<number, string>();
    const two = await startNode(2, addresses);
    // A "renewal" to node 3's certificate: a dialler that wants node 2 must now refuse it.
    two.tls.renew(await fixture.certificateFor(3));
    const one = await startNode(1, addresses);
    one.transport.send([raftMessage({ type: 'heartbeat', from: 1, to: 2 })]);
    await waitUntil(
      'node 1 refuses the renewed server',
      () => one.transport.stats().serversRefused > 0,
    );
    expect(two.received).toEqual([]);
  });

  it('shows no key material when inspected or serialized', async () => {
    const addresses = new Map<number, string>();
    const one = await startNode(1, addresses);
    const provider = new ClusterCertificateProvider(one.tls);
    cleanups.push(() => {
      provider.close();
    });
    for (const holder of [one.server, one.transport, provider]) {
      expect(inspect(holder, { depth: 10, showHidden: true })).not.toContain('PRIVATE KEY');
      expect(JSON.stringify(holder)).not.toContain('PRIVATE KEY');
    }
  });
});
