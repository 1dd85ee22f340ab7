/**
 * The cluster port's listener: one grpc-js server with mutual TLS that takes Raft messages from
 * peers and hands them to this node's transport (docs/design/cluster.md §2).
 *
 * Each stream is admitted once, when it opens: the TLS handshake has already checked the
 * client certificate's chain; then the certificate must name a current member and the node the
 * caller claims to be (ClusterTls.verifyPeer), and the caller must speak our protocol. After
 * that every message is checked against that identity: a message whose sender is not the
 * caller's node, or whose receiver is not this node, is dropped and counted, so a node can never
 * speak for another. Bytes that are not a Raft message end the stream, and so does a batch from
 * a node removed since its stream opened (COFFER_CORE_REMOVED, as a new stream would be told).
 *
 * Other services of the cluster channel (Forward) run on the same port through addService(),
 * and every one of their calls is admitted by the same check before its handler runs.
 *
 * Invariant: no message reaches the handler from a stream that was not admitted, and no call
 * of an added service reaches its handler unless it was admitted.
 * NB: a stream is admitted with the certificate it opened with. Renewal swaps the material new
 * connections handshake with; open streams keep theirs until they reconnect.
 */
import assert from 'node:assert/strict';

import {
  Metadata,
  Server,
  status,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';

import {
  CoreErrorCode,
  decodeRaftMessage,
  raftMessageRoute,
  raftWireVersion,
  type RaftMessage,
} from '@coffer/core';

import { ApiError, ApiErrorCode } from '../errors.ts';
import { ClusterCertificateProvider, clusterServerCredentials } from './cluster_credentials.ts';
import type { ClusterTls } from './cluster_tls.ts';
import {
  ClusterErrorCode,
  ClusterMetadataKey,
  clusterProtocolVersion,
  raftStreamMethod,
  type RaftBatch,
  type RaftStreamReply,
} from './raft_service.ts';

/** Options of a {@link ClusterServer}. */
export interface ClusterServerOptions {
  /** This node's cluster identity: its TLS material and the peer check. */
  readonly clusterTls: ClusterTls;
  /** The address to listen on, e.g. "0.0.0.0" or "127.0.0.1". */
  readonly host: string;
  /** The port; 0 picks a free one (read it from {@link ClusterServer.port}). */
  readonly port: number;
  /** The largest batch accepted, in bytes; default {@link clusterMessageBytesMaxDefault}. */
  readonly messageBytesMax?: number;
  /** How long close() lets the listener wind down before it cuts connections; default 5 s. */
  readonly closeGraceMs?: number;
}

/** Counters of a {@link ClusterServer}, since it started. */
export interface ClusterServerStats {
  readonly streamsAccepted: number;
  readonly streamsRefused: number;
  readonly messagesDelivered: number;
  /** Messages whose sender or receiver did not match the stream's peer and this node. */
  readonly messagesDroppedMisrouted: number;
  /** Messages that arrived before a transport registered its handler. */
  readonly messagesDroppedNoHandler: number;
  /** Calls of added services (addService) that passed the peer check. */
  readonly callsAccepted: number;
  /** Calls of added services refused by the peer check, the protocol check or close(). */
  readonly callsRefused: number;
}

/**
 * A unary method of a service added with {@link ClusterServer.addService}: called only once the
 * caller was admitted, with the node id its certificate names.
 */
export interface ClusterUnaryMethod {
  readonly kind: 'unary';
  serve(
    call: ServerUnaryCall<unknown, unknown>,
    callback: sendUnaryData<unknown>,
    peerId: number,
  ): void;
}

/**
 * A server-streaming method of a service added with {@link ClusterServer.addService}: called
 * only once the caller was admitted. close() ends the stream.
 */
export interface ClusterServerStreamMethod {
  readonly kind: 'serverStream';
  serve(call: ServerWritableStream<unknown, unknown>, peerId: number): void;
}

/** The methods of a service added to the cluster port, by method name. */
export type ClusterServiceImplementation = Readonly<
  Record<string, ClusterUnaryMethod | ClusterServerStreamMethod>
>;

/**
 * The default bound on one received batch: far above a batch the transport sends (1 MiB of
 * messages, or one message above that), and below what a peer could use to exhaust memory.
 */
export const clusterMessageBytesMaxDefault = 64 * 1024 * 1024;
const closeGraceMsDefault = 5_000;

type RaftStream = ServerDuplexStream<RaftBatch, RaftStreamReply>;
type AddedStream = ServerWritableStream<unknown, unknown>;

/** Why a stream is refused: the gRPC status, the stable code, and a message with no secrets. */
interface Refusal {
  readonly grpcStatus: status;
  readonly code: string;
  readonly details: string;
}

/** Whether a stream may carry messages, and from which node. */
type Admission =
  | { readonly ok: true; readonly peerId: number }
  | { readonly ok: false; readonly refusal: Refusal };

const closingDetails = 'Retry on another node: this node is closing its cluster port';
const anonymousDetails = `Present a cluster certificate and send ${ClusterMetadataKey.node} with your node id`;

function refusedWith(grpcStatus: status, code: string, details: string): Admission {
  return { ok: false, refusal: { grpcStatus, code, details } };
}

function errorCodeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('COFFER_')
    ? code
    : ClusterErrorCode.peerRefused;
}

