// Goal: snapshots sent in chunks (Raft Figure 13 InstallSnapshot: offset, data, done; thesis
// §5.3 and §5.4.1): chunks go in order and one at a time; duplicates and out-of-order chunks
// are answered with the next expected offset and never staged twice; a lost chunk is sent
// again on the next heartbeat response; a snapshot replaced mid-transfer restarts at offset 0;
// the follower core holds no snapshot data, only hands each chunk to the driver.
// Method: InMemoryCluster with a small snapshotChunkSizeBytes and a message pump that delivers
// one message at a time, handling every Ready in between (so each chunk is observed), plus
// single Raft followers stepped with hand-built chunks for the exact replies.
import { describe, expect, it } from 'vitest';
import { InMemoryCluster, RecordingStateMachine } from '../testing.ts';
import { makeConfig } from './config.ts';
import { MemoryStorage } from './memory_storage.ts';
import { ProgressState } from './progress.ts';
import { Raft } from './raft.ts';
import type { Ready } from './raw_node.ts';
import {
  asIndex,
  asNodeId,
  asTerm,
  makeMessage,
  MessageType,
  type Message,
  type SnapshotChunk,
  type SnapshotMetadata,
} from './types.ts';

/** What node id applied, read from its RecordingStateMachine. */
function recorded(cluster: InMemoryCluster, id: number): string[] {
  const stateMachine = cluster.node(id).stateMachine;
  if (!(stateMachine instanceof RecordingStateMachine)) {
    throw new Error(`Node ${id} does not record what it applies`);
  }
  return stateMachine.applied;
}

const chunkSizeBytes = 8;

function applied(cluster: InMemoryCluster, id: number): string[] {
  return recorded(cluster, id);
}

interface PumpHooks {
  /** Return true to drop the message. */
  drop?: (m: Message) => boolean;
  onReady?: (id: number, ready: Ready) => void;
  beforeDeliver?: (m: Message) => void;
}

/** Delivers one message at a time, handling every Ready in between; returns what was sent. */
function pump(cluster: InMemoryCluster, hooks: PumpHooks = {}): Message[] {
  const seen: Message[] = [];
  for (let step = 0; step < 100_000; step++) {
    let moved = false;
    for (const [id, node] of cluster.nodes) {
      if (cluster.isUp(id) && node.raw.hasReady()) {
        const { ready, messages } = node.handleReady();
        hooks.onReady?.(id, ready);
        cluster.queue.push(...messages);
        moved = true;
      }
    }
    const m = cluster.queue.shift();
    if (m !== undefined) {
      seen.push(m);
      hooks.beforeDeliver?.(m);
      if (hooks.drop?.(m) !== true) {
        cluster.deliver(m);
      }
      moved = true;
    }
    if (!moved) {
      return seen;
    }
  }
  throw new Error('pump did not settle');
}

function tickAndPump(cluster: InMemoryCluster, hooks: PumpHooks = {}, ticks = 1): Message[] {
  const seen: Message[] = [];
  for (let i = 0; i < ticks; i++) {
    cluster.tickAll();
    seen.push(...pump(cluster, hooks));
  }
  return seen;
}

/** Leader 1 with a compacted log; node 3 missed every entry and needs the snapshot. */
function laggingCluster(): InMemoryCluster {
  const cluster = new InMemoryCluster({
    voters: [1, 2, 3],
    node: { snapshotChunkSizeBytes: chunkSizeBytes },
  });
  cluster.elect(1);
  cluster.isolate(3);
  for (let i = 0; i < 5; i++) {
    cluster.propose(1, `value-${i}`);
  }
  cluster.node(1).compact();
  cluster.heal();
  return cluster;
}

function snapshotMessagesTo(messages: readonly Message[], to: number): SnapshotChunk[] {
  return messages
    .filter((m) => m.type === MessageType.snapshot && m.to === to)
    .flatMap((m) => (m.snapshot === undefined ? [] : [m.snapshot]));
}

