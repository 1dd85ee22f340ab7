/**
 * Goal: a standby serves reads itself after a ReadIndex round with the leader, so a read right
 * after an acknowledged write sees it, and a token revoked on the leader fails on the standby
 * at its next request; everything else (writes, `sys/` reads, a read whose use-limited token
 * must spend a use) goes to the active node.
 * Method: three CofferNodes in one process on real LevelDB, the in-memory transport and a
 * manual clock; each node's `forward` sends to the current leader (as the cluster channel
 * does); the nodes' counters tell where a request was served.
 */
import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import type { CoreRequest, CoreResponse } from '../router/request.ts';
import { CofferNode } from './coffer_node.ts';
import {
  closeOpenedNodes,
  drive,
  driveUntil,
  removeRoot,
  singleNodeOptions,
  tempRoot,
  type Harness,
} from './lifecycle_harness.ts';

const harness: Harness = { root: '', clock: new ManualClock(), network: new InMemoryNetwork() };
const ids = [1, 2, 3];
let nodes: CofferNode[] = [];
let rootToken = '';

function leader(): CofferNode | undefined {
  return nodes.find((n) => n.raftNode?.raw.status().softState.role === 'leader');
}

async function leaderNode(): Promise<CofferNode> {
  await driveUntil(harness, () => leader() !== undefined);
  return leader() as CofferNode;
}

async function standby(): Promise<CofferNode> {
  const active = await leaderNode();
  return nodes.find((n) => n !== active) as CofferNode;
}

/** Sends request to node, again while a new leader settles (as the client library does). */
async function send(node: CofferNode, request: CoreRequest): Promise<CoreResponse> {
  for (let attempt = 1; ; attempt++) {
    const response = await drive(harness, node.handle(request));
    const retry: readonly string[] = [CoreErrorCode.notActive, CoreErrorCode.notReady];
    if (response.ok || attempt >= 10 || !retry.includes(response.code)) {
      return response;
    }
  }
}

async function ok(node: CofferNode, request: CoreRequest): Promise<CoreResponse & { ok: true }> {
  const response = await send(node, request);
  if (!response.ok) {
    throw new Error(`${request.path}: ${response.code} ${response.message}`);
  }
  return response;
}

async function tokenWith(data: Record<string, unknown>): Promise<string> {
  const created = await ok(await leaderNode(), {
    operation: 'update',
    path: 'auth/token/create',
    token: rootToken,
    data,
  });
  return created.auth?.clientToken ?? '';
}

function counts(node: CofferNode): { standbyReads: number; forwarded: number } {
  const metrics = node.metrics();
  return { standbyReads: metrics.standbyReads, forwarded: metrics.forwardedRequests };
}

beforeAll(async () => {
  Object.assign(harness, { root: await tempRoot() });
  nodes = await Promise.all(
    ids.map((id) =>
      CofferNode.open({
        ...singleNodeOptions(harness, { dir: `n${id}`, id, voters: ids, seal: { type: 'shamir' } }),
        forward: async (request) => (await leaderNode()).handle(request, { forwarded: true }),
      }),
    ),
  );
  const first = await leaderNode();
  const init = await drive(harness, first.init());
  rootToken = init.rootToken ?? '';
  for (const node of nodes.filter((n) => n !== first)) {
    await driveUntil(harness, () => node.status().initialized);
    for (const share of init.unsealShares.slice(0, 3)) {
      await drive(harness, node.submitUnsealShare(share));
    }
  }
  await ok(first, {
    operation: 'update',
    path: 'sys/mounts/secret',
    token: rootToken,
    data: { type: 'kv', options: { version: '2' } },
  });
  await ok(first, {
    operation: 'update',
    path: 'sys/policies/acl/reader',
    token: rootToken,
    data: { policy: 'path "secret/data/*" { capabilities = ["read"] }' },
  });
});

afterAll(async () => {
  await closeOpenedNodes();
  await removeRoot(harness.root);
});

describe('reads on a standby', () => {
  it('serve a write acknowledged just before, from the standby itself', async () => {
    for (let n = 1; n <= 3; n++) {
      await ok(await leaderNode(), {
        operation: 'update',
        path: 'secret/data/app',
        token: rootToken,
        data: { data: { n } },
      });
      const reader = await standby();
      const before = counts(reader);
      const read = await ok(reader, {
        operation: 'read',
        path: 'secret/data/app',
        token: rootToken,
      });
      expect(read.data?.['data']).toEqual({ n });
      expect(counts(reader)).toEqual({ ...before, standbyReads: before.standbyReads + 1 });
    }
  });

  it('refuse a token the leader revoked, at its next request', async () => {
    const token = await tokenWith({ policies: ['reader'] });
    const reader = await standby();
    await ok(reader, { operation: 'read', path: 'secret/data/app', token });
    await ok(await leaderNode(), {
      operation: 'update',
      path: 'auth/token/revoke',
      token: rootToken,
      data: { token },
    });
    expect(await send(reader, { operation: 'read', path: 'secret/data/app', token })).toMatchObject(
      {
        ok: false,
        code: CoreErrorCode.permissionDenied,
      },
    );
  });

  it('go to the active node when the token must spend a use, and the uses still count', async () => {
    const token = await tokenWith({ policies: ['reader'], num_uses: 2 });
    const reader = await standby();
    const before = counts(reader);
    await ok(reader, { operation: 'read', path: 'secret/data/app', token });
    await ok(reader, { operation: 'read', path: 'secret/data/app', token });
    expect(counts(reader).forwarded).toBe(before.forwarded + 2);
    expect(await send(reader, { operation: 'read', path: 'secret/data/app', token })).toMatchObject(
      {
        ok: false,
        code: CoreErrorCode.permissionDenied,
      },
    );
  });

  it('leave writes and sys/ reads to the active node', async () => {
    const reader = await standby();
    const before = counts(reader);
    await ok(reader, {
      operation: 'update',
      path: 'secret/data/from-standby',
      token: rootToken,
      data: { data: { v: 1 } },
    });
    await ok(reader, { operation: 'read', path: 'sys/mounts', token: rootToken });
    expect(counts(reader)).toEqual({
      standbyReads: before.standbyReads,
      forwarded: before.forwarded + 2,
    });
    const read = await ok(reader, {
      operation: 'read',
      path: 'secret/data/from-standby',
      token: rootToken,
    });
    expect(read.data?.['data']).toEqual({ v: 1 });
  });
});
