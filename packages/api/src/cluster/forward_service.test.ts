/**
 * Goal: the Forward service serves a forwarded request only for a verified member of the
 * cluster, with the client address and request id from the forwarded fields and from nowhere
 * else; it refuses malformed requests without quoting them; and its leader stream sends the
 * current leader, then every change, in order.
 *
 * Method: a real ClusterServer on loopback mutual TLS (cluster_tls_fixture.ts) hosting the
 * service, with a recording handler. Good callers are ForwardClients; bad callers are raw
 * grpc-js clients with hand-made credentials, metadata and messages. Every wait is a condition
 * with a deadline.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  Client,
  credentials,
  Metadata,
  status,
  type ChannelCredentials,
  type ServiceError,
} from '@grpc/grpc-js';

import { raftWireVersion, type CoreRequest, type CoreResponse } from '@coffer/core';

import { waitUntil } from '../testing/test_node.ts';
import { ClusterCertificateProvider, clusterChannelCredentials } from './cluster_credentials.ts';
import { ClusterServer } from './cluster_server.ts';
import type { ClusterTls } from './cluster_tls.ts';
import {
  createClusterTlsFixture,
  foreignCertificate,
  type ClusterTlsFixture,
} from './cluster_tls_fixture.ts';
import { ForwardClient } from './forward_client.ts';
import {
  decodeForwardRequest,
  encodeForwardRequest,
  forwardHandleMethod,
  forwardServiceDefinition,
  ForwardService,
  LeaderChanges,
  type ForwardRequestMessage,
  type ForwardResponseMessage,
  type LeaderChange,
} from './forward_service.ts';
import { ManualTimer } from './raft_transport_harness.ts';
import { ClusterErrorCode, ClusterMetadataKey, clusterProtocolVersion } from './raft_service.ts';

const token = 'hvs.forward-test-token-do-not-print';
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

/** Node 2's cluster port with the Forward service, and what its handler was given. */
async function startForwardNode(
  options: { readonly answer?: (request: CoreRequest) => Promise<CoreResponse> } = {},
) {
  const tls = await fixture.tlsFor(2);
  const server = new ClusterServer({ clusterTls: tls, host: '127.0.0.1', port: 0 });
  const handled: CoreRequest[] = [];
  const leaders = new LeaderChanges();
  const service = new ForwardService({
    leaders,
    requestBytesMax: 4096,
    handle: (request) => {
      handled.push(request);
      return (
        options.answer?.(request) ??
        Promise.resolve({ ok: true, requestId: request.requestId ?? '', data: { served: 2 } })
      );
    },
  });
  server.addService(forwardServiceDefinition, service.implementation());
  await server.start();
  cleanups.push(() => server.close());
  return { server, service, handled, leaders };
}

async function forwardClientOf(nodeId: number, addresses: ReadonlyMap<number, string>) {
  const client = new ForwardClient({
    clusterTls: await fixture.tlsFor(nodeId),
    resolve: (id) => addresses.get(id),
    timer: new ManualTimer(),
  });
  cleanups.push(() => {
    client.close();
  });
  return client;
}

function clusterCredentials(tls: ClusterTls): ChannelCredentials {
  const provider = new ClusterCertificateProvider(tls);
  cleanups.push(() => {
    provider.close();
  });
  return clusterChannelCredentials(provider, () => undefined);
}

function clusterMetadata(nodeId: number): Metadata {
  const metadata = new Metadata();
  metadata.set(ClusterMetadataKey.protocol, String(clusterProtocolVersion));
  metadata.set(ClusterMetadataKey.raftWire, String(raftWireVersion));
  metadata.set(ClusterMetadataKey.node, String(nodeId));
  return metadata;
}

