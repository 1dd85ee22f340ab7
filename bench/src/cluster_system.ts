/**
 * What `npm run bench:cluster` needs of a system under test (Coffer, etcd): its nodes, its
 * leader, its server processes, and load targets built on the shared closed loop. Both systems
 * get the same key space, value size and channel layout from here.
 */
import type { Send } from './closed_loop.ts';

/** A write (KV v2 put, etcd put) or a linearizable read (KV v2 get, etcd range). */
export type Operation = 'write' | 'read';

/** How many distinct keys the load cycles through. */
export const keyCount = 1000;

/** The size of every value written, in bytes. */
export const valueSizeBytes = 128;

/** The value written: 128 bytes of one letter. */
export const benchValue = 'v'.repeat(valueSizeBytes);

/** The key of request `index`: the same sequence on every system. */
export function keyOf(index: number): string {
  return `bench/k${index % keyCount}`;
}

/** The most gRPC channels (TLS connections) one phase opens; callers share them. */
export const channelsMax = 16;

/** The leader as a system reports it. */
export interface LeaderInfo {
  /** The node's name in this run (`node-1`, `etcd-2`). */
  readonly node: string;
  /** Its gRPC API address. */
  readonly address: string;
  /** The Raft term it reports. */
  readonly term: number;
}

/** Senders for the closed loop, and how to close their channels. */
export interface LoadTarget {
  readonly senders: readonly Send[];
  close(): void;
}

/** A running three-node system under test. */
export interface BenchSystem {
  readonly name: 'coffer' | 'etcd';
  /** Its version, as printed in the report. */
  readonly version: string;
  /** Settings that differ from its defaults (any makes the run not comparable). */
  readonly knobs: readonly string[];
  /** The gRPC API address of each node still running. */
  addresses(): readonly string[];
  leader(): Promise<LeaderInfo>;
  /** Node name → pid of each server process still running. */
  pids(): ReadonlyMap<string, number>;
  /** Senders of `operation` over `channels` channels spread round-robin over `addresses`. */
  target(
    operation: Operation,
    options: { addresses: readonly string[]; channels: number },
  ): LoadTarget;
  /** Writers whose requests move to the next node when theirs is down (the failover phase). */
  failoverTarget(channels: number): LoadTarget;
  /** SIGKILLs the leader's process; returns the leader it killed. */
  killLeader(): Promise<LeaderInfo>;
  /** Stops every node gracefully. */
  close(): Promise<void>;
  /** SIGKILLs every node now (the bench was interrupted). */
  kill(): void;
}

/** Runs `send` for indexes 0 … keyCount-1 with `parallel` requests in flight. */
async function writeEveryKey(send: Send, parallel = 16): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keyCount) {
      await send(next++);
    }
  };
  await Promise.all(Array.from({ length: parallel }, () => worker()));
}

/**
 * Writes every key once through the leader, so reads find a value, then reads one key through
 * a read sender: those check each answer holds the value, so this checks they can at all
 * (etcd's hand codec, etcd_codec.ts, end to end included).
 */
export async function prefill(system: BenchSystem): Promise<void> {
  const target = system.target('write', {
    addresses: [(await system.leader()).address],
    channels: 4,
  });
  const [send] = target.senders;
  try {
    if (send !== undefined) {
      await writeEveryKey(send);
    }
  } finally {
    target.close();
  }
  const reads = system.target('read', { addresses: system.addresses(), channels: 1 });
  try {
    await reads.senders[0]?.(0);
  } finally {
    reads.close();
  }
}

/** The jittered backoff of a failover retry: 25-50 ms, doubling up to 0.5-1 s (as the Coffer client). */
export function failoverBackoffMs(attempt: number): number {
  const base = Math.min(25 * 2 ** attempt, 500);
  return base + Math.random() * base;
}
