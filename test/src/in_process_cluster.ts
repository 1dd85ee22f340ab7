/**
 * A Coffer cluster in one process for cross-package tests: each member is a real RaftNode on a
 * LevelLogStore and a LevelStateStore in its own directory, with a Barrier, a CoreStateMachine
 * and a SecureStore; members talk over the encoding InMemoryNetwork and share a ManualClock.
 *
 * Time: the clock moves only inside until() and settle({ ticking: true }), a tick every 100
 * turns of the event loop, so a slow disk never looks like a dead leader while work runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  Barrier,
  CoreStateMachine,
  SecretKey,
  SecureStore,
  unsealFromState,
  type RotationPolicy,
} from '@coffer/core';
import { asNodeId, type ConfState } from '@coffer/raft';
import { RaftNode, type StateMachine } from '@coffer/raft/node';
import { InMemoryNetwork, ManualClock, SeededRandom } from '@coffer/raft/testing';
import { LevelLogStore, LevelStateStore } from '@coffer/storage';

/** The wall-clock time the manual clock starts at (keyring install times). */
export const epochMs = Date.UTC(2026, 10, 25);

/** One running member. */
export interface Member {
  readonly id: number;
  readonly node: RaftNode;
  readonly store: LevelStateStore;
  readonly barrier: Barrier;
  readonly secure: SecureStore;
}

/** How members are built. */
export interface ClusterOptions {
  readonly voters: readonly number[];
  readonly rotation?: Partial<RotationPolicy>;
  /** Applied entries that trigger a snapshot (and compaction); the core default unless set. */
  readonly logEntriesMax?: number;
  readonly snapshotKeepEntries?: number;
  /** Ticks without a leader before a follower campaigns; 10 unless set. */
  readonly electionTimeoutTicks?: number;
  /** How long a proposal waits before COFFER_RAFT_TIMEOUT; the driver default unless set. */
  readonly requestTimeoutMs?: number;
  /** Wraps each member's state machine, to observe what it applies. */
  readonly wrapStateMachine?: (id: number, machine: StateMachine) => StateMachine;
}

/** A cluster of members in one process, on real disks under a temporary directory. */
export class InProcessCluster {
  readonly clock = new ManualClock();
  readonly network = new InMemoryNetwork();
  readonly members = new Map<number, Member>();
  readonly #root: string;
  readonly #options: ClusterOptions;
  readonly #conf: ConfState;

  private constructor(root: string, options: ClusterOptions) {
    this.#root = root;
    this.#options = options;
    this.#conf = { voters: options.voters.map(asNodeId), learners: [] };
  }

  /** A cluster in a new temporary directory; start members with start(). */
  static async create(options: ClusterOptions): Promise<InProcessCluster> {
    return new InProcessCluster(await mkdtemp(join(tmpdir(), 'coffer-cluster-')), options);
  }

  /** Where every member keeps its data. */
  get root(): string {
    return this.#root;
  }

