/**
 * One peer's side of the Raft transport: its queue, and the one long-lived stream that drains
 * it to the peer's cluster port.
 *
 *   idle ──message──▶ connecting ──admitted──▶ open
 *     ▲                  │ fails, or not admitted │ ends or fails
 *     │                  ▼ within admitTimeoutMs  ▼
 *     └──backoff timer── waiting ◀────────────────┘        close() from any state: closed
 *        (opens again at once if messages wait)
 *
 * The stream is opened lazily, on the first message, and written to once the server admitted
 * it (it answers with its initial metadata), so messages wait in the queue, not in a connection
 * that may never come up. When the stream ends or fails (the peer went
 * away, refused us, or our certificate check refused it), it is dropped with its channel, and
 * the next one opens after a jittered exponential backoff; the backoff starts over once a
 * server admits a stream. Messages written to a stream that
 * failed are lost, which Raft tolerates; the ones still queued go on the next stream.
 *
 * Writes respect backpressure: while the stream's buffer is full (write() returned false) the
 * queue keeps accepting up to its bound and the rest waits for 'drain'.
 *
 * NB: grpc-js has no connect timeout: a peer behind a partition that drops packets would hold
 * a stream in connecting until the kernel gives up on TCP (minutes), hence admitTimeoutMs.
 * NB: each attempt gets a fresh channel with its own subchannel pool, so grpc-js' own
 * reconnection backoff (which runs on real time and reaches minutes) never adds to ours, and
 * each attempt handshakes with the current certificates and the peer's current address.
 */
import assert from 'node:assert/strict';

import {
  Client,
  Metadata,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
  type StatusObject,
} from '@grpc/grpc-js';

import { raftWireVersion, type RaftMessage } from '@coffer/core';

import { RaftPeerQueue } from './raft_peer_queue.ts';
import {
  ClusterMetadataKey,
  clusterProtocolVersion,
  raftStreamMethod,
  type RaftBatch,
  type RaftStreamReply,
} from './raft_service.ts';

/** A timer, faked in tests. */
export interface ClusterTimer {
  setTimer(delayMs: number, callback: () => void): { cancel(): void };
}