/** One raw Forward.Handle call; resolves with its error or its answer. */
function rawHandle(options: {
  readonly address: string;
  readonly channelCredentials: ChannelCredentials;
  readonly metadata: Metadata;
  readonly message: ForwardRequestMessage;
}): Promise<{ error: ServiceError | null; answer: ForwardResponseMessage | undefined }> {
  const client = new Client(options.address, options.channelCredentials, {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.ssl_target_name_override': 'raw.cluster.coffer.invalid',
  });
  cleanups.push(() => {
    client.close();
  });
  const method = forwardHandleMethod;
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      options.message,
      options.metadata,
      { deadline: Date.now() + 10_000 },
      (error, answer) => {
        resolve({ error, answer });
      },
    );
  });
}

function request(fields: Partial<CoreRequest> = {}): CoreRequest {
  return { operation: 'read', path: 'secret/data/app', token, ...fields };
}

function message(fields: Partial<ForwardRequestMessage> = {}): ForwardRequestMessage {
  return {
    request_json: JSON.stringify({ operation: 'read', path: 'secret/data/app', token }),
    client_address: '203.0.113.7',
    request_id: 'req-1',
    ...fields,
  };
}

function errorCodeOf(error: ServiceError | null): unknown {
  return error?.metadata.get(ClusterMetadataKey.errorCode)[0];
}

