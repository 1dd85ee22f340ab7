/**
 * The Forward service of the cluster channel, client side: a standby sends a request to the
 * active node and follows a peer's leader stream (docs/design/cluster.md §5).
 *
 * Every channel checks the server's certificate twice, as the Raft transport does: the TLS
 * handshake checks the chain against the cluster's trusted CAs, and ClusterTls.verifyPeer must
 * find that it names the very node we dialled. Every call carries the cluster metadata (our
 * protocol, Raft wire version and node id) that the server admits calls by.
 *
 * Forwarding keeps one channel per peer, made on first use and dropped when the peer's address
 * changes or a call finds it unavailable (so the next call dials afresh instead of waiting out
 * grpc-js' own reconnection backoff). A leader stream gets a fresh channel per attempt and
 * reconnects with jittered exponential backoff, as a Raft peer stream does.
 *
 * Invariant: nothing here logs or quotes a request: it holds the caller's token.
 */
import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';

import {
  Client,
  Metadata,
  status,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';

import { raftWireVersion, type CoreRequest, type CoreResponse } from '@coffer/core';

import { ClusterCertificateProvider, clusterChannelCredentials } from './cluster_credentials.ts';
import type { ClusterTls } from './cluster_tls.ts';
import {
  decodeForwardResponse,
  decodeLeaderChange,
  encodeForwardRequest,
  forwardHandleMethod,
  forwardWatchLeaderMethod,
  type ForwardRequestMessage,
  type ForwardResponseMessage,
  type LeaderChange,
  type LeaderChangeMessage,
} from './forward_service.ts';
import {
  clusterAdmitTimeoutMsDefault,
  clusterBackoffDefault,
  clusterKeepaliveDefault,
  clusterRandomInt,
  realClusterTimer,
} from './cluster_timing.ts';
import { reconnectDelayMs, type ClusterTimer, type ReconnectBackoff } from './raft_peer_stream.ts';
import { ClusterMetadataKey, clusterProtocolVersion } from './raft_service.ts';

/** Why a forward failed. */
export const ForwardFailureReason = {
  /** The peer could not be reached (down, no address, refused our connection): retryable. */
  unavailable: 'unavailable',
  /** The call's deadline passed before an answer: retryable (with the same request id). */
  deadline: 'deadline',
  /** The peer refused the call (our certificate, protocol, the request itself): not retryable. */
  refused: 'refused',
  /** The peer answered something that is not a router response: not retryable. */
  invalidResponse: 'invalidResponse',
} as const;

/** The union of {@link ForwardFailureReason} values. */
export type ForwardFailureReason = (typeof ForwardFailureReason)[keyof typeof ForwardFailureReason];

/**
 * A forward that brought no router answer. `retryable` says whether sending the same request
 * (same request id) to the leader of the moment may succeed.
 */
export class ForwardError extends Error {
  readonly reason: ForwardFailureReason;
  readonly retryable: boolean;
  /** The node the request was sent to. */
  readonly peerId: number;
  /** The gRPC status of the call, when it ended with one. */
  readonly grpcCode: status | undefined;
  /** The `coffer-error-code` the peer's refusal carried, if any. */
  readonly peerErrorCode: string | undefined;

  constructor(
    reason: ForwardFailureReason,
    message: string,
    options: {
      readonly peerId: number;
      readonly grpcCode?: status;
      readonly peerErrorCode?: string;
      readonly cause?: unknown;
    },
  ) {
    super(message, { cause: options.cause });
    this.name = 'ForwardError';
    this.reason = reason;
    this.retryable = reason === 'unavailable' || reason === 'deadline';
    this.peerId = options.peerId;
    this.grpcCode = options.grpcCode;
    this.peerErrorCode = options.peerErrorCode;
  }
}

/** True when `error` is a {@link ForwardError} that a resend may get past. */
export function isRetryableForwardError(error: unknown): error is ForwardError {
  return error instanceof ForwardError && error.retryable;
}

/** Options of a {@link ForwardClient}. */
export interface ForwardClientOptions {
  /** This node's cluster identity: its id, its TLS material and the peer check. */
  readonly clusterTls: ClusterTls;
  /** A peer's cluster address ("host:port") now, or undefined for a node we cannot reach. */
  readonly resolve: (nodeId: number) => string | undefined;
  /** The largest response accepted, in bytes; default 64 MiB. */
  readonly responseBytesMax?: number;
  /** Leader stream reconnection backoff; default 100 ms doubling up to 1 s, jittered. */
  readonly backoff?: ReconnectBackoff;
  /** How long a leader stream may take to be admitted before it is given up; default 5 s. */
  readonly admitTimeoutMs?: number;
  /** The timer of leader stream backoff and admission; default real time. */
  readonly timer?: ClusterTimer;
  /** The jitter source, an integer in [0, maxExclusive); default node:crypto. */
  readonly randomInt?: (maxExclusive: number) => number;
  /** How often an idle connection is pinged; default 10 s, and 5 s to answer. */
  readonly keepalive?: { readonly timeMs: number; readonly timeoutMs: number };
}

/** Counters of a {@link ForwardClient}, since it was made. */
export interface ForwardClientStats {
  readonly forwardsSent: number;
  readonly forwardsAnswered: number;
  readonly forwardsFailed: number;
  readonly channelsOpened: number;
  /** Server certificates refused by the identity check. */
  readonly serversRefused: number;
  readonly watchStreamsOpened: number;
  /** Leader changes a peer sent that were out of range (the stream was ended). */
  readonly watchChangesInvalid: number;
}

/** A leader stream being followed; close() stops it for good. */
export interface LeaderWatch {
  readonly state: LeaderWatchState;
  close(): void;
}

/** Where a leader stream is: opening, admitted, waiting to reconnect, or closed. */
export type LeaderWatchState = 'connecting' | 'open' | 'waiting' | 'closed';

const responseBytesMaxDefault = 64 * 1024 * 1024;

/** The metadata every cluster call carries (the server admits calls by it). */
function clusterCallMetadata(selfId: number): Metadata {
  const metadata = new Metadata();
  metadata.set(ClusterMetadataKey.protocol, String(clusterProtocolVersion));
  metadata.set(ClusterMetadataKey.raftWire, String(raftWireVersion));
  metadata.set(ClusterMetadataKey.node, String(selfId));
  return metadata;
}

function peerErrorCodeOf(metadata: Metadata | undefined): string | undefined {
  const code = metadata?.get(ClusterMetadataKey.errorCode)[0];
  return typeof code === 'string' ? code : undefined;
}

function callFailure(peerId: number, error: ServiceError): ForwardError {
  const peerErrorCode = peerErrorCodeOf(error.metadata);
  const context = {
    peerId,
    grpcCode: error.code,
    cause: error,
    ...(peerErrorCode === undefined ? {} : { peerErrorCode }),
  };
  switch (error.code) {
    case status.UNAVAILABLE:
      return new ForwardError(
        'unavailable',
        `Retry on the current leader: node ${peerId} could not be reached`,
        context,
      );
    case status.DEADLINE_EXCEEDED:
      return new ForwardError(
        'deadline',
        `Retry with the same request id: node ${peerId} did not answer in time`,
        context,
      );
    default:
      return new ForwardError(
        'refused',
        `Check this node's cluster certificate and version: node ${peerId} refused the forward`,
        context,
      );
  }
}

interface PeerChannel {
  readonly address: string;
  readonly client: Client;
}

/** Forwarding to the active node, and leader streams, over the cluster port. */
export class ForwardClient {
  readonly #options: ForwardClientOptions;
  readonly #provider: ClusterCertificateProvider;
  readonly #channels = new Map<number, PeerChannel>();
  readonly #watches = new Set<PeerLeaderWatch>();
  #closed = false;
  #forwardsSent = 0;
  #forwardsAnswered = 0;
  #forwardsFailed = 0;
  #channelsOpened = 0;
  #serversRefused = 0;
  readonly #watchCounters = { streamsOpened: 0, changesInvalid: 0 };

  constructor(options: ForwardClientOptions) {
    const backoff = options.backoff ?? clusterBackoffDefault;
    assert(Number.isSafeInteger(backoff.initialMs) && backoff.initialMs > 0);
    assert(Number.isSafeInteger(backoff.maxMs) && backoff.maxMs >= backoff.initialMs);
    for (const bound of [options.responseBytesMax, options.admitTimeoutMs]) {
      assert(bound === undefined || (Number.isSafeInteger(bound) && bound > 0));
    }
    this.#options = options;
    this.#provider = new ClusterCertificateProvider(options.clusterTls);
  }

  /**
   * Sends `request` (which must carry its request id) to node `leaderId` and returns the
   * router's answer there. `deadlineMs` is how long the call may take, in ms from now.
   * Throws {@link ForwardError}: retryable when the node could not be reached or the deadline
   * passed (the request may have been served: resend it with the same request id).
   */
  async forward(
    leaderId: number,
    request: CoreRequest,
    options: { readonly deadlineMs: number },
  ): Promise<CoreResponse> {
    assert(!this.#closed, 'ForwardClient.forward() after close()');
    assert(leaderId !== this.#options.clusterTls.nodeId, 'a node never forwards to itself');
    const channel = this.#channelFor(leaderId);
    if (channel === undefined) {
      this.#forwardsFailed += 1;
      throw new ForwardError(
        'unavailable',
        `Retry once the cluster address of node ${leaderId} is known`,
        { peerId: leaderId },
      );
    }
    this.#forwardsSent += 1;
    try {
      const answer = await this.#call(channel, encodeForwardRequest(request), options.deadlineMs);
      const decoded = decodeForwardResponse(answer, this.#responseBytesMax());
      if (!decoded.ok) {
        throw new ForwardError(
          'invalidResponse',
          `Check the version of node ${leaderId}: ${decoded.details}`,
          { peerId: leaderId },
        );
      }
      this.#forwardsAnswered += 1;
      return decoded.response;
    } catch (error) {
      this.#forwardsFailed += 1;
      const failure =
        error instanceof ForwardError ? error : callFailure(leaderId, error as ServiceError);
      if (failure.reason === 'unavailable') {
        this.#dropChannel(leaderId, channel);
      }
      throw failure;
    }
  }

  /**
   * Follows node `peerId`'s leader stream: `onChange` gets the leader it knows at once, then
   * each change, in order. A stream that fails or ends opens again after a jittered backoff
   * (then `onChange` gets the peer's current leader again), until close().
   */
  watchLeader(peerId: number, onChange: (change: LeaderChange) => void): LeaderWatch {
    assert(!this.#closed, 'ForwardClient.watchLeader() after close()');
    const watch = new PeerLeaderWatch({
      selfId: this.#options.clusterTls.nodeId,
      resolve: () => this.#options.resolve(peerId),
      credentials: this.#credentialsFor(peerId),
      channelOptions: this.#channelOptions(peerId),
      backoff: this.#options.backoff ?? clusterBackoffDefault,
      admitTimeoutMs: this.#options.admitTimeoutMs ?? clusterAdmitTimeoutMsDefault,
      timer: this.#options.timer ?? realClusterTimer,
      randomInt: this.#options.randomInt ?? clusterRandomInt,
      counters: this.#watchCounters,
      onChange,
      onClose: (closed) => this.#watches.delete(closed),
    });
    this.#watches.add(watch);
    watch.start();
    return watch;
  }

  /** Closes every channel and leader stream; calls in flight fail with CANCELLED. */
  close(): void {
    this.#closed = true;
    for (const watch of [...this.#watches]) {
      watch.close();
    }
    for (const channel of this.#channels.values()) {
      channel.client.close();
    }
    this.#channels.clear();
    this.#provider.close();
  }

  /** Counters since the client was made. */
  stats(): ForwardClientStats {
    return {
      forwardsSent: this.#forwardsSent,
      forwardsAnswered: this.#forwardsAnswered,
      forwardsFailed: this.#forwardsFailed,
      channelsOpened: this.#channelsOpened,
      serversRefused: this.#serversRefused,
      watchStreamsOpened: this.#watchCounters.streamsOpened,
      watchChangesInvalid: this.#watchCounters.changesInvalid,
    };
  }

  #responseBytesMax(): number {
    return this.#options.responseBytesMax ?? responseBytesMaxDefault;
  }

  #call(
    channel: PeerChannel,
    message: ForwardRequestMessage,
    deadlineMs: number,
  ): Promise<ForwardResponseMessage> {
    const method = forwardHandleMethod;
    return new Promise((resolve, reject) => {
      channel.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        message,
        clusterCallMetadata(this.#options.clusterTls.nodeId),
        { deadline: Date.now() + Math.max(0, deadlineMs) },
        (error, response) => {
          if (error !== null || response === undefined) {
            reject(error ?? new Error('Forward.Handle ended without an answer'));
          } else {
            resolve(response);
          }
        },
      );
    });
  }

  #channelFor(peerId: number): PeerChannel | undefined {
    const address = this.#options.resolve(peerId);
    const cached = this.#channels.get(peerId);
    if (cached !== undefined && cached.address === address) {
      return cached;
    }
    if (cached !== undefined) {
      this.#dropChannel(peerId, cached);
    }
    if (address === undefined) {
      return undefined;
    }
    const client = new Client(address, this.#credentialsFor(peerId), this.#channelOptions(peerId));
    const channel = { address, client };
    this.#channels.set(peerId, channel);
    this.#channelsOpened += 1;
    return channel;
  }

  #dropChannel(peerId: number, channel: PeerChannel): void {
    if (this.#channels.get(peerId) === channel) {
      this.#channels.delete(peerId);
    }
    channel.client.close();
  }

  #channelOptions(peerId: number): ChannelOptions {
    const keepalive = this.#options.keepalive ?? clusterKeepaliveDefault;
    return {
      'grpc.keepalive_time_ms': keepalive.timeMs,
      'grpc.keepalive_timeout_ms': keepalive.timeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_receive_message_length': this.#responseBytesMax(),
      // NB: each channel its own subchannels, so closing one never affects the Raft streams.
      'grpc.use_local_subchannel_pool': 1,
      // NB: as in the Raft transport: no IP address as SNI (RFC 6066); identity is checked.
      'grpc.ssl_target_name_override': `node-${peerId}.cluster.coffer.invalid`,
    };
  }

  #credentialsFor(peerId: number): ChannelCredentials {
    return clusterChannelCredentials(this.#provider, (certificate) =>
      this.#verifyServer(certificate, peerId),
    );
  }

  #verifyServer(certificate: PeerCertificate, peerId: number): Error | undefined {
    try {
      this.#options.clusterTls.verifyPeer(certificate.raw, peerId);
      return undefined;
    } catch (error) {
      this.#serversRefused += 1;
      return new Error(
        `Refused the cluster port of node ${peerId}: its certificate does not name it`,
        { cause: error },
      );
    }
  }
}