/** Reconnection backoff bounds: the first delay and the cap it doubles up to. */
export interface ReconnectBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** Counters one peer stream adds to (the transport's, shared by every peer). */
export interface PeerStreamCounters {
  messagesSent: number;
  messagesDroppedQueueFull: number;
  batchesSent: number;
  streamsOpened: number;
  streamsAdmitted: number;
  reconnects: number;
  /** Streams given up on because the server did not admit them within admitTimeoutMs. */
  streamsTimedOut: number;
  /** Times a stream pushed back (write() returned false) and the queue waited for 'drain'. */
  drainWaits: number;
}

/** What a {@link RaftPeerStream} needs. */
export interface RaftPeerStreamOptions {
  readonly selfId: number;
  readonly peerId: number;
  /** The peer's cluster address now, or undefined when it has none. */
  readonly resolve: () => string | undefined;
  /** Credentials that accept only a server certificate naming this peer. */
  readonly credentials: ChannelCredentials;
  readonly channelOptions: ChannelOptions;
  readonly queueMessagesMax: number;
  readonly batchBytesMax: number;
  readonly backoff: ReconnectBackoff;
  /** How long a new stream may wait for the server to admit it before it is given up. */
  readonly admitTimeoutMs: number;
  readonly timer: ClusterTimer;
  readonly randomInt: (maxExclusive: number) => number;
  readonly counters: PeerStreamCounters;
  /** Told each time the peer ends a stream with a refusal code. */
  readonly onRefused?: (code: string) => void;
  /**
   * Told each time a stream the peer had admitted ends or fails: the peer's process died, its
   * link went down, or it closed the stream. Raft uses it to stop counting on a lost leader.
   */
  readonly onLost?: () => void;
}

type Stream = ClientDuplexStream<RaftBatch, RaftStreamReply>;

/** Where a peer's stream is (see the diagram above). */
export type PeerStreamState = 'idle' | 'connecting' | 'open' | 'waiting' | 'closed';

/** The jittered delay before attempt `attempt` (0-based): half fixed, half random. */
export function reconnectDelayMs(
  backoff: ReconnectBackoff,
  attempt: number,
  randomInt: (maxExclusive: number) => number,
): number {
  const baseMs = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  const fixedMs = Math.floor(baseMs / 2);
  return fixedMs + randomInt(baseMs - fixedMs + 1);
}

/** The queue and stream to one peer. */
export class RaftPeerStream {
  readonly #options: RaftPeerStreamOptions;
  readonly #queue: RaftPeerQueue;
  #client: Client | undefined;
  #stream: Stream | undefined;
  #retry: { cancel(): void } | undefined;
  #admitTimer: { cancel(): void } | undefined;
  #admitted = false;
  #waitingDrain = false;
  #flushScheduled = false;
  #failures = 0;
  #closed = false;
  #lastRefusalCode: string | undefined;

  constructor(options: RaftPeerStreamOptions) {
    this.#options = options;
    this.#queue = new RaftPeerQueue(options.queueMessagesMax);
  }

  /** How many messages wait. */
  get queued(): number {
    return this.#queue.size;
  }

  /** Where the stream is now. */
  get state(): PeerStreamState {
    if (this.#closed) {
      return 'closed';
    }
    if (this.#retry !== undefined) {
      return 'waiting';
    }
    if (this.#stream === undefined) {
      return 'idle';
    }
    return this.#admitted ? 'open' : 'connecting';
  }

  /** The coffer-error-code of the last refusal the peer sent, if any. */
  get lastRefusalCode(): string | undefined {
    return this.#lastRefusalCode;
  }

  /** Queues a message (or drops it when the queue is full) and schedules a flush. */
  enqueue(message: RaftMessage): void {
    if (this.#closed) {
      return;
    }
    const outcome = this.#queue.push(message);
    if (outcome !== 'queued') {
      this.#options.counters.messagesDroppedQueueFull += 1;
    }
    if (!this.#flushScheduled) {
      // NB: one flush per turn of the event loop gathers every send() of a Ready into batches.
      this.#flushScheduled = true;
      queueMicrotask(() => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
  }

  /** Ends the stream and its channel, and drops what waits. */
  close(): void {
    this.#closed = true;
    this.#retry?.cancel();
    this.#retry = undefined;
    this.#queue.clear();
    this.#dropStream();
  }

  #flush(): void {
    if (this.#closed || this.#retry !== undefined || this.#queue.size === 0) {
      return;
    }
    const stream = this.#stream ?? this.#open();
    if (stream === undefined || !this.#admitted) {
      return;
    }
    while (!this.#waitingDrain && this.#queue.size > 0) {
      const messages = this.#queue.takeBatch(this.#options.batchBytesMax);
      this.#options.counters.messagesSent += messages.length;
      this.#options.counters.batchesSent += 1;
      if (!stream.write({ messages })) {
        this.#waitingDrain = true;
        this.#options.counters.drainWaits += 1;
        stream.once('drain', () => {
          if (this.#stream === stream) {
            this.#waitingDrain = false;
            this.#flush();
          }
        });
      }
    }
  }

  #open(): Stream | undefined {
    const address = this.#options.resolve();
    if (address === undefined) {
      this.#scheduleRetry();
      return undefined;
    }
    const counters = this.#options.counters;
    if (this.#failures > 0) {
      counters.reconnects += 1;
    }
    counters.streamsOpened += 1;
    const client = new Client(address, this.#options.credentials, {
      ...this.#options.channelOptions,
      'grpc.use_local_subchannel_pool': 1,
    });
    const metadata = new Metadata();
    metadata.set(ClusterMetadataKey.protocol, String(clusterProtocolVersion));
    metadata.set(ClusterMetadataKey.raftWire, String(raftWireVersion));
    metadata.set(ClusterMetadataKey.node, String(this.#options.selfId));
    const method = raftStreamMethod;
    const stream = client.makeBidiStreamRequest<RaftBatch, RaftStreamReply>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      metadata,
    );
    this.#client = client;
    this.#stream = stream;
    this.#watch(stream);
    this.#admitTimer = this.#options.timer.setTimer(this.#options.admitTimeoutMs, () => {
      this.#admitTimer = undefined;
      this.#options.counters.streamsTimedOut += 1;
      this.#dropStream();
      this.#scheduleRetry();
    });
    return stream;
  }

  #watch(stream: Stream): void {
    stream.on('metadata', () => {
      // The server admitted us: the next failure starts the backoff over.
      if (this.#stream === stream) {
        this.#admitTimer?.cancel();
        this.#admitTimer = undefined;
        this.#admitted = true;
        this.#failures = 0;
        this.#options.counters.streamsAdmitted += 1;
        this.#flush();
      }
    });
    // NB: the server sends no messages; reading keeps the stream flowing to its status.
    stream.on('data', () => undefined);
    // NB: every failure also arrives as 'status'; this listener only keeps 'error' handled.
    stream.on('error', () => undefined);
    stream.on('status', (status: StatusObject) => {
      this.#ended(stream, status);
    });
  }

  #ended(stream: Stream, status: StatusObject): void {
    if (this.#stream !== stream) {
      return;
    }
    const code = status.metadata.get(ClusterMetadataKey.errorCode)[0];
    if (typeof code === 'string') {
      this.#lastRefusalCode = code;
      this.#options.onRefused?.(code);
    }
    const wasAdmitted = this.#admitted;
    this.#dropStream();
    if (!this.#closed) {
      this.#scheduleRetry();
      if (wasAdmitted) {
        this.#options.onLost?.();
      }
    }
  }

  #dropStream(): void {
    const stream = this.#stream;
    const client = this.#client;
    this.#stream = undefined;
    this.#client = undefined;
    this.#admitTimer?.cancel();
    this.#admitTimer = undefined;
    this.#admitted = false;
    this.#waitingDrain = false;
    if (stream !== undefined) {
      stream.end();
      stream.cancel();
    }
    client?.close();
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
      this.#flush();
    });
  }
}
