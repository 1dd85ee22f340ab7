/**
 * Goal: a standby serves reads itself after a ReadIndex round with the leader, so a read right
 * after an acknowledged write sees it, and a token revoked on the leader fails on the standby
 * at its next request; everything else (writes, `sys/` reads, a read whose use-limited token
 * must spend a use) goes to the active node.
 * Method: three CofferNodes in one process on real LevelDB, the in-memory transport and a
 * manual clock; each node's `forward` sends to the current leader (as the cluster channel
 * does); the nodes' counters tell where a request was served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import type { CofferNode } from './coffer_node.ts';
import { openInProcessCluster, type InProcessCofferCluster } from './cluster_test_support.ts';
import { closeOpenedNodes, removeRoot } from './lifecycle_harness.ts';

let c: InProcessCofferCluster;

async function tokenWith(data: Record<string, unknown>): Promise<string> {
  const created = await c.ok(await c.leader(), {
    operation: 'update',
    path: 'auth/token/create',
    token: c.rootToken,
    data,
  });
  return created.auth?.clientToken ?? '';
}

function counts(node: CofferNode): { standbyReads: number; forwarded: number } {
  const metrics = node.metrics();
  return { standbyReads: metrics.standbyReads, forwarded: metrics.forwardedRequests };
}

beforeAll(async () => {
  c = await openInProcessCluster([1, 2, 3]);
  await c.ok(await c.leader(), {
    operation: 'update',
    path: 'sys/policies/acl/reader',
    token: c.rootToken,
    data: { policy: 'path "secret/data/*" { capabilities = ["read"] }' },
  });
});

afterAll(async () => {
  for (const node of c.nodes) {
    await node.close();
  }
  await closeOpenedNodes();
  await removeRoot(c.harness.root);
});

describe('reads on a standby', () => {
  it('serve a write acknowledged just before, from the standby itself', async () => {
    for (let n = 1; n <= 3; n++) {
      await c.ok(await c.leader(), {
        operation: 'update',
        path: 'secret/data/app',
        token: c.rootToken,
        data: { data: { n } },
      });
      const reader = await c.standby();
      const before = counts(reader);
      const read = await c.ok(reader, {
        operation: 'read',
        path: 'secret/data/app',
        token: c.rootToken,
      });
      expect(read.data?.['data']).toEqual({ n });
      expect(counts(reader)).toEqual({ ...before, standbyReads: before.standbyReads + 1 });
    }
  });

  it('refuse a token the leader revoked, at its next request', async () => {
    const token = await tokenWith({ policies: ['reader'] });
    const reader = await c.standby();
    await c.ok(reader, { operation: 'read', path: 'secret/data/app', token });
    await c.ok(await c.leader(), {
      operation: 'update',
      path: 'auth/token/revoke',
      token: c.rootToken,
      data: { token },
    });
    expect(
      await c.send(reader, { operation: 'read', path: 'secret/data/app', token }),
    ).toMatchObject({
      ok: false,
      code: CoreErrorCode.permissionDenied,
    });
  });

  it('go to the active node when the token must spend a use, and the uses still count', async () => {
    const token = await tokenWith({ policies: ['reader'], num_uses: 2 });
    const reader = await c.standby();
    const before = counts(reader);
    await c.ok(reader, { operation: 'read', path: 'secret/data/app', token });
    await c.ok(reader, { operation: 'read', path: 'secret/data/app', token });
    expect(counts(reader).forwarded).toBe(before.forwarded + 2);
    expect(
      await c.send(reader, { operation: 'read', path: 'secret/data/app', token }),
    ).toMatchObject({
      ok: false,
      code: CoreErrorCode.permissionDenied,
    });
  });

  it('leave writes and sys/ reads to the active node', async () => {
    const reader = await c.standby();
    const before = counts(reader);
    await c.ok(reader, {
      operation: 'update',
      path: 'secret/data/from-standby',
      token: c.rootToken,
      data: { data: { v: 1 } },
    });
    await c.ok(reader, { operation: 'read', path: 'sys/mounts', token: c.rootToken });
    expect(counts(reader)).toEqual({
      standbyReads: before.standbyReads,
      forwarded: before.forwarded + 2,
    });
    const read = await c.ok(reader, {
      operation: 'read',
      path: 'secret/data/from-standby',
      token: c.rootToken,
    });
    expect(read.data?.['data']).toEqual({ v: 1 });
  });
});
