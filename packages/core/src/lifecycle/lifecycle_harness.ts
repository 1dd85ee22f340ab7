/**
 * Test harness for the lifecycle tests: single-node clusters on real LevelDB in a temporary
 * directory, driven on a manual clock (no sleeps, no real time).
 *
 * NB: not part of the package's public surface; test files import it directly (as
 * softhsm_fixture.ts). The clock and network are passed in, so this file needs nothing from
 * @coffer/raft/testing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { asNodeId } from '@coffer/raft';
import type { DriverClock, Transport } from '@coffer/raft/node';

import type { SealLogger } from '../seal/seal_provider.ts';
import { CofferNode, type CofferNodeOptions, type NodeSealSetting } from './coffer_node.ts';

/** A clock the harness can move (ManualClock). */
export interface MovableClock extends DriverClock {
  advance(ms: number): void;
}

/** The shared parts of a test: a directory, a clock and a network (InMemoryNetwork). */
export interface Harness {
  readonly root: string;
  readonly clock: MovableClock;
  readonly network: { connect(id: ReturnType<typeof asNodeId>): Transport };
}

/** A fresh temporary directory for a test file. */
export function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'coffer-lifecycle-'));
}

/** Removes a test file's directory. */
export async function removeRoot(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
}

/** The wall-clock time the harness clock starts at (certificate validity, keyring times). */
export const harnessEpochMs = Date.UTC(2026, 10, 25);

/** What a test node is: where, which member, which seal. */
export interface TestNodeSpec {
  readonly dir: string;
  readonly seal: NodeSealSetting;
  readonly logger?: SealLogger;
  /** Default 1. */
  readonly id?: number;
  /** Default [id]: a single-voter cluster. */
  readonly voters?: readonly number[];
}

/** Options of a node in `dir` (under the harness root); a single voter unless told. */
export function singleNodeOptions(harness: Harness, options: TestNodeSpec): CofferNodeOptions {
  const id = options.id ?? 1;
  let seed = 7 + id;
  return {
    dataDir: join(harness.root, options.dir),
    id,
    confState: { voters: (options.voters ?? [id]).map(asNodeId), learners: [] },
    transport: () => harness.network.connect(asNodeId(id)),
    clock: harness.clock,
    randomInt: (n) => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % n,
    wallClockMs: () => harnessEpochMs + harness.clock.nowMs(),
    tickIntervalMs: 10,
    // NB: 30 ticks (100 with peers), not 10: drive() moves the clock by event-loop turns, and
    // a node whose fsync is slow on a loaded machine must not look dead to its peers after a
    // few turns (the three-node test flaked under load at 30).
    raft: {
      electionTimeoutTicks: (options.voters?.length ?? 1) > 1 ? 100 : 30,
      heartbeatIntervalTicks: 2,
    },
    seal: options.seal,
    limiter: { failuresFree: 100 },
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs the event loop until `work` settles, moving the clock 10 ms every 50 turns so that
 * elections, ticks and seal retries happen. Fails after a round limit rather than hang.
 */
export async function drive<T>(harness: Harness, work: Promise<T>): Promise<T> {
  let settled = false as boolean;
  const tracked = work.finally(() => {
    settled = true;
  });
  tracked.catch(() => undefined);
  for (let round = 0; round < 100_000 && !settled; round++) {
    if (round % 50 === 49) {
      harness.clock.advance(10);
    }
    await turn();
  }
  if (!settled) {
    throw new Error('The work did not finish within the round limit');
  }
  return tracked;
}

/** Drives the clock until `condition` holds. */
export async function driveUntil(harness: Harness, condition: () => boolean): Promise<void> {
  await drive(
    harness,
    (async () => {
      for (let round = 0; round < 200_000 && !condition(); round++) {
        await turn();
      }
    })(),
  );
}

const opened = new Set<CofferNode>();

/**
 * Opens a node and, when it runs Raft, waits until it leads its single-voter cluster. The node
 * is remembered so that {@link closeOpenedNodes} can close it after a failed test.
 */
export async function openNode(harness: Harness, options: CofferNodeOptions): Promise<CofferNode> {
  const node = await CofferNode.open(options);
  opened.add(node);
  await waitForLeader(harness, node);
  return node;
}

/** Closes every node {@link openNode} opened (closing twice is harmless); for afterEach. */
export async function closeOpenedNodes(): Promise<void> {
  for (const node of opened) {
    await node.close();
  }
  opened.clear();
}

/** Waits until the node's Raft (if running) is the leader. */
export async function waitForLeader(harness: Harness, node: CofferNode): Promise<void> {
  if (node.raftNode === undefined) {
    return;
  }
  await driveUntil(harness, () => node.raftNode?.raw.status().softState.role === 'leader');
}
