/**
 * Goal: the expiration manager runs on the active node and revokes what expires, also after a
 * restart: a token's entry (and its lease) is removed from the replicated state once its TTL
 * has passed, without any request touching it; a token that expired while the node was down
 * is revoked once the unsealed node is active again.
 * Method: a single-voter node on real LevelDB driven by a manual clock; the state is inspected
 * through the node's SecureStore (token entries live under `auth/token/id/`, leases under
 * `sys/expire/`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { CofferNode } from './coffer_node.ts';
import {
  closeOpenedNodes,
  drive,
  openNode,
  removeRoot,
  singleNodeOptions,
  waitForLeader,
} from './lifecycle_harness.ts';
import { openRequestFixture, type RequestFixture } from './request_test_support.ts';

let f: RequestFixture;

async function keysUnder(node: CofferNode, prefix: string): Promise<readonly string[]> {
  const secure = node.secureStore;
  await secure.readPoint();
  return (await secure.listLocal(prefix, { limit: 1000 })).keys;
}

async function createToken(node: CofferNode, ttl: string): Promise<string> {
  const created = await drive(
    f.harness,
    node.handle({
      operation: 'update',
      path: 'auth/token/create',
      token: f.rootToken,
      data: { policies: ['default'], ttl },
    }),
  );
  if (!created.ok || created.auth === undefined) {
    throw new Error('token create failed');
  }
  return created.auth.clientToken;
}

/** Moves the clock in 1 s steps (the active-node check and the expiry timer run on it). */
async function advanceSeconds(seconds: number): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    f.harness.clock.advance(1000);
    await turns(20);
  }
}

/** Lets the event loop run (Raft rounds, storage writes) without moving the clock. */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Drives the node until the token entries number `expected` (or a round limit passes). */
async function untilTokenCount(node: CofferNode, expected: number): Promise<number> {
  let count = -1;
  for (let round = 0; round < 200; round++) {
    count = (await drive(f.harness, keysUnder(node, 'auth/token/id/'))).length;
    if (count === expected) {
      break;
    }
    await advanceSeconds(1);
  }
  return count;
}

beforeAll(async () => {
  f = await openRequestFixture();
});

afterAll(async () => {
  await closeOpenedNodes();
  await removeRoot(f.harness.root);
});

describe('lease expiry on the active node', () => {
  it('revokes an expired token from the state without any request touching it', async () => {
    const before = (await drive(f.harness, keysUnder(f.node, 'auth/token/id/'))).length;
    await createToken(f.node, '30s');
    expect(await drive(f.harness, keysUnder(f.node, 'auth/token/id/'))).toHaveLength(before + 1);
    expect((await drive(f.harness, keysUnder(f.node, 'sys/expire/'))).length).toBeGreaterThan(0);
    await advanceSeconds(29);
    expect(await drive(f.harness, keysUnder(f.node, 'auth/token/id/'))).toHaveLength(before + 1);
    expect(await untilTokenCount(f.node, before)).toBe(before);
  });

  it('revokes after a restart what expired while the node was down', async () => {
    const before = (await drive(f.harness, keysUnder(f.node, 'auth/token/id/'))).length;
    await createToken(f.node, '20s');
    expect(await drive(f.harness, keysUnder(f.node, 'auth/token/id/'))).toHaveLength(before + 1);
    await f.node.close();
    f.harness.clock.advance(60_000);
    const reopened = await openNode(
      f.harness,
      singleNodeOptions(f.harness, { dir: 'node', seal: { type: 'shamir' } }),
    );
    for (const share of f.shares.slice(0, 2)) {
      await drive(f.harness, reopened.submitUnsealShare(share));
    }
    await waitForLeader(f.harness, reopened);
    await drive(
      f.harness,
      reopened.handle({ operation: 'read', path: 'auth/token/lookup-self', token: f.rootToken }),
    );
    expect(await untilTokenCount(reopened, before)).toBe(before);
  });
});