describe('ForwardService.Handle', () => {
  it('serves a member with the forwarded client address and request id', async () => {
    const two = await startForwardNode();
    const one = await forwardClientOf(1, new Map([[2, two.server.address]]));
    const response = await one.forward(
      2,
      request({ clientAddress: '2001:db8::17', requestId: 'client-request-42' }),
      { deadlineMs: 10_000 },
    );
    expect(response).toEqual({ ok: true, requestId: 'client-request-42', data: { served: 2 } });
    expect(two.handled).toEqual([
      {
        operation: 'read',
        path: 'secret/data/app',
        token,
        clientAddress: '2001:db8::17',
        requestId: 'client-request-42',
      },
    ]);
    expect(two.server.stats()).toMatchObject({ callsAccepted: 1, callsRefused: 0 });
  });

  it('sets clientAddress and requestId only from the forwarded fields, never from request_json', async () => {
    const two = await startForwardNode();
    const verified = clusterCredentials(await fixture.tlsFor(1));
    for (const spoofed of [
      { clientAddress: '198.51.100.66' },
      { requestId: 'spoofed-id' },
      { clientAddress: '198.51.100.66', requestId: 'spoofed-id' },
    ]) {
      const { error } = await rawHandle({
        address: two.server.address,
        channelCredentials: verified,
        metadata: clusterMetadata(1),
        message: message({
          request_json: JSON.stringify({ operation: 'read', path: 'a', token, ...spoofed }),
        }),
      });
      expect(error?.code).toBe(status.INVALID_ARGUMENT);
      expect(errorCodeOf(error)).toBe('COFFER_API_INVALID_REQUEST');
    }
    expect(two.handled).toEqual([]);

    // Without a forwarded address the request has none: the service never makes one up.
    const { error } = await rawHandle({
      address: two.server.address,
      channelCredentials: verified,
      metadata: clusterMetadata(1),
      message: message({ client_address: '' }),
    });
    expect(error).toBeNull();
    expect(two.handled).toHaveLength(1);
    expect(two.handled[0]).not.toHaveProperty('clientAddress');
    expect(two.handled[0]?.requestId).toBe('req-1');
  });

  it('refuses malformed or oversized requests without quoting them', async () => {
    const two = await startForwardNode();
    const verified = clusterCredentials(await fixture.tlsFor(1));
    const bad: Partial<ForwardRequestMessage>[] = [
      { request_json: `["${token}"]` },
      { request_json: 'null' },
      { request_json: `"${token}"` },
      { request_json: `{"token": "${token}"` },
      { request_json: JSON.stringify({ operation: 'read', path: 'a', token, pad: 'x' }) },
      { request_json: JSON.stringify({ operation: 'read', path: 'a', token: 'x'.repeat(5000) }) },
      { request_json: JSON.stringify({ operation: 'sudo', path: 'a', token }) },
      { request_json: JSON.stringify({ operation: 'read', path: 7, token }) },
      { request_json: JSON.stringify({ operation: 'read', path: 'a', data: [token] }) },
      { request_json: JSON.stringify({ operation: 'read', path: 'a', token: 12 }) },
      { request_json: JSON.stringify({ operation: 'read', path: 'a', wrapTtlSeconds: 1.5 }) },
      { client_address: 'not-an-address' },
      { client_address: '10.0.0.1:443' },
      { request_id: '' },
      { request_id: 'has space' },
      { request_id: 'x'.repeat(129) },
    ];
    for (const fields of bad) {
      const { error } = await rawHandle({
        address: two.server.address,
        channelCredentials: verified,
        metadata: clusterMetadata(1),
        message: message(fields),
      });
      expect(error?.code, JSON.stringify(fields).slice(0, 80)).toBe(status.INVALID_ARGUMENT);
      expect(errorCodeOf(error)).toBe('COFFER_API_INVALID_REQUEST');
      expect(error?.details).not.toContain(token);
      expect(error?.details).not.toContain('not-an-address');
    }
    expect(two.handled).toEqual([]);
    expect(two.service.stats()).toMatchObject({ requestsRefused: bad.length, requestsServed: 0 });
  });

  it('answers INTERNAL without the request when the handler fails', async () => {
    const two = await startForwardNode({
      answer: () => Promise.reject(new Error(`failed on ${token}`)),
    });
    const { error } = await rawHandle({
      address: two.server.address,
      channelCredentials: clusterCredentials(await fixture.tlsFor(1)),
      metadata: clusterMetadata(1),
      message: message(),
    });
    expect(error?.code).toBe(status.INTERNAL);
    expect(errorCodeOf(error)).toBe('COFFER_API_INTERNAL');
    expect(error?.details).not.toContain(token);
  });

  it('refuses callers that are not verified members, at the handshake or the check', async () => {
    const two = await startForwardNode();
    const nonMember = 9;
    const cases: {
      name: string;
      channelCredentials: ChannelCredentials;
      claimed: number;
      grpcStatus: status;
      code: string | undefined;
    }[] = [
      {
        name: 'a non-member',
        channelCredentials: clusterCredentials(
          await fixture.tlsFor(nonMember, await fixture.certificateFor(nonMember)),
        ),
        claimed: nonMember,
        grpcStatus: status.PERMISSION_DENIED,
        code: 'COFFER_CORE_REMOVED',
      },
      {
        name: "another node's certificate",
        channelCredentials: clusterCredentials(await fixture.tlsFor(1)),
        claimed: 3,
        grpcStatus: status.PERMISSION_DENIED,
        code: peerRefusedCode,
      },
      {
        name: 'a foreign CA',
        channelCredentials: clusterCredentials(
          await fixture.tlsFor(3, await foreignCertificate(fixture.clusterId, 3)),
        ),
        claimed: 3,
        grpcStatus: status.UNAVAILABLE,
        code: undefined,
      },
      {
        name: 'no certificate',
        channelCredentials: credentials.createSsl(
          Buffer.from(fixture.authority.certPem),
          null,
          null,
          { checkServerIdentity: () => undefined },
        ),
        claimed: 3,
        grpcStatus: status.UNAVAILABLE,
        code: undefined,
      },
    ];
    for (const refusedCase of cases) {
      const { error } = await rawHandle({
        address: two.server.address,
        channelCredentials: refusedCase.channelCredentials,
        metadata: clusterMetadata(refusedCase.claimed),
        message: message(),
      });
      expect(error?.code, refusedCase.name).toBe(refusedCase.grpcStatus);
      expect(errorCodeOf(error), refusedCase.name).toBe(refusedCase.code);
    }
    expect(two.handled).toEqual([]);
    // The handshake refuses the foreign CA and the anonymous caller before any call.
    expect(two.server.stats()).toMatchObject({ callsAccepted: 0, callsRefused: 2 });
  });

  it('refuses a caller of another cluster protocol version', async () => {
    const two = await startForwardNode();
    const metadata = clusterMetadata(1);
    metadata.set(ClusterMetadataKey.protocol, String(clusterProtocolVersion + 1));
    const { error } = await rawHandle({
      address: two.server.address,
      channelCredentials: clusterCredentials(await fixture.tlsFor(1)),
      metadata,
      message: message(),
    });
    expect(error?.code).toBe(status.FAILED_PRECONDITION);
    expect(errorCodeOf(error)).toBe(ClusterErrorCode.protocolMismatch);
    expect(two.handled).toEqual([]);
  });
});