/** What a {@link PeerLeaderWatch} needs. */
interface PeerLeaderWatchOptions {
  readonly selfId: number;
  readonly resolve: () => string | undefined;
  readonly credentials: ChannelCredentials;
  readonly channelOptions: ChannelOptions;
  readonly backoff: ReconnectBackoff;
  readonly admitTimeoutMs: number;
  readonly timer: ClusterTimer;
  readonly randomInt: (maxExclusive: number) => number;
  readonly counters: { streamsOpened: number; changesInvalid: number };
  readonly onChange: (change: LeaderChange) => void;
  readonly onClose: (watch: PeerLeaderWatch) => void;
}

type WatchStream = ClientReadableStream<LeaderChangeMessage>;

/**
 * One peer's leader stream, kept open:
 *
 *   connecting ──admitted──▶ open
 *     │ fails, or not admitted │ ends or fails
 *     ▼ within admitTimeoutMs  ▼
 *   waiting ◀──────────────────┘      close() from any state: closed
 *     └──backoff timer──▶ connecting
 *
 * The backoff starts over once a server admits a stream (it answers with initial metadata).
 */
class PeerLeaderWatch implements LeaderWatch {
  readonly #options: PeerLeaderWatchOptions;
  #client: Client | undefined;
  #stream: WatchStream | undefined;
  #retry: { cancel(): void } | undefined;
  #admitTimer: { cancel(): void } | undefined;
  #admitted = false;
  #failures = 0;
  #closed = false;
  #lastIndex = -1;

