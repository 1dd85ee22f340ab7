/**
 * Goal: a read with `consistency: 'stale'` is linearizable, its token and policy checks
 * included, while a leader answers its ReadIndex round; on a standby cut off from the cluster
 * it is served from the standby's own applied state, without the round and without
 * forwarding, and says so; it is refused on sys/, auth/ (logins, tokens) and wrapped reads,
 * on the standby itself.
 * Method: three CofferNodes in one process on real LevelDB, the in-memory transport and a
 * manual clock (cluster_test_support.ts); `InMemoryNetwork.isolate` cuts a standby off; the
 * nodes' counters tell where a request was served, the data which state served it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { Consistency, type CoreRequest, type CoreResponse } from '../router/request.ts';
import type { CofferNode } from './coffer_node.ts';
import { openInProcessCluster, type InProcessCofferCluster } from './cluster_test_support.ts';
import { closeOpenedNodes, drive, removeRoot } from './lifecycle_harness.ts';

let c: InProcessCofferCluster;
/** What the standbys forwarded, as the active node received it. */
const forwardedRequests: CoreRequest[] = [];

const stale = { consistency: Consistency.stale } as const;

async function tokenWith(data: Record<string, unknown>): Promise<string> {
  const created = await c.ok(await c.leader(), {
    operation: 'update',
    path: 'auth/token/create',
    token: c.rootToken,
    data,
  });
  return created.auth?.clientToken ?? '';
}

async function write(n: number): Promise<void> {
  await c.ok(await c.leader(), {
    operation: 'update',
    path: 'secret/data/app',
    token: c.rootToken,
    data: { data: { n } },
  });
}

/** One request to node, without the retries of `c.send` (a stale read must answer at once). */
function once(node: CofferNode, request: CoreRequest): Promise<CoreResponse> {
  return drive(c.harness, node.handle(request));
}

function forwarded(node: CofferNode): number {
  return node.metrics().forwardedRequests;
}

function appliedIndex(node: CofferNode): number {
  return node.raftNode?.raw.status().applied ?? -1;
}

beforeAll(async () => {
  // NB: the manual clock moves with event-loop turns (drive), also while a disk write runs, so
  // the leader gets a generous 2 s to answer: a flake here would be a stale read on a
  // connected node.
  c = await openInProcessCluster([1, 2, 3], () => ({
    requests: { staleReadWaitMs: 2000 },
    forward: async (request) => {
      forwardedRequests.push(request);
      return (await c.leader()).handle(request, { forwarded: true });
    },
  }));
  await c.ok(await c.leader(), {
    operation: 'update',
    path: 'sys/policies/acl/reader',
    token: c.rootToken,
    data: { policy: 'path "secret/data/*" { capabilities = ["read"] }' },
  });
  await write(1);
});

afterAll(async () => {
  c.harness.network.heal();
  for (const node of c.nodes) {
    await node.close();
  }
  await closeOpenedNodes();
  await removeRoot(c.harness.root);
});

