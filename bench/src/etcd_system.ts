/**
 * etcd under test: the cluster of etcd_cluster.ts driven through etcd_channel.ts. Writes are KV
 * Put, reads KV Range with serializable false (linearizable: a ReadIndex round, on the leader or
 * from a follower). The failover writers mirror the Coffer client's failover: a write that
 * fails UNAVAILABLE (refused, reset, or etcd's own "no leader", "leader changed", "request timed
 * out", all UNAVAILABLE in 3.4) is sent again to the next member after the same jittered
 * backoff, until a 10 s deadline.
 */
import { status, type ServiceError } from '@grpc/grpc-js';

import type { Send } from './closed_loop.ts';
import {
  benchValue,
  failoverBackoffMs,
  keyOf,
  type BenchSystem,
  type LeaderInfo,
  type LoadTarget,
  type Operation,
} from './cluster_system.ts';
import { EtcdChannel } from './etcd_channel.ts';
import { EtcdCluster } from './etcd_cluster.ts';

const failoverDeadlineMs = 10_000;
const value = Buffer.from(benchValue);

/** A write that moves to the next member when its member cannot serve it. */
function failoverSender(channels: readonly EtcdChannel[]): Send {
  let current = 0;
  return async (index) => {
    const key = Buffer.from(keyOf(index));
    const deadline = Date.now() + failoverDeadlineMs;
    for (let attempt = 0; ; attempt++) {
      const channel = channels[current % channels.length] as EtcdChannel;
      try {
        await channel.put(key, value, Math.max(1, deadline - Date.now()));
        return;
      } catch (error) {
        const wait = failoverBackoffMs(attempt);
        if ((error as ServiceError).code !== status.UNAVAILABLE || Date.now() + wait > deadline) {
          throw error;
        }
        current++;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  };
}

/** Starts the etcd cluster and returns it as a {@link BenchSystem}. */
export async function startEtcdSystem(options: {
  readonly dir: string;
  readonly version: string;
  readonly extraFlags: readonly string[];
}): Promise<BenchSystem> {
  const cluster = await EtcdCluster.start(options.dir, options.extraFlags);
  return new EtcdSystem(cluster, options);
}

class EtcdSystem implements BenchSystem {
  readonly name = 'etcd';
  readonly version: string;
  readonly knobs: readonly string[];
  readonly #cluster: EtcdCluster;
  readonly #killed = new Set<string>();

  constructor(cluster: EtcdCluster, options: { version: string; extraFlags: readonly string[] }) {
    this.#cluster = cluster;
    this.version = options.version;
    this.knobs = options.extraFlags.map((flag) => `etcd ${flag}`);
  }

  #live() {
    return this.#cluster.live().filter((member) => !this.#killed.has(member.name));
  }

  addresses(): readonly string[] {
    return this.#live().map((member) => member.clientAddress);
  }

  pids(): ReadonlyMap<string, number> {
    return new Map(this.#live().map((member) => [member.name, member.pid]));
  }

  async leader(): Promise<LeaderInfo> {
    const statuses = await Promise.all(
      this.#live().map(async (member) => {
        const channel = new EtcdChannel(member.clientAddress, this.#cluster.caPem, 0);
        try {
          return { member, status: await channel.status() };
        } catch {
          return undefined;
        } finally {
          channel.close();
        }
      }),
    );
    const answered = statuses.filter((s) => s !== undefined);
    const leaderId = answered.find((s) => s.status.leader !== 0n)?.status.leader;
    const leader = answered.find((s) => s.status.memberId === leaderId);
    if (leader === undefined) {
      throw new Error('bench:cluster: no etcd member reports itself as the leader');
    }
    return {
      node: leader.member.name,
      address: leader.member.clientAddress,
      term: Number(leader.status.raftTerm),
    };
  }

  target(operation: Operation, options: { addresses: readonly string[]; channels: number }) {
    const channels = Array.from(
      { length: options.channels },
      (_, i) =>
        new EtcdChannel(
          options.addresses[i % options.addresses.length] ?? '',
          this.#cluster.caPem,
          i,
        ),
    );
    const senders = channels.map((channel): Send =>
      operation === 'read'
        ? (index) => channel.range(Buffer.from(keyOf(index)), false).then(checkRead)
        : (index) => channel.put(Buffer.from(keyOf(index)), value).then(() => undefined),
    );
    return {
      senders,
      close: () => {
        closeAll(channels);
      },
    };
  }

  failoverTarget(channels: number): LoadTarget {
    const addresses = this.#cluster.members.map((member) => member.clientAddress);
    const groups = Array.from({ length: channels }, (_, i) =>
      addresses.map((address, j) => new EtcdChannel(address, this.#cluster.caPem, i * 3 + j)),
    );
    return {
      senders: groups.map((group) => failoverSender(group)),
      close: () => {
        closeAll(groups.flat());
      },
    };
  }

  async killLeader(): Promise<LeaderInfo> {
    const leader = await this.leader();
    const member = this.#live().find((m) => m.name === leader.node);
    if (member === undefined) {
      throw new Error(`bench:cluster: no process for the etcd leader ${leader.node}`);
    }
    this.#killed.add(member.name);
    member.child.kill('SIGKILL');
    return leader;
  }

  close(): Promise<void> {
    return this.#cluster.close();
  }

  kill(): void {
    for (const member of this.#cluster.live()) {
      member.child.kill('SIGKILL');
    }
  }
}

/** A linearizable read must find the one value written; anything else fails the request. */
function checkRead(answer: { values: readonly Buffer[] }): void {
  const [found] = answer.values;
  if (answer.values.length !== 1 || found === undefined || !found.equals(value)) {
    throw new Error(
      `bench:cluster: an etcd range answered ${answer.values.length} values, not the one written`,
    );
  }
}

function closeAll(channels: readonly EtcdChannel[]): void {
  for (const channel of channels) {
    channel.close();
  }
}
