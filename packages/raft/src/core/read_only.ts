/**
 * The leader's queue of ReadIndex requests waiting for a heartbeat round to confirm that it
 * is still the leader (Raft thesis §6.4). One round confirms every request queued before the
 * one it carries, so many reads share one round.
 *
 * Invariant: requests are released in the order they were queued.
 */
import type { LogIndex, NodeId } from './types.ts';

/** A read waiting for confirmation: who asked, what they called it, the commit at the time. */
export interface ReadIndexRequest {
  readonly index: LogIndex;
  readonly from: NodeId;
  readonly context: Uint8Array;
  readonly acks: Set<NodeId>;
}

/** Hex key of a context, so requests can be found by their context. */
export function contextKey(context: Uint8Array): string {
  let key = '';
  for (const byte of context) {
    key += byte.toString(16).padStart(2, '0');
  }
  return key;
}

/**
 * How many answered contexts the queue remembers. NB: a duplicated ReadIndex request (the
 * network may deliver one twice) must not queue again once answered: a late answer to the old
 * round could then release it, and every read queued before it, without a round after them.
 */
const releasedContextsMax = 4096;

/** The queue of reads waiting for leadership confirmation. */
export class ReadOnlyQueue {
  #pending = new Map<string, ReadIndexRequest>();
  #queue: string[] = [];
  /** The leader tick at which each pending context was queued. */
  #queuedTick = new Map<string, number>();
  /** Contexts answered lately, oldest first, so a duplicated request does not queue again. */
  #released = new Set<string>();

  /** Queues a read at the commit index, at leader tick `tick`; a repeated context is ignored. */
  add(request: Omit<ReadIndexRequest, 'acks'>, tick = 0): void {
    const key = contextKey(request.context);
    if (this.#pending.has(key) || this.#released.has(key)) {
      return;
    }
    this.#pending.set(key, { ...request, acks: new Set() });
    this.#queuedTick.set(key, tick);
    this.#queue.push(key);
  }

  /**
   * Records that `from` answered the heartbeat round for context, sent at leader tick
   * `sentTick`; returns who has.
   *
   * NB: an answer to a round sent before the context was queued does not count. A context can
   * be queued again (a duplicated ReadIndex from a follower, after the first copy was answered),
   * and a late answer to the old round would complete a quorum for it and release every read
   * queued before it, with no round after those reads (simulator, reads profile).
   */
  recvAck(
    from: NodeId,
    context: Uint8Array,
    sentTick = Number.POSITIVE_INFINITY,
  ): ReadonlySet<NodeId> | undefined {
    const key = contextKey(context);
    const request = this.#pending.get(key);
    if (request === undefined) {
      return undefined;
    }
    if (sentTick >= (this.#queuedTick.get(key) ?? 0)) {
      request.acks.add(from);
    }
    return request.acks;
  }

  /** Releases the request for context and every request queued before it. */
  advance(context: Uint8Array): ReadIndexRequest[] {
    const key = contextKey(context);
    const position = this.#queue.indexOf(key);
    if (position < 0) {
      return [];
    }
    const released: ReadIndexRequest[] = [];
    for (const k of this.#queue.splice(0, position + 1)) {
      const request = this.#pending.get(k);
      this.#pending.delete(k);
      this.#queuedTick.delete(k);
      this.#remember(k);
      if (request !== undefined) {
        released.push(request);
      }
    }
    return released;
  }

  /** Remembers a released context; forgets the oldest beyond releasedContextsMax. */
  #remember(key: string): void {
    this.#released.add(key);
    if (this.#released.size > releasedContextsMax) {
      const oldest = this.#released.values().next().value;
      if (oldest !== undefined) {
        this.#released.delete(oldest);
      }
    }
  }

  /** The context of the newest queued request, which a heartbeat round should carry. */
  lastPendingContext(): Uint8Array | undefined {
    const key = this.#queue[this.#queue.length - 1];
    return key === undefined ? undefined : this.#pending.get(key)?.context;
  }

  size(): number {
    return this.#queue.length;
  }
}