describe('stale reads while a leader answers', () => {
  it('CofferNode.handle answers a stale read on the active node linearizably', async () => {
    const leader = await c.leader();
    const read = await c.ok(leader, {
      operation: 'read',
      path: 'secret/data/app',
      token: c.rootToken,
      ...stale,
    });
    expect(read.data?.['data']).toEqual({ n: 1 });
    expect(read.staleRead).toBeUndefined();
    expect(read.warnings ?? []).toEqual([]);
  });

  it('CofferNode.handle checks a stale read on a connected standby against fresh state', async () => {
    const token = await tokenWith({ policies: ['reader'] });
    const reader = await c.standby();
    const read = await c.ok(reader, {
      operation: 'read',
      path: 'secret/data/app',
      token,
      ...stale,
    });
    expect(read.staleRead).toBeUndefined();
    await c.ok(await c.leader(), {
      operation: 'update',
      path: 'auth/token/revoke',
      token: c.rootToken,
      data: { token },
    });
    expect(
      await once(reader, { operation: 'read', path: 'secret/data/app', token, ...stale }),
    ).toMatchObject({ ok: false, code: CoreErrorCode.permissionDenied });
  });

  it('CofferNode.handle forwards a stale read that must spend a use, without the option', async () => {
    const token = await tokenWith({ policies: ['reader'], num_uses: 2 });
    const reader = await c.standby();
    const before = forwardedRequests.length;
    const read = await c.ok(reader, {
      operation: 'read',
      path: 'secret/data/app',
      token,
      ...stale,
    });
    expect(read.staleRead).toBeUndefined();
    const sent = forwardedRequests.slice(before);
    expect(sent.map((request) => request.path)).toEqual(['secret/data/app']);
    expect(sent[0]).not.toHaveProperty('consistency');
  });

  it('CofferNode.handle refuses the option on a standby for sys/, auth/, logins, writes and wraps', async () => {
    const reader = await c.standby();
    const before = forwarded(reader);
    const requests: CoreRequest[] = [
      { operation: 'read', path: 'sys/mounts', token: c.rootToken },
      { operation: 'read', path: 'auth/token/lookup-self', token: c.rootToken },
      {
        operation: 'update',
        path: 'auth/token/lookup',
        token: c.rootToken,
        data: { token: c.rootToken },
      },
      { operation: 'update', path: 'auth/approle/login', data: { role_id: 'r', secret_id: 's' } },
      {
        operation: 'update',
        path: 'secret/data/app',
        token: c.rootToken,
        data: { data: { n: 0 } },
      },
      { operation: 'read', path: 'secret/data/app', token: c.rootToken, wrapTtlSeconds: 60 },
      { operation: 'read', path: 'sys/wrapping/lookup', token: c.rootToken },
      // Answered by the node before its router, so refused there.
      { operation: 'read', path: 'sys/seal-status' },
      { operation: 'read', path: 'sys/leader' },
      { operation: 'update', path: 'sys/unseal', data: { key: 'x' } },
    ];
    for (const request of requests) {
      const response = await once(reader, { ...request, ...stale });
      expect(response).toMatchObject({ ok: false, code: CoreErrorCode.staleReadRefused });
      expect(response).not.toHaveProperty('auth');
    }
    expect(forwarded(reader)).toBe(before);
  });
});

describe('stale reads on a standby cut off from the cluster', () => {
  it('CofferNode.handle serves a stale read from its own state when no leader answers, without a forward', async () => {
    const token = await tokenWith({ policies: ['reader'] });
    const revokedBefore = await tokenWith({ policies: ['reader'] });
    await c.ok(await c.leader(), {
      operation: 'update',
      path: 'auth/token/revoke',
      token: c.rootToken,
      data: { token: revokedBefore },
    });
    const reader = await c.standby();
    // NB: a linearizable read first, so the standby has applied everything above.
    await c.ok(reader, { operation: 'read', path: 'secret/data/app', token });
    const others = c.nodes.filter((n) => n !== reader).map((n) => n.raftNode?.id ?? 0);
    c.harness.network.isolate(reader.raftNode?.id ?? 0, others);
    await write(2);
    const index = appliedIndex(reader);
    const before = forwarded(reader);

    const read = await once(reader, {
      operation: 'read',
      path: 'secret/data/app',
      token,
      ...stale,
    });
    expect(read).toMatchObject({ ok: true, staleRead: { appliedIndex: index } });
    expect(read.ok && read.data?.['data']).toEqual({ n: 1 });
    expect(read.ok && read.warnings?.join()).toMatch(/Stale read: .* Raft index \d+;/);
    expect(forwarded(reader)).toBe(before);

    // The token check reads the same state: a revocation it applied is seen.
    expect(
      await once(reader, {
        operation: 'read',
        path: 'secret/data/app',
        token: revokedBefore,
        ...stale,
      }),
    ).toMatchObject({
      ok: false,
      code: CoreErrorCode.permissionDenied,
      staleRead: { appliedIndex: index },
    });
    // Refusals of the option do not depend on a leader.
    expect(
      await once(reader, { operation: 'read', path: 'sys/mounts', token: c.rootToken, ...stale }),
    ).toMatchObject({ ok: false, code: CoreErrorCode.staleReadRefused });

    // Without the option the read waits for its round, in vain, and goes to the active node.
    const fresh = await once(reader, { operation: 'read', path: 'secret/data/app', token });
    expect(fresh.ok && fresh.data?.['data']).toEqual({ n: 2 });
    expect(forwarded(reader)).toBe(before + 1);
  });

  it('CofferNode.handle answers a stale read with the state it has once it is reached again', async () => {
    c.harness.network.heal();
    const reader = await c.standby();
    await c.ok(reader, { operation: 'read', path: 'secret/data/app', token: c.rootToken });
    const read = await once(reader, {
      operation: 'read',
      path: 'secret/data/app',
      token: c.rootToken,
      ...stale,
    });
    expect(read.ok && read.data?.['data']).toEqual({ n: 2 });
    expect(read).not.toHaveProperty('staleRead');
  });
});
