/**
 * Starts and stops a node's Raft driver over its data directory: the log store is opened at
 * each start and closed at each stop (RaftNode.stop closes its ports), while the state store
 * stays open for the node's whole life, because a sealed node still reads its seal record.
 *
 * Invariant: at most one RaftNode runs per runner; concurrent starts share one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type { ConfState, RaftLogger } from '@coffer/raft';
import {
  RaftNode,
  type DriverClock,
  type RaftNodeOptions,
  type Transport,
} from '@coffer/raft/node';
import { LevelLogStore, type LevelStateStore, type StateCommand } from '@coffer/storage';

import type { Barrier } from '../barrier/barrier.ts';
import type { SealLogger } from '../seal/seal_provider.ts';
import { CoreStateMachine } from '../replicated/core_state_machine.ts';
import { SecureStore } from '../replicated/secure_store.ts';

/** How to run Raft for one node. */
export interface RaftRunnerOptions {
  readonly dataDir: string;
  readonly id: number;
  /** The voters of a new cluster; used only when the log is created. */
  readonly confState: ConfState;
  /** A fresh transport per start (the previous one is closed at stop). */
  readonly transport: () => Transport;
  readonly clock: DriverClock;
  readonly randomInt: (maxExclusive: number) => number;
  /** Wall-clock ms since the epoch, for keyring install times. */
  readonly wallClockMs: () => number;
  readonly raft?: RaftNodeOptions['raft'];
  readonly tickIntervalMs?: number;
  readonly snapshotKeepEntries?: number;
  readonly requestTimeoutMs?: number;
  /** Told when this node's view of the leader or its role changes (RaftNodeOptions). */
  readonly onLeaderChange?: RaftNodeOptions['onLeaderChange'];
  /** Where Raft's info and warn events go (its debug events are dropped). */
  readonly logger?: SealLogger;
  /** Told of each state command that applied on this replica, in log order (CoreStateMachine). */
  readonly onApplied?: (command: StateCommand) => void;
}

/**
 * Raft's events in the server log: one `raft` event with the sentence as `message` and the
 * numeric fields Raft gives (node ids, terms, indexes, codes; never entry data).
 */
export function raftLoggerOf(logger: SealLogger): RaftLogger {
  const fieldsOf = (
    message: string,
    fields: Record<string, unknown> = {},
  ): Record<string, string | number | boolean> => {
    const plain: Record<string, string | number | boolean> = { message };
    for (const [name, value] of Object.entries(fields)) {
      if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') {
        plain[name] = value;
      }
    }
    return plain;
  };
  return {
    debug: () => undefined,
    info: (event, fields) => {
      logger.info('raft', fieldsOf(event, fields));
    },
    warn: (event, fields) => {
      logger.warn('raft', fieldsOf(event, fields));
    },
  };
}

/** What a join hands Raft: the granted membership and the snapshot key. */
export interface RaftJoin {
  readonly confState: ConfState;
  readonly snapshotKey: Uint8Array;
}

/** How long start() waits for a sole voter to lead, and how often it looks. */
const soleLeadershipWaitMs = 2000;
const soleLeadershipPollMs = 2;

/** The running parts. */
export interface RunningRaft {
  readonly node: RaftNode;
  readonly secure: SecureStore;
}

/** Owns the Raft driver of one node. */
export class RaftRunner {
  readonly #options: RaftRunnerOptions;
  readonly #state: { readonly store: LevelStateStore; readonly barrier: Barrier };
  #running: Promise<RunningRaft> | undefined;
  #current: RunningRaft | undefined;

  constructor(
    options: RaftRunnerOptions,
    state: { readonly store: LevelStateStore; readonly barrier: Barrier },
  ) {
    this.#options = options;
    this.#state = state;
  }

  /** The running driver, or undefined. */
  get current(): RunningRaft | undefined {
    return this.#current;
  }

  /** Whether this node has a Raft log (it was initialized, joined or bootstrapped before). */
  hasLog(): boolean {
    return existsSync(join(this.#options.dataDir, 'log'));
  }

  /**
   * Starts Raft unless it runs already. A join passes the membership the leader granted (used
   * only when the log is created) and the snapshot key to take in the state while sealed.
   */
  start(joining?: RaftJoin): Promise<RunningRaft> {
    this.#running ??= this.#startNow(joining).then(
      (running) => (this.#current = running),
      (error: unknown) => {
        this.#running = undefined;
        throw error;
      },
    );
    return this.#running;
  }

  async #startNow(joining: RaftJoin | undefined): Promise<RunningRaft> {
    const o = this.#options;
    const { store, barrier } = this.#state;
    const log = await LevelLogStore.open(join(o.dataDir, 'log'), {
      confState: joining?.confState ?? o.confState,
    });
    const node = await RaftNode.start({
      id: o.id,
      log,
      stateMachine: new CoreStateMachine(store, barrier, {
        joinSnapshotKey: joining?.snapshotKey,
        onApplied: o.onApplied,
      }),
      transport: o.transport(),
      clock: o.clock,
      randomInt: o.randomInt,
      ...(o.raft === undefined ? {} : { raft: o.raft }),
      ...(o.tickIntervalMs === undefined ? {} : { tickIntervalMs: o.tickIntervalMs }),
      ...(o.snapshotKeepEntries === undefined
        ? {}
        : { snapshotKeepEntries: o.snapshotKeepEntries }),
      ...(o.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: o.requestTimeoutMs }),
      ...(o.onLeaderChange === undefined ? {} : { onLeaderChange: o.onLeaderChange }),
      ...(o.logger === undefined ? {} : { logger: raftLoggerOf(o.logger) }),
    });
    const secure = new SecureStore({ node, store, barrier, nowMs: o.wallClockMs });
    await this.#leadAlone(node);
    return { node, secure };
  }

  /**
   * A node that is the only voter campaigns at once instead of waiting out an election timeout,
   * and start() returns once it leads (within the bound), so a request sent right after unseal
   * or start is not refused as NOT_ACTIVE. A member of a larger cluster waits for its election.
   */
  async #leadAlone(node: RaftNode): Promise<void> {
    const status = node.raw.status();
    const [only, ...others] = status.confState.voters;
    if (only !== status.id || others.length > 0) {
      return;
    }
    node.campaign();
    const clock = this.#options.clock;
    const deadline = clock.nowMs() + soleLeadershipWaitMs;
    while (node.raw.status().softState.role !== 'leader' && clock.nowMs() < deadline) {
      await new Promise<void>((resolve) => {
        clock.setTimer(soleLeadershipPollMs, resolve);
      });
    }
  }

  /** Stops Raft (and closes the log and transport) if it runs. */
  async stop(): Promise<void> {
    const running = this.#running;
    this.#running = undefined;
    this.#current = undefined;
    const current = await running?.catch(() => undefined);
    await current?.node.stop();
  }
}