/** A refusal as grpc-js sends it: the status, and the stable code in the trailers. */
function refusalStatus(refusal: Refusal): { code: status; details: string; metadata: Metadata } {
  const trailers = new Metadata();
  trailers.set(ClusterMetadataKey.errorCode, refusal.code);
  return { code: refusal.grpcStatus, details: refusal.details, metadata: trailers };
}

function refuse(stream: RaftStream | AddedStream, refusal: Refusal): void {
  // NB: grpc-js turns an 'error' on a server stream into the call's status (server-call.js).
  stream.emit('error', refusalStatus(refusal));
}

function protocolRefusal(metadata: Metadata): Refusal | undefined {
  const protocol = metadata.get(ClusterMetadataKey.protocol)[0];
  const wire = metadata.get(ClusterMetadataKey.raftWire)[0];
  if (protocol === String(clusterProtocolVersion) && wire === String(raftWireVersion)) {
    return undefined;
  }
  return {
    grpcStatus: status.FAILED_PRECONDITION,
    code: ClusterErrorCode.protocolMismatch,
    details:
      `Upgrade the nodes of the cluster in turn: this node speaks cluster protocol ` +
      `${clusterProtocolVersion} with Raft wire version ${raftWireVersion}`,
  };
}

/** The node id a caller claims in its metadata, or undefined when absent or malformed. */
function claimedNodeId(metadata: Metadata): number | undefined {
  const value = metadata.get(ClusterMetadataKey.node)[0];
  if (typeof value !== 'string' || !/^[1-9][0-9]{0,15}$/.test(value)) {
    return undefined;
  }
  const nodeId = Number(value);
  return Number.isSafeInteger(nodeId) ? nodeId : undefined;
}

/** The cluster port's gRPC server. Create it, register the handler, then start(). */
export class ClusterServer {
  readonly #options: ClusterServerOptions;
  readonly #provider: ClusterCertificateProvider;
  readonly #server: Server;
  readonly #streams = new Set<RaftStream>();
  readonly #addedStreams = new Set<AddedStream>();
  #handler: ((message: RaftMessage) => void) | undefined;
  #port: number | undefined;
  #closed = false;
  #streamsAccepted = 0;
  #streamsRefused = 0;
  #messagesDelivered = 0;
  #messagesDroppedMisrouted = 0;
  #messagesDroppedNoHandler = 0;
  #callsAccepted = 0;
  #callsRefused = 0;