describe('decodeForwardRequest', () => {
  it('round-trips what encodeForwardRequest makes, keeping address and id out of the JSON', () => {
    const original = request({
      clientAddress: '192.0.2.1',
      requestId: 'abc.1',
      data: { a: [1, { b: 'c' }] },
      wrapTtlSeconds: 60,
    });
    const encoded = encodeForwardRequest(original);
    expect(JSON.parse(encoded.request_json)).not.toHaveProperty('clientAddress');
    expect(JSON.parse(encoded.request_json)).not.toHaveProperty('requestId');
    expect(decodeForwardRequest(encoded, 4096)).toEqual({ ok: true, request: original });
  });
});

describe('ForwardService.WatchLeader', () => {
  function change(leaderId: number, term: number): Omit<LeaderChange, 'index'> {
    return {
      term,
      leaderId,
      apiAddress: `10.0.0.${leaderId}:8200`,
      clusterAddress: `10.0.0.${leaderId}:8201`,
    };
  }

  it('sends the current leader at once, then each change in order', async () => {
    const two = await startForwardNode();
    two.leaders.publish(change(2, 4));
    const one = await forwardClientOf(1, new Map([[2, two.server.address]]));
    const seen: LeaderChange[] = [];
    const watch = one.watchLeader(2, (next) => seen.push(next));
    await waitUntil('the current leader arrives', () => seen.length === 1);
    expect(seen[0]).toEqual({ ...change(2, 4), index: 1 });
    expect(watch.state).toBe('open');

    two.leaders.publish(change(0, 5));
    expect(two.leaders.publish(change(0, 5))).toBeUndefined();
    two.leaders.publish(change(3, 5));
    two.leaders.publish(change(1, 6));
    await waitUntil('every change arrives', () => seen.length === 4);
    expect(seen.map((next) => [next.index, next.term, next.leaderId])).toEqual([
      [1, 4, 2],
      [2, 5, 0],
      [3, 5, 3],
      [4, 6, 1],
    ]);
    watch.close();
    expect(watch.state).toBe('closed');
  });

  it('refuses a non-member and ends its watchers when the server closes', async () => {
    const two = await startForwardNode();
    const addresses = new Map([[2, two.server.address]]);
    const stranger = new ForwardClient({
      clusterTls: await fixture.tlsFor(9, await fixture.certificateFor(9)),
      resolve: (id) => addresses.get(id),
      timer: new ManualTimer(),
    });
    cleanups.push(() => {
      stranger.close();
    });
    const strangerSeen: LeaderChange[] = [];
    const refused = stranger.watchLeader(2, (next) => strangerSeen.push(next));
    two.leaders.publish(change(2, 1));
    await waitUntil('the non-member is refused', () => refused.state === 'waiting');
    expect(strangerSeen).toEqual([]);

    const one = await forwardClientOf(1, addresses);
    const seen: LeaderChange[] = [];
    const watch = one.watchLeader(2, (next) => seen.push(next));
    await waitUntil('the member follows', () => seen.length === 1);
    await two.server.close();
    await waitUntil('the watcher sees the stream end', () => watch.state === 'waiting');
    expect(two.service.stats().watchersOpened).toBe(1);
  });
});
