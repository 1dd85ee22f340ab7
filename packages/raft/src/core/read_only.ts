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

/** The queue of reads waiting for leadership confirmation. */
export class ReadOnlyQueue {
  #pending = new Map<string, ReadIndexRequest>();
  #queue: string[] = [];

  /** Queues a read at the current commit index; a repeated context is ignored. */
  add(request: Omit<ReadIndexRequest, 'acks'>): void {
    const key = contextKey(request.context);
    if (this.#pending.has(key)) {
      return;
    }
    this.#pending.set(key, { ...request, acks: new Set() });
    this.#queue.push(key);
  }

  /** Records that `from` answered the heartbeat round for context; returns who has. */
  recvAck(from: NodeId, context: Uint8Array): ReadonlySet<NodeId> | undefined {
    const request = this.#pending.get(contextKey(context));
    if (request === undefined) {
      return undefined;
    }
    request.acks.add(from);
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
      if (request !== undefined) {
        released.push(request);
      }
    }
    return released;
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
