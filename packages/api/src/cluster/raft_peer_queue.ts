/**
 * The bounded queue of Raft messages waiting for one peer's stream.
 *
 * Two lanes: control messages (votes, heartbeats, responses, reads) and bulk ones (appends and
 * snapshot pieces). A batch takes control messages first, so a heartbeat is not stuck behind a
 * megabyte of entries and elections stay quiet while a follower catches up. Each lane keeps its
 * order; Raft already tolerates reordering between them, as between any two network messages.
 *
 * The bound counts both lanes. When it is reached the message is dropped rather than waited
 * for: Raft resends what is lost, and a slow peer must never block the leader. A control message
 * still finds room by displacing the newest bulk message (the oldest appends are the ones the
 * follower needs next, and a gap at the end costs it nothing but a later resend).
 */
import assert from 'node:assert/strict';

import { encodeRaftMessage, isBulkRaftMessage, type RaftMessage } from '@coffer/core';

/** A FIFO with amortized O(1) removal from the front. */
class Lane {
  #items: RaftMessage[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(message: RaftMessage): void {
    this.#items.push(message);
  }

  peek(): RaftMessage | undefined {
    return this.#items[this.#head];
  }

  shift(): void {
    this.#head += 1;
    if (this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Removes the newest message; the lane must not be empty. */
  pop(): void {
    assert(this.size > 0);
    this.#items.pop();
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/** What {@link RaftPeerQueue.push} did with a message. */
export type PushOutcome = 'queued' | 'queuedDisplacingBulk' | 'dropped';

/** The messages waiting for one peer, bounded, control before bulk. */
export class RaftPeerQueue {
  readonly #control = new Lane();
  readonly #bulk = new Lane();
  readonly #messagesMax: number;

  constructor(messagesMax: number) {
    assert(Number.isSafeInteger(messagesMax) && messagesMax > 0);
    this.#messagesMax = messagesMax;
  }

  /** How many messages wait. */
  get size(): number {
    return this.#control.size + this.#bulk.size;
  }

  /** Queues a message unless the queue is full (see the module comment for what gives way). */
  push(message: RaftMessage): PushOutcome {
    const bulk = isBulkRaftMessage(message);
    if (this.size < this.#messagesMax) {
      (bulk ? this.#bulk : this.#control).push(message);
      return 'queued';
    }
    if (bulk || this.#bulk.size === 0) {
      return 'dropped';
    }
    this.#bulk.pop();
    this.#control.push(message);
    return 'queuedDisplacingBulk';
  }

  /**
   * Takes the next batch, encoded: control messages first, then bulk, up to `bytesMax` of
   * encoded messages (a single larger message goes alone). Empty when nothing waits.
   */
  takeBatch(bytesMax: number): Uint8Array[] {
    const batch: Uint8Array[] = [];
    let sizeBytes = 0;
    for (const lane of [this.#control, this.#bulk]) {
      for (let message = lane.peek(); message !== undefined; message = lane.peek()) {
        const bytes = encodeRaftMessage(message);
        if (batch.length > 0 && sizeBytes + bytes.byteLength > bytesMax) {
          return batch;
        }
        lane.shift();
        batch.push(bytes);
        sizeBytes += bytes.byteLength;
      }
    }
    return batch;
  }

  /** Drops everything waiting; returns how many messages that was. */
  clear(): number {
    const size = this.size;
    this.#control.clear();
    this.#bulk.clear();
    return size;
  }
}
