/**
 * Goal: a peer's queue is bounded, puts control messages before bulk ones, keeps each lane's
 * order, and cuts batches by encoded size; the reconnection delay doubles, is capped, and its
 * jitter stays within [base/2, base].
 *
 * Method: plain calls on hand-built messages (raft_transport_harness.ts); no sockets.
 */
import { describe, expect, it } from 'vitest';

import { decodeRaftMessage, encodeRaftMessage, type RaftMessage } from '@coffer/core';

import { RaftPeerQueue } from './raft_peer_queue.ts';
import { reconnectDelayMs } from './raft_peer_stream.ts';
import { raftMessage, tagOf } from './raft_transport_harness.ts';

function heartbeat(tag: number): RaftMessage {
  return raftMessage({ type: 'heartbeat', from: 1, to: 2, tag });
}

function append(tag: number, sizeBytes = 8): RaftMessage {
  return raftMessage({ type: 'append', from: 1, to: 2, entryBytes: [sizeBytes], tag });
}

function batchTags(batch: readonly Uint8Array[]): number[] {
  return batch.map((bytes) => {
    const decoded = decodeRaftMessage(bytes);
    if (!decoded.ok) {
      throw new Error(decoded.reason);
    }
    return tagOf(decoded.message);
  });
}

describe('RaftPeerQueue', () => {
  it('takes control messages before bulk ones, each lane in order', () => {
    const queue = new RaftPeerQueue(10);
    for (const message of [append(1), heartbeat(2), append(3), heartbeat(4)]) {
      expect(queue.push(message)).toBe('queued');
    }
    expect(batchTags(queue.takeBatch(1024 * 1024))).toEqual([2, 4, 1, 3]);
    expect(queue.size).toBe(0);
    expect(queue.takeBatch(1024 * 1024)).toEqual([]);
  });

  it('drops at its bound, and lets a control message displace the newest bulk one', () => {
    const queue = new RaftPeerQueue(2);
    expect(queue.push(append(1))).toBe('queued');
    expect(queue.push(append(2))).toBe('queued');
    expect(queue.push(append(3))).toBe('dropped');
    expect(queue.push(heartbeat(4))).toBe('queuedDisplacingBulk');
    expect(queue.push(heartbeat(5))).toBe('queuedDisplacingBulk');
    expect(queue.push(heartbeat(6))).toBe('dropped');
    expect(batchTags(queue.takeBatch(1024 * 1024))).toEqual([4, 5]);
  });

  it('cuts batches at bytesMax, and sends a larger message alone', () => {
    const queue = new RaftPeerQueue(10);
    const sizeBytes = encodeRaftMessage(append(0, 100)).byteLength;
    for (const tag of [1, 2, 3]) {
      queue.push(append(tag, 100));
    }
    queue.push(append(4, 1000));
    queue.push(append(5, 100));
    expect(batchTags(queue.takeBatch(2 * sizeBytes))).toEqual([1, 2]);
    expect(batchTags(queue.takeBatch(2 * sizeBytes))).toEqual([3]);
    expect(batchTags(queue.takeBatch(2 * sizeBytes))).toEqual([4]);
    expect(batchTags(queue.takeBatch(2 * sizeBytes))).toEqual([5]);
  });

  it('keeps order across many pushes and takes', () => {
    const queue = new RaftPeerQueue(1024);
    const taken: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) {
        queue.push(append(next++ % 256));
      }
      taken.push(...batchTags(queue.takeBatch(3 * encodeRaftMessage(append(0)).byteLength)));
    }
    while (queue.size > 0) {
      taken.push(...batchTags(queue.takeBatch(1024 * 1024)));
    }
    expect(taken).toEqual(Array.from({ length: next }, (_, i) => i % 256));
  });

  it('clear() drops everything and says how much', () => {
    const queue = new RaftPeerQueue(4);
    queue.push(append(1));
    queue.push(heartbeat(2));
    expect(queue.clear()).toBe(2);
    expect(queue.size).toBe(0);
  });
});

describe('reconnectDelayMs', () => {
  const backoff = { initialMs: 100, maxMs: 1_000 };

  it('doubles from initialMs up to maxMs at the top of the jitter', () => {
    const top = (maxExclusive: number): number => maxExclusive - 1;
    const delays = [0, 1, 2, 3, 4, 40].map((attempt) => reconnectDelayMs(backoff, attempt, top));
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('never goes below half the base at the bottom of the jitter', () => {
    const bottom = (): number => 0;
    const delays = [0, 1, 4].map((attempt) => reconnectDelayMs(backoff, attempt, bottom));
    expect(delays).toEqual([50, 100, 500]);
  });
});