describe('chunked snapshot transfer', () => {
  it('Raft sends a snapshot in order, one chunk at a time, and the follower installs it', () => {
    // Reference: Raft §7 and Figure 13 — chunks at increasing offsets, the last with done.
    const cluster = laggingCluster();
    const leaderData = cluster.node(1).storage.snapshotData();
    expect(leaderData.byteLength).toBeGreaterThan(3 * chunkSizeBytes);
    let inFlight = 0;
    let inFlightMax = 0;
    const seen = tickAndPump(
      cluster,
      {
        beforeDeliver: (m) => {
          if (m.type === MessageType.snapshot) {
            inFlight--;
          }
        },
        onReady: (id, ready) => {
          if (id === 1) {
            inFlight += ready.messages.filter((m) => m.type === MessageType.snapshot).length;
            inFlightMax = Math.max(inFlightMax, inFlight);
          }
        },
      },
      3,
    );
    const chunks = snapshotMessagesTo(seen, 3);
    expect(chunks.length).toBe(Math.ceil(leaderData.byteLength / chunkSizeBytes));
    let offset = 0;
    for (const chunk of chunks) {
      expect(chunk.offsetBytes).toBe(offset);
      expect(chunk.data.byteLength).toBeLessThanOrEqual(chunkSizeBytes);
      offset += chunk.data.byteLength;
    }
    expect(chunks.map((c) => c.done)).toEqual([...chunks.slice(1).map(() => false), true]);
    expect(inFlightMax).toBe(1);
    expect(cluster.node(3).storage.snapshotData()).toEqual(leaderData);
    expect(applied(cluster, 3)).toEqual(applied(cluster, 1));
    expect(cluster.node(1).raw.raft.progress.get(asNodeId(3))?.state).toBe(ProgressState.replicate);
  });

  it('Raft on the follower hands each chunk to the driver and keeps no snapshot data itself', () => {
    // STYLE.md §3.3 and the Figure 13 design: the follower's memory holds one chunk at most.
    const cluster = laggingCluster();
    const follower = cluster.node(3).raw;
    let chunksMax = 0;
    let readiesWithChunk = 0;
    tickAndPump(
      cluster,
      {
        onReady: (id, ready) => {
          if (id === 3) {
            chunksMax = Math.max(chunksMax, ready.snapshotChunks.length);
            readiesWithChunk += ready.snapshotChunks.length > 0 ? 1 : 0;
          }
        },
        beforeDeliver: () => {
          const incoming = follower.raft.incomingSnapshot;
          if (incoming !== undefined) {
            expect(Object.keys(incoming).sort()).toEqual(['metadata', 'nextOffsetBytes']);
          }
          expect(follower.raft.snapshotChunks.length).toBeLessThanOrEqual(1);
        },
      },
      3,
    );
    expect(readiesWithChunk).toBeGreaterThan(2);
    expect(chunksMax).toBe(1);
    expect(follower.raft.incomingSnapshot).toBeUndefined();
  });

  it('Raft sends a lost chunk again on the next heartbeat response', () => {
    // A chunk (or its ack) lost in the network must not stall the transfer.
    const cluster = laggingCluster();
    let dropped = false;
    const drop = (m: Message): boolean => {
      if (
        !dropped &&
        m.type === MessageType.snapshot &&
        (m.snapshot?.offsetBytes ?? 0) === 2 * chunkSizeBytes
      ) {
        dropped = true;
        return true;
      }
      return false;
    };
    tickAndPump(cluster, { drop }, 1);
    expect(dropped).toBe(true);
    expect(applied(cluster, 3)).toEqual([]);
    const seen = tickAndPump(cluster, { drop }, 3);
    const offsets = snapshotMessagesTo(seen, 3).map((c) => c.offsetBytes);
    expect(offsets[0]).toBe(2 * chunkSizeBytes);
    expect(applied(cluster, 3)).toEqual(applied(cluster, 1));
  });

  it('Raft restarts a transfer at offset 0 when the leader replaced its snapshot mid-transfer', () => {
    const cluster = laggingCluster();
    const firstIndex = cluster.node(1).storage.snapshotMetadata().index;
    let replaced = false;
    const seen = tickAndPump(
      cluster,
      {
        beforeDeliver: (m) => {
          if (
            !replaced &&
            m.type === MessageType.snapshotResponse &&
            (m.snapshot?.offsetBytes ?? 0) >= 2 * chunkSizeBytes
          ) {
            replaced = true;
            const leader = cluster.node(1);
            expect(leader.raw.propose([new TextEncoder().encode('late')]).ok).toBe(true);
            pump(cluster, { drop: (x) => x.to === 3 });
            leader.compact();
          }
        },
      },
      4,
    );
    expect(replaced).toBe(true);
    const newIndex = cluster.node(1).storage.snapshotMetadata().index;
    expect(newIndex).toBeGreaterThan(firstIndex);
    const chunks = snapshotMessagesTo(seen, 3);
    const restartAt = chunks.findIndex((c) => c.metadata.index === newIndex);
    expect(restartAt).toBeGreaterThan(0);
    expect(chunks[restartAt]?.offsetBytes).toBe(0);
    expect(chunks.slice(restartAt).every((c) => c.metadata.index === newIndex)).toBe(true);
    expect(cluster.node(3).storage.snapshotMetadata().index).toBe(newIndex);
    expect(applied(cluster, 3)).toEqual(applied(cluster, 1));
    expect(applied(cluster, 3)).toContain('late');
  });
});

