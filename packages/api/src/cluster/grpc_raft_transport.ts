/**
 * The Raft Transport port over the cluster channel: mutual-TLS gRPC streams, one per peer this
 * node sends to (docs/design/cluster.md §2). Messages from peers come in through the node's
 * {@link ClusterServer}, which admits each stream and checks every message's sender.
 *
 * send() never blocks and never throws: it sorts each message onto its receiver's bounded
 * queue, and a full queue drops (Raft resends what is lost, and a slow peer must never hold up
 * the leader). Within a send, votes, heartbeats and responses go before appends and snapshot
 * pieces. RaftPeerStream (raft_peer_stream.ts) drains each queue over one long-lived stream.
 *
 * Every stream this node opens checks the server's certificate twice: the TLS handshake checks
 * the chain against the cluster's trusted CAs, and ClusterTls.verifyPeer must find that it names
 * the very node we dialled, so a server presenting another node's certificate is refused.
 */
import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';

import type { ChannelOptions } from '@grpc/grpc-js';

import { raftMessageRoute, type RaftMessage, type Transport } from '@coffer/core';

import {
  clusterAdmitTimeoutMsDefault,
  clusterBackoffDefault,
  clusterKeepaliveDefault,
  clusterRandomInt,
  realClusterTimer,
} from './cluster_timing.ts';
import { ClusterCertificateProvider, clusterChannelCredentials } from './cluster_credentials.ts';
import type { ClusterTls } from './cluster_tls.ts';
import {
  RaftPeerStream,
  type ClusterTimer,
  type PeerStreamCounters,
  type PeerStreamState,
  type ReconnectBackoff,
} from './raft_peer_stream.ts';

export type { ClusterTimer, PeerStreamState, ReconnectBackoff } from './raft_peer_stream.ts';

/** Where the transport registers for the messages peers send (a {@link ClusterServer}). */
export interface RaftMessageSource {
  setRaftHandler(handler: (message: RaftMessage) => void): void;
}

/** Options of a {@link GrpcRaftTransport}. */
export interface GrpcRaftTransportOptions {
  /** This node's cluster identity: its id, its TLS material and the peer check. */
  readonly clusterTls: ClusterTls;
  /** This node's cluster listener, which delivers what peers send. */
  readonly server: RaftMessageSource;
  /** A peer's cluster address ("host:port") now, or undefined for a node we cannot reach. */
  readonly resolve: (nodeId: number) => string | undefined;
  /** Messages waiting per peer before new ones are dropped; default 4096. */
  readonly queueMessagesMax?: number;
  /** Encoded bytes per batch (one larger message goes alone); default 1 MiB. */
  readonly batchBytesMax?: number;
  /** Reconnection backoff; default 100 ms doubling up to 1 s, each delay jittered. */
  readonly backoff?: ReconnectBackoff;
  /** How long a new stream may wait to be admitted before it is given up; default 5 s. */
  readonly admitTimeoutMs?: number;
  /** The timer of the backoff and the admission timeout; default real time. */
  readonly timer?: ClusterTimer;
  /** The jitter source, an integer in [0, maxExclusive); default node:crypto. */
  readonly randomInt?: (maxExclusive: number) => number;
  /**
   * How often an idle connection is pinged, so a peer that vanished without closing (a
   * partition, a power cut) is noticed; default 10 s, and 5 s to answer.
   */
  readonly keepalive?: { readonly timeMs: number; readonly timeoutMs: number };
  /** Told when a peer refuses this node's stream, with the peer's id and the code. */
  readonly onRefused?: (peerId: number, code: string) => void;
}

/** Counters of a {@link GrpcRaftTransport}, since it was made. */
export interface GrpcRaftTransportStats {
  /** Messages written to a stream (a stream that then failed may have lost some). */
  readonly messagesSent: number;
  readonly batchesSent: number;
  /** Messages dropped because their peer's queue was full. */
  readonly messagesDroppedQueueFull: number;
  /** Messages to a node with no address, to this node, or sent after close(). */
  readonly messagesDroppedUnroutable: number;
  readonly streamsOpened: number;
  /** Streams a server accepted (answered with its initial metadata). */
  readonly streamsAdmitted: number;
  /** Streams opened again after one ended or failed. */
  readonly reconnects: number;
  /** Streams given up on because the server did not admit them in time. */
  readonly streamsTimedOut: number;
  /** Times a stream pushed back and its queue waited for it to drain. */
  readonly drainWaits: number;
  /** Server certificates refused by the identity check. */
  readonly serversRefused: number;
}

/** One peer's stream, for diagnosis and health. */
export interface PeerStatus {
  readonly state: PeerStreamState;
  readonly queuedMessages: number;
  /** The coffer-error-code of the last refusal the peer sent, if any. */
  readonly lastRefusalCode: string | undefined;
}

const queueMessagesMaxDefault = 4096;
const batchBytesMaxDefault = 1024 * 1024;

