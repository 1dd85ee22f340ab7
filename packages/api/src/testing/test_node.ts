/**
 * Test support for the API listeners: a real single-voter CofferNode on LevelDB in a temporary
 * directory, on real time (the listeners run on real sockets, so the node does too), and TLS
 * material for 127.0.0.1 and localhost.
 *
 * The node ticks every 10 ms with an election timeout of 10 ticks, so it leads its one-voter
 * cluster within a fraction of a second; waits poll the node's state with a deadline (no fixed
 * sleeps). Secrets (shares, the root token) stay in memory; nothing here logs.
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CofferNode,
  loneTransport,
  monotonicClock,
  singleVoterConfState,
  type CofferNodeOptions,
} from '@coffer/core';

import { createSelfSignedTls, type TlsMaterial } from '@coffer/core';

/** How long a wait on the node may take before the test fails. */
export const testDeadlineMs = 20_000;

/** What init hands back: the unseal shares and the root token. Secret; tests only. */
export interface TestInit {
  readonly rootToken: string;
  readonly shares: readonly string[];
}

/** A node of a test and its directory. */
export interface TestNode {
  readonly node: CofferNode;
  readonly dir: string;
  /**
   * Initializes the cluster (3 shares, threshold 2 unless told), unseals it if init left it
   * sealed, and mounts KV v2 at `secret/`. Resolves with the shares and the root token.
   */
  initAndUnseal(options?: {
    readonly shares?: number;
    readonly threshold?: number;
  }): Promise<TestInit>;
  /** Submits `shares` until the node is unsealed; throws on a refused share. */
  unseal(shares: readonly string[]): Promise<void>;
  /** Closes the node and removes its directory. */
  close(): Promise<void>;
}

/** Polls `condition` every 10 ms until it holds; throws after {@link testDeadlineMs}. */
export async function waitUntil(what: string, condition: () => boolean): Promise<void> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > testDeadlineMs) {
      throw new Error(`Timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function isLeader(node: CofferNode): boolean {
  return node.raftNode?.raw.status().softState.role === 'leader';
}

/** Options of {@link openTestNode}. */
export interface TestNodeOptions {
  /**
   * The node's wall clock (token and lease expiry); default Date.now. A test that needs a token
   * to expire passes a clock it can move forward instead of waiting.
   */
  readonly wallClockMs?: () => number;
}

function testNodeOptions(dir: string, options: TestNodeOptions = {}): CofferNodeOptions {
  return {
    dataDir: join(dir, 'node'),
    id: 1,
    confState: singleVoterConfState(1),
    transport: loneTransport,
    clock: monotonicClock,
    randomInt: (n) => randomInt(n),
    wallClockMs: options.wallClockMs ?? (() => Date.now()),
    tickIntervalMs: 10,
    raft: { electionTimeoutTicks: 10, heartbeatIntervalTicks: 2 },
    seal: { type: 'shamir' },
    limiter: { failuresFree: 100 },
  };
}

async function unsealWith(node: CofferNode, shares: readonly string[]): Promise<void> {
  for (const share of shares) {
    if (!node.status().sealed) {
      return;
    }
    const step = await node.submitUnsealShare(share);
    if (!step.ok) {
      throw new Error(`Unseal share refused: ${step.code}`);
    }
  }
  await waitUntil('leadership after unseal', () => isLeader(node));
}

async function mountKv(node: CofferNode, rootToken: string): Promise<void> {
  const response = await node.handle({
    operation: 'update',
    path: 'sys/mounts/secret',
    token: rootToken,
    data: { type: 'kv', options: { version: '2' } },
  });
  if (!response.ok) {
    throw new Error(`Mounting KV v2 at secret/ failed: ${response.code}`);
  }
}

/** Initializes through `sys/init`, the path every API takes. */
async function initThroughRouter(
  node: CofferNode,
  options: { readonly shares?: number; readonly threshold?: number },
): Promise<TestInit> {
  const response = await node.handle({
    operation: 'update',
    path: 'sys/init',
    data: { secret_shares: options.shares ?? 3, secret_threshold: options.threshold ?? 2 },
  });
  if (!response.ok) {
    throw new Error(`Init failed: ${response.code}`);
  }
  const { keys, root_token: rootToken } = response.data ?? {};
  if (typeof rootToken !== 'string' || !Array.isArray(keys)) {
    throw new Error('Init gave no root token or no shares');
  }
  return { rootToken, shares: keys.map(String) };
}

/** Opens a fresh node in its own temporary directory and waits until it leads. */
export async function openTestNode(options: TestNodeOptions = {}): Promise<TestNode> {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-api-'));
  const node = await CofferNode.open(testNodeOptions(dir, options));
  await waitUntil('leadership', () => isLeader(node));
  return {
    node,
    dir,
    initAndUnseal: async (options = {}) => {
      const init = await initThroughRouter(node, options);
      await unsealWith(node, init.shares);
      await mountKv(node, init.rootToken);
      return init;
    },
    unseal: (shares) => unsealWith(node, shares),
    close: async () => {
      await node.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A self-signed ECDSA certificate and key for `localhost` and `127.0.0.1`. */
export function createTestTls(): Promise<TlsMaterial> {
  return createSelfSignedTls({ hosts: ['localhost', '127.0.0.1'] });
}