  /**
   * Starts member id on its directory. With rootKey, unseals it from its state first (a member
   * whose state holds a keyring starts Raft only once unsealed).
   */
  async start(id: number, rootKey?: SecretKey): Promise<Member> {
    const dir = join(this.#root, `node-${id}`);
    const log = await LevelLogStore.open(join(dir, 'log'), { confState: this.#conf });
    const store = await LevelStateStore.open(join(dir, 'state'));
    const barrier = new Barrier(
      this.#options.rotation === undefined ? {} : { rotation: this.#options.rotation },
    );
    if (rootKey !== undefined) {
      unsealFromState({ store, barrier }, rootKey);
    }
    const random = new SeededRandom(id);
    const machine = new CoreStateMachine(store, barrier);
    const options = this.#options;
    const node = await RaftNode.start({
      id,
      log,
      stateMachine: options.wrapStateMachine?.(id, machine) ?? machine,
      transport: this.network.connect(asNodeId(id)),
      clock: this.clock,
      randomInt: (n) => random.int(n),
      tickIntervalMs: 10,
      raft: {
        electionTimeoutTicks: options.electionTimeoutTicks ?? 10,
        heartbeatIntervalTicks: 2,
        ...(options.logEntriesMax === undefined ? {} : { logEntriesMax: options.logEntriesMax }),
      },
      ...(options.snapshotKeepEntries === undefined
        ? {}
        : { snapshotKeepEntries: options.snapshotKeepEntries }),
      ...(options.requestTimeoutMs === undefined
        ? {}
        : { requestTimeoutMs: options.requestTimeoutMs }),
    });
    const secure = new SecureStore({
      node,
      store,
      barrier,
      nowMs: () => epochMs + this.clock.nowMs(),
    });
    const member = { id, node, store, barrier, secure };
    this.members.set(id, member);
    return member;
  }

  /** Stops member id: Raft, its stores, and seals its barrier. */
  async stop(id: number): Promise<void> {
    const member = this.members.get(id);
    this.members.delete(id);
    await member?.node.stop();
    await member?.store.close();
    member?.barrier.seal();
  }

  /** Stops every member and deletes the directory. */
  async destroy(): Promise<void> {
    for (const id of [...this.members.keys()]) {
      await this.stop(id);
    }
    await rm(this.#root, { recursive: true, force: true });
  }

  /** The member that leads now, if any. */
  leader(): Member | undefined {
    return [...this.members.values()].find((m) => m.node.raw.status().softState.role === 'leader');
  }

  /**
   * Runs the event loop until work settles. With ticking, the clock advances a tick every 100
   * turns (for elections, heartbeats and catching up).
   */
  async settle<T>(
    work: Promise<T>,
    options: { ticking: boolean } = { ticking: false },
  ): Promise<T> {
    // NB: set by the callbacks below, which TypeScript cannot see.
    let done = false as boolean;
    let value: T | undefined;
    let failure: unknown;
    work.then(
      (v) => {
        done = true;
        value = v;
      },
      (error: unknown) => {
        done = true;
        failure = error ?? new Error('rejected');
      },
    );
    for (let round = 0; round < 200_000 && !done; round++) {
      if (options.ticking && round % 100 === 99) {
        this.clock.advance(10);
      }
      await turn();
    }
    if (!done) {
      throw new Error('The cluster did not finish the work within the round limit');
    }
    if (failure !== undefined) {
      throw failure instanceof Error ? failure : new Error('rejected');
    }
    return value as T;
  }

  /** Runs the cluster, with ticks, until condition holds. */
  async until(condition: () => boolean): Promise<void> {
    await this.settle(
      (async () => {
        while (!condition()) {
          await turn();
        }
      })(),
      { ticking: true },
    );
  }

  /**
   * Runs the cluster until one leader is known to every member in one term, and returns it.
   * NB: a leader alone is not enough: a candidate at a higher term may still depose it, and
   * work then settled without ticks would wait forever for an election that never comes.
   */
  async electLeader(): Promise<Member> {
    const stable = (): boolean => {
      const leader = this.leader();
      if (leader === undefined) {
        return false;
      }
      const { id, hardState } = leader.node.raw.status();
      return [...this.members.values()].every((m) => {
        const status = m.node.raw.status();
        return status.hardState.term === hardState.term && status.softState.leader === id;
      });
    };
    await this.until(stable);
    return this.leader() as Member;
  }

  /** Elects a leader, initializes the cluster on it and unseals every other member. */
  async bootstrap(rootKey: SecretKey): Promise<Member> {
    const first = await this.electLeader();
    await this.settle(first.secure.initialize(rootKey.clone()));
    await this.until(() =>
      [...this.members.values()].every((m) => m.store.get('core/keyring') !== undefined),
    );
    for (const m of this.members.values()) {
      if (m !== first) {
        unsealFromState(m, rootKey.clone());
      }
    }
    return first;
  }
}

/** One turn of the event loop. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
