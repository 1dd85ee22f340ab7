// Goal: the ReadIndex queue releases a read only after a heartbeat round that began after it,
// and never queues again a context it has already answered (a duplicated request).
// Method: drive ReadOnlyQueue directly with hand-made contexts and ticks.
import { describe, expect, it } from 'vitest';
import { ReadOnlyQueue } from './read_only.ts';
import { asIndex, asNodeId } from './types.ts';

const context = new Uint8Array([7]);

describe('ReadOnlyQueue', () => {
  it('ReadOnlyQueue.add ignores a context it has already released', () => {
    const queue = new ReadOnlyQueue();
    queue.add({ index: asIndex(5), from: asNodeId(2), context }, 10);
    queue.recvAck(asNodeId(1), context, 10);
    expect(queue.advance(context)).toHaveLength(1);
    queue.add({ index: asIndex(9), from: asNodeId(2), context }, 12);
    expect(queue.size()).toBe(0);
    expect(queue.recvAck(asNodeId(3), context, 10)).toBeUndefined();
  });

  it('ReadOnlyQueue.recvAck ignores an answer to a round sent before the read was queued', () => {
    const queue = new ReadOnlyQueue();
    queue.add({ index: asIndex(5), from: asNodeId(1), context }, 20);
    const acks = queue.recvAck(asNodeId(2), context, 19);
    expect(acks?.has(asNodeId(2))).toBe(false);
    expect(queue.recvAck(asNodeId(2), context, 20)?.has(asNodeId(2))).toBe(true);
  });

  it('ReadOnlyQueue.advance releases the named read and every read queued before it', () => {
    const queue = new ReadOnlyQueue();
    const other = new Uint8Array([8]);
    queue.add({ index: asIndex(5), from: asNodeId(1), context }, 1);
    queue.add({ index: asIndex(6), from: asNodeId(1), context: other }, 1);
    expect(queue.advance(other).map((r) => r.index)).toEqual([5, 6]);
    expect(queue.size()).toBe(0);
  });
});