describe('follower chunk handling', () => {
  const metadata: SnapshotMetadata = {
    index: asIndex(10),
    term: asTerm(1),
    confState: { voters: [asNodeId(1), asNodeId(2), asNodeId(3)], learners: [] },
  };

  function follower(): Raft {
    const storage = new MemoryStorage({
      voters: [asNodeId(1), asNodeId(2), asNodeId(3)],
      learners: [],
    });
    return new Raft(
      makeConfig({
        id: asNodeId(2),
        storage,
        randomInt: () => 0,
        snapshotChunkSizeBytes: chunkSizeBytes,
      }),
    );
  }

  function chunk(
    offsetBytes: number,
    sizeBytes: number,
    options: { done?: boolean; meta?: SnapshotMetadata } = {},
  ): Message {
    const done = options.done ?? false;
    const meta = options.meta ?? metadata;
    return makeMessage({
      type: MessageType.snapshot,
      from: asNodeId(1),
      to: asNodeId(2),
      term: asTerm(1),
      snapshot: {
        metadata: meta,
        offsetBytes,
        data: new Uint8Array(sizeBytes).fill(offsetBytes),
        done,
      },
    });
  }

  function replies(r: Raft): [string, number, boolean][] {
    const out = r.messages.map((m): [string, number, boolean] => [
      m.type,
      m.snapshot?.offsetBytes ?? m.index,
      m.reject,
    ]);
    r.messages = [];
    return out;
  }

  function staged(r: Raft): number[] {
    const out = r.snapshotChunks.map((c) => c.offsetBytes);
    r.snapshotChunks = [];
    return out;
  }

  it('Raft.step acknowledges each in-order chunk with the next offset and stages it', () => {
    const r = follower();
    r.step(chunk(0, 8));
    expect(replies(r)).toEqual([[MessageType.snapshotResponse, 8, false]]);
    expect(staged(r)).toEqual([0]);
    r.step(chunk(8, 8));
    expect(replies(r)).toEqual([[MessageType.snapshotResponse, 16, false]]);
    expect(staged(r)).toEqual([8]);
  });

  it('Raft.step answers a duplicate chunk with the next offset and does not stage it again', () => {
    const r = follower();
    r.step(chunk(0, 8));
    r.step(chunk(8, 8));
    replies(r);
    staged(r);
    r.step(chunk(8, 8));
    expect(replies(r)).toEqual([[MessageType.snapshotResponse, 16, false]]);
    expect(staged(r)).toEqual([]);
  });

  it('Raft.step rejects a chunk from beyond the next offset and asks for the next one', () => {
    const r = follower();
    r.step(chunk(0, 8));
    replies(r);
    staged(r);
    r.step(chunk(16, 8));
    expect(replies(r)).toEqual([[MessageType.snapshotResponse, 8, true]]);
    expect(staged(r)).toEqual([]);
  });

  it('Raft.step rejects a middle chunk of a snapshot it never saw start and asks for offset 0', () => {
    const r = follower();
    r.step(chunk(8, 8));
    expect(replies(r)).toEqual([[MessageType.snapshotResponse, 0, true]]);
    expect(staged(r)).toEqual([]);
  });

  it('Raft.step starts over when offset 0 of another snapshot arrives', () => {
    const r = follower();
    r.step(chunk(0, 8));
    replies(r);
    staged(r);
    const newer = { ...metadata, index: asIndex(20) };
    r.step(chunk(0, 8, { meta: newer }));
    expect(replies(r)).toEqual([[MessageType.snapshotResponse, 8, false]]);
    expect(r.incomingSnapshot?.metadata.index).toBe(20);
    r.step(chunk(8, 8, { meta: metadata }));
    expect(replies(r)).toEqual([[MessageType.snapshotResponse, 0, true]]);
  });

  it('Raft.step installs the snapshot on the done chunk and reports its index', () => {
    const r = follower();
    r.step(chunk(0, 8));
    r.step(chunk(8, 3, { done: true }));
    expect(replies(r).at(-1)).toEqual([MessageType.appendResponse, 10, false]);
    expect(r.log.unstable.snapshot?.index).toBe(10);
    expect(r.log.committed).toBe(10);
    expect(r.incomingSnapshot).toBeUndefined();
  });

  it('Raft.step answers a chunk of a snapshot it already covers with its commit index', () => {
    const r = follower();
    r.step(chunk(0, 3, { done: true }));
    replies(r);
    r.step(chunk(0, 3, { done: true }));
    expect(replies(r)).toEqual([[MessageType.appendResponse, 10, false]]);
  });
});