  constructor(options: ClusterServerOptions) {
    const messageBytesMax = options.messageBytesMax ?? clusterMessageBytesMaxDefault;
    assert(Number.isSafeInteger(messageBytesMax) && messageBytesMax > 0);
    this.#options = options;
    this.#provider = new ClusterCertificateProvider(options.clusterTls);
    this.#server = new Server({ 'grpc.max_receive_message_length': messageBytesMax });
    const service: ServiceDefinition = { Stream: raftStreamMethod };
    this.#server.addService(service, {
      Stream: (stream: RaftStream) => {
        this.#serve(stream);
      },
    });
  }

  /**
   * Registers where admitted messages go (the transport's inbox). One handler: a second call
   * replaces the first.
   */
  setRaftHandler(handler: (message: RaftMessage) => void): void {
    this.#handler = handler;
  }

  /**
   * Serves another service of the cluster channel on this port (before start()). Every call is
   * admitted as a Raft stream is (the certificate names a current member and the node the caller
   * claims, the caller speaks our protocol) before its method runs with the caller's node id; a
   * refused call ends with the refusal's status and `coffer-error-code`. Asserts that each
   * method of `definition` is implemented with its kind (unary or server-streaming).
   */
  addService(definition: ServiceDefinition, implementation: ClusterServiceImplementation): void {
    assert(this.#port === undefined && !this.#closed, 'ClusterServer.addService() after start()');
    const handlers: UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(definition)) {
      const served = implementation[name];
      assert(served !== undefined, `ClusterServer.addService(): no implementation of ${name}`);
      assert(!method.requestStream, `ClusterServer.addService(): ${name} streams requests`);
      const kind = method.responseStream ? 'serverStream' : 'unary';
      assert(served.kind === kind, `ClusterServer.addService(): ${name} is ${kind}`);
      handlers[name] =
        served.kind === 'unary'
          ? (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
              this.#serveUnary(served, call, callback);
            }
          : (call: AddedStream) => {
              this.#serveStream(served, call);
            };
    }
    this.#server.addService(definition, handlers);
  }

  /** Binds the port. Throws ApiError COFFER_API_LISTEN_FAILED when it cannot be bound. */
  async start(): Promise<void> {
    assert(this.#port === undefined && !this.#closed, 'ClusterServer.start() called twice');
    const { host, port } = this.#options;
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.#port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(address, clusterServerCredentials(this.#provider), (error, bound) => {
        if (error === null) {
          resolve(bound);
        } else {
          reject(
            new ApiError(
              ApiErrorCode.listenFailed,
              `Check the cluster listener address "${address}": it could not be bound`,
              { cause: error },
            ),
          );
        }
      });
    });
  }

  /** The bound port. Asserts that start() has resolved. */
  get port(): number {
    assert(this.#port !== undefined, 'ClusterServer.port read before start() resolved');
    return this.#port;
  }

  /** `host:port` as a peer dials it. Asserts that start() has resolved. */
  get address(): string {
    const { host } = this.#options;
    return host.includes(':') ? `[${host}]:${this.port}` : `${host}:${this.port}`;
  }

  /** Counters since start. */
  stats(): ClusterServerStats {
    return {
      streamsAccepted: this.#streamsAccepted,
      streamsRefused: this.#streamsRefused,
      messagesDelivered: this.#messagesDelivered,
      messagesDroppedMisrouted: this.#messagesDroppedMisrouted,
      messagesDroppedNoHandler: this.#messagesDroppedNoHandler,
      callsAccepted: this.#callsAccepted,
      callsRefused: this.#callsRefused,
    };
  }

  /**
   * Ends every peer stream (peers reconnect elsewhere or later), stops accepting, and waits up
   * to closeGraceMs for connections to wind down before cutting them.
   */
  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#provider.close();
    // NB: peer streams are long-lived and end only when one side ends them, so a graceful
    // shutdown would otherwise always wait out the grace period.
    for (const stream of this.#streams) {
      stream.end();
    }
    this.#streams.clear();
    for (const stream of this.#addedStreams) {
      stream.end();
    }
    this.#addedStreams.clear();
    const graceMs = this.#options.closeGraceMs ?? closeGraceMsDefault;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  #serve(stream: RaftStream): void {
    const admitted = this.#admit(stream);
    if (!admitted.ok) {
      this.#streamsRefused += 1;
      refuse(stream, admitted.refusal);
      return;
    }
    this.#streamsAccepted += 1;
    this.#streams.add(stream);
    const forget = (): void => {
      this.#streams.delete(stream);
    };
    stream.on('cancelled', forget);
    stream.on('finish', forget);
    // NB: an error here is the peer going away; the stream is over and nothing is owed.
    stream.on('error', forget);
    stream.on('end', () => {
      stream.end();
    });
    stream.on('data', (batch: RaftBatch) => {
      this.#receive(stream, admitted.peerId, batch);
    });
    // Tells the caller it was admitted (it resets its reconnection backoff on this).
    stream.sendMetadata(new Metadata());
  }

  #serveUnary(
    served: ClusterUnaryMethod,
    call: ServerUnaryCall<unknown, unknown>,
    callback: sendUnaryData<unknown>,
  ): void {
    const admitted = this.#admit(call);
    if (!admitted.ok) {
      this.#callsRefused += 1;
      callback(refusalStatus(admitted.refusal));
      return;
    }
    this.#callsAccepted += 1;
    served.serve(call, callback, admitted.peerId);
  }

  #serveStream(served: ClusterServerStreamMethod, call: AddedStream): void {
    const admitted = this.#admit(call);
    if (!admitted.ok) {
      this.#callsRefused += 1;
      refuse(call, admitted.refusal);
      return;
    }
    this.#callsAccepted += 1;
    this.#addedStreams.add(call);
    const forget = (): void => {
      this.#addedStreams.delete(call);
    };
    call.on('cancelled', forget);
    call.on('finish', forget);
    call.on('error', forget);
    served.serve(call, admitted.peerId);
  }

  #admit(call: ServerUnaryCall<unknown, unknown> | RaftStream | AddedStream): Admission {
    if (this.#closed) {
      return refusedWith(status.UNAVAILABLE, ClusterErrorCode.peerRefused, closingDetails);
    }
    const mismatch = protocolRefusal(call.metadata);
    if (mismatch !== undefined) {
      return { ok: false, refusal: mismatch };
    }
    const certificate = call.getAuthContext().sslPeerCertificate?.raw;
    const claimed = claimedNodeId(call.metadata);
    if (certificate === undefined || claimed === undefined) {
      return refusedWith(status.UNAUTHENTICATED, ClusterErrorCode.peerRefused, anonymousDetails);
    }
    try {
      return { ok: true, peerId: this.#options.clusterTls.verifyPeer(certificate, claimed) };
    } catch (error) {
      const details = `Use a current certificate of this cluster naming node ${claimed}`;
      return refusedWith(status.PERMISSION_DENIED, errorCodeOf(error), details);
    }
  }

  #receive(stream: RaftStream, peerId: number, batch: RaftBatch): void {
    if (!this.#streams.has(stream)) {
      // Ended by us (a refused batch, close()): what it still carries is not delivered.
      return;
    }
    if (!this.#options.clusterTls.isMember(peerId)) {
      // NB: admitted while a member; removed since. It learns it as a new stream would.
      this.#streams.delete(stream);
      this.#streamsRefused += 1;
      refuse(stream, {
        grpcStatus: status.PERMISSION_DENIED,
        code: CoreErrorCode.removed,
        details: `Join the cluster again: node ${String(peerId)} is no member of it any more`,
      });
      return;
    }
    const messages: RaftMessage[] = [];
    for (const bytes of batch.messages) {
      const decoded = decodeRaftMessage(bytes);
      if (!decoded.ok) {
        this.#streams.delete(stream);
        refuse(stream, {
          grpcStatus: status.INVALID_ARGUMENT,
          code: ClusterErrorCode.invalidMessage,
          details: `Send Raft messages in wire version ${raftWireVersion}: a batch held bytes that do not decode`,
        });
        return;
      }
      messages.push(decoded.message);
    }
    for (const message of messages) {
      this.#deliver(peerId, message);
    }
  }

  #deliver(peerId: number, message: RaftMessage): void {
    const route = raftMessageRoute(message);
    if (route.from !== peerId || route.to !== this.#options.clusterTls.nodeId) {
      this.#messagesDroppedMisrouted += 1;
      return;
    }
    if (this.#handler === undefined) {
      this.#messagesDroppedNoHandler += 1;
      return;
    }
    this.#messagesDelivered += 1;
    this.#handler(message);
  }
}