/** Raft's Transport over the cluster port. */
export class GrpcRaftTransport implements Transport {
  readonly #options: GrpcRaftTransportOptions;
  readonly #provider: ClusterCertificateProvider;
  readonly #peers = new Map<number, RaftPeerStream>();
  readonly #counters: PeerStreamCounters = {
    messagesSent: 0,
    messagesDroppedQueueFull: 0,
    batchesSent: 0,
    streamsOpened: 0,
    streamsAdmitted: 0,
    reconnects: 0,
    streamsTimedOut: 0,
    drainWaits: 0,
  };
  #handler: ((message: RaftMessage) => void) | undefined;
  #onPeerLost: ((peerId: number) => void) | undefined;
  #messagesDroppedUnroutable = 0;
  #serversRefused = 0;
  #closed = false;

  constructor(options: GrpcRaftTransportOptions) {
    const backoff = options.backoff ?? clusterBackoffDefault;
    assert(Number.isSafeInteger(backoff.initialMs) && backoff.initialMs > 0);
    assert(Number.isSafeInteger(backoff.maxMs) && backoff.maxMs >= backoff.initialMs);
    for (const bound of [options.queueMessagesMax, options.batchBytesMax, options.admitTimeoutMs]) {
      assert(bound === undefined || (Number.isSafeInteger(bound) && bound > 0));
    }
    this.#options = options;
    this.#provider = new ClusterCertificateProvider(options.clusterTls);
    options.server.setRaftHandler((message) => {
      // NB: messages that arrive before listen() or after close() have nowhere to go; Raft
      // resends what it still needs.
      if (!this.#closed) {
        this.#handler?.(message);
      }
    });
  }

  send(messages: readonly RaftMessage[]): void {
    // Control messages of this send go first; the peer queues keep that order per lane.
    for (const message of messages) {
      this.#route(message);
    }
  }

  listen(handler: (message: RaftMessage) => void): void {
    this.#handler = handler;
  }

  /** Tells `handler` when an admitted stream to a peer ends or fails (RaftPeerStream). */
  onPeerLost(handler: (peerId: number) => void): void {
    this.#onPeerLost = handler;
  }

  /** Ends every stream and channel; later sends are dropped. */
  close(): Promise<void> {
    this.#closed = true;
    for (const peer of this.#peers.values()) {
      peer.close();
    }
    this.#peers.clear();
    this.#provider.close();
    return Promise.resolve();
  }

  /** Counters since the transport was made. */
  stats(): GrpcRaftTransportStats {
    return {
      ...this.#counters,
      messagesDroppedUnroutable: this.#messagesDroppedUnroutable,
      serversRefused: this.#serversRefused,
    };
  }

  /** Where the stream to `peerId` is, or undefined when nothing was ever sent to it. */
  peerStatus(peerId: number): PeerStatus | undefined {
    const peer = this.#peers.get(peerId);
    return peer === undefined
      ? undefined
      : {
          state: peer.state,
          queuedMessages: peer.queued,
          lastRefusalCode: peer.lastRefusalCode,
        };
  }

  #route(message: RaftMessage): void {
    const { to } = raftMessageRoute(message);
    if (this.#closed || to === this.#options.clusterTls.nodeId) {
      this.#messagesDroppedUnroutable += 1;
      return;
    }
    const peer = this.#peers.get(to) ?? this.#addPeer(to);
    if (peer === undefined) {
      this.#messagesDroppedUnroutable += 1;
      return;
    }
    peer.enqueue(message);
  }

  #addPeer(peerId: number): RaftPeerStream | undefined {
    if (this.#options.resolve(peerId) === undefined) {
      return undefined;
    }
    const keepalive = this.#options.keepalive ?? clusterKeepaliveDefault;
    const channelOptions: ChannelOptions = {
      'grpc.keepalive_time_ms': keepalive.timeMs,
      'grpc.keepalive_timeout_ms': keepalive.timeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      // NB: TLS would otherwise send the peer's IP address as SNI, which RFC 6066 forbids (Node
      // warns, DEP0123); the name is never checked, the certificate's node identity is.
      'grpc.ssl_target_name_override': `node-${peerId}.cluster.coffer.invalid`,
    };
    const peer = new RaftPeerStream({
      selfId: this.#options.clusterTls.nodeId,
      peerId,
      resolve: () => this.#options.resolve(peerId),
      credentials: clusterChannelCredentials(this.#provider, (certificate) =>
        this.#verifyServer(certificate, peerId),
      ),
      channelOptions,
      queueMessagesMax: this.#options.queueMessagesMax ?? queueMessagesMaxDefault,
      batchBytesMax: this.#options.batchBytesMax ?? batchBytesMaxDefault,
      backoff: this.#options.backoff ?? clusterBackoffDefault,
      admitTimeoutMs: this.#options.admitTimeoutMs ?? clusterAdmitTimeoutMsDefault,
      timer: this.#options.timer ?? realClusterTimer,
      randomInt: this.#options.randomInt ?? clusterRandomInt,
      counters: this.#counters,
      onRefused: (code) => {
        this.#options.onRefused?.(peerId, code);
      },
      onLost: () => {
        if (!this.#closed) {
          this.#onPeerLost?.(peerId);
        }
      },
    });
    this.#peers.set(peerId, peer);
    return peer;
  }

  #verifyServer(certificate: PeerCertificate, peerId: number): Error | undefined {
    try {
      this.#options.clusterTls.verifyPeer(certificate.raw, peerId);
      return undefined;
    } catch (error) {
      this.#serversRefused += 1;
      return new Error(
        `Refused the cluster port of node ${peerId}: its certificate does not name it`,
        {
          cause: error,
        },
      );
    }
  }
}