  constructor(options: PeerLeaderWatchOptions) {
    this.#options = options;
  }

  get state(): LeaderWatchState {
    if (this.#closed) {
      return 'closed';
    }
    if (this.#retry !== undefined) {
      return 'waiting';
    }
    return this.#admitted ? 'open' : 'connecting';
  }

  start(): void {
    this.#open();
  }

  close(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#retry?.cancel();
    this.#retry = undefined;
    this.#dropStream();
    this.#options.onClose(this);
  }

  #open(): void {
    const address = this.#options.resolve();
    if (address === undefined) {
      this.#scheduleRetry();
      return;
    }
    this.#options.counters.streamsOpened += 1;
    const client = new Client(address, this.#options.credentials, this.#options.channelOptions);
    const method = forwardWatchLeaderMethod;
    const stream = client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      {},
      clusterCallMetadata(this.#options.selfId),
    );
    this.#client = client;
    this.#stream = stream;
    this.#lastIndex = -1;
    this.#admitTimer = this.#options.timer.setTimer(this.#options.admitTimeoutMs, () => {
      this.#admitTimer = undefined;
      this.#ended(stream);
    });
    stream.on('metadata', () => {
      if (this.#stream === stream) {
        this.#admitTimer?.cancel();
        this.#admitTimer = undefined;
        this.#admitted = true;
        this.#failures = 0;
      }
    });
    stream.on('data', (message: LeaderChangeMessage) => {
      this.#receive(stream, message);
    });
    // NB: every failure also arrives as 'status'; this listener only keeps 'error' handled.
    stream.on('error', () => undefined);
    stream.on('status', () => {
      this.#ended(stream);
    });
  }

  #receive(stream: WatchStream, message: LeaderChangeMessage): void {
    if (this.#stream !== stream) {
      return;
    }
    const change = decodeLeaderChange(message);
    if (change === undefined) {
      this.#options.counters.changesInvalid += 1;
      this.#ended(stream);
      return;
    }
    // Invariant: within one stream, changes go on in index order, each once.
    if (change.index > this.#lastIndex) {
      this.#lastIndex = change.index;
      this.#options.onChange(change);
    }
  }

  #ended(stream: WatchStream): void {
    if (this.#stream !== stream) {
      return;
    }
    this.#dropStream();
    if (!this.#closed) {
      this.#scheduleRetry();
    }
  }

  #dropStream(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    this.#admitted = false;
    this.#admitTimer?.cancel();
    this.#admitTimer = undefined;
    stream?.cancel();
    this.#client?.close();
    this.#client = undefined;
  }

  #scheduleRetry(): void {
    assert(this.#retry === undefined && this.#stream === undefined);
    const delayMs = reconnectDelayMs(
      this.#options.backoff,
      this.#failures,
      this.#options.randomInt,
    );
    this.#failures += 1;
    this.#retry = this.#options.timer.setTimer(delayMs, () => {
      this.#retry = undefined;
      if (!this.#closed) {
        this.#open();
      }
    });
  }
}
