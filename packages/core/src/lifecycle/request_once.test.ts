/**
 * Goal: a write request resent with the same request id (a client retrying after its node or
 * the leader died) applies once and answers what the first attempt answered, also when that
 * answer is a new secret (a token, a secret_id, a login with a single-use secret_id); the same
 * id from another caller or with another body is another request; a failed request records no
 * outcome; concurrent writes to one key that lose their commit run again instead of failing;
 * outcomes are deleted once their retention passed; and across a leader change the retry on
 * the new leader answers the committed response.
 * Method: CofferNodes on real LevelDB driven by a manual clock (request_test_support.ts), the
 * state inspected through the node's SecureStore.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { outcomeExpiryPrefix, outcomesPrefix } from '../replicated/request_outcomes.ts';
import { StagedWrites } from '../replicated/staged_writes.ts';
import type { CoreRequest, CoreResponse } from '../router/request.ts';
import type { CofferNode } from './coffer_node.ts';
import { openInProcessCluster } from './cluster_test_support.ts';
import { closeOpenedNodes, drive, driveUntil, removeRoot } from './lifecycle_harness.ts';
import { openRequestFixture, type RequestFixture } from './request_test_support.ts';

let f: RequestFixture;

async function keysUnder(node: CofferNode, prefix: string): Promise<readonly string[]> {
  const secure = node.secureStore;
  await secure.readPoint();
  return (await secure.listLocal(prefix, { limit: 1000 })).keys;
}

function put(path: string, data: Record<string, unknown>, requestId: string): CoreRequest {
  return {
    operation: 'update',
    path: `secret/data/${path}`,
    token: f.rootToken,
    data: { data },
    requestId,
  };
}

async function currentVersion(path: string): Promise<unknown> {
  const metadata = await f.ok({
    operation: 'read',
    path: `secret/metadata/${path}`,
    token: f.rootToken,
  });
  return metadata.data?.['current_version'];
}

beforeAll(async () => {
  f = await openRequestFixture();
  await f.mountKv();
});

afterAll(async () => {
  await closeOpenedNodes();
  await removeRoot(f.harness.root);
});

describe('a request resent with its request id', () => {
  it('writes a secret once and answers the first response again', async () => {
    const first = await f.ok(put('once/a', { v: 1 }, 'req-kv-1'));
    const again = await f.ok(put('once/a', { v: 1 }, 'req-kv-1'));
    expect(again).toEqual(first);
    expect(await currentVersion('once/a')).toBe(1);
    expect(await drive(f.harness, keysUnder(f.node, outcomesPrefix))).not.toHaveLength(0);
  });

  it('records no outcome for a write without a request id (its caller cannot resend one)', async () => {
    const before = await drive(f.harness, keysUnder(f.node, outcomesPrefix));
    const unnamed: CoreRequest = {
      operation: 'update',
      path: 'secret/data/once/unnamed',
      token: f.rootToken,
      data: { data: { v: 1 } },
    };
    const answered = await f.ok(unnamed);
    expect(answered.requestId).toMatch(/^[0-9a-f-]{36}$/);
    await f.ok(unnamed);
    expect(await currentVersion('once/unnamed')).toBe(2);
    expect(await drive(f.harness, keysUnder(f.node, outcomesPrefix))).toEqual(before);
  });

  it('answers the same new token, and creates one', async () => {
    const before = (await drive(f.harness, keysUnder(f.node, 'auth/token/id/'))).length;
    const request: CoreRequest = {
      operation: 'update',
      path: 'auth/token/create',
      token: f.rootToken,
      data: { policies: ['default'], ttl: '1h' },
      requestId: 'req-token-1',
    };
    const first = await f.ok(request);
    const again = await f.ok(request);
    expect(again.auth?.clientToken).toBe(first.auth?.clientToken);
    expect(again).toEqual(first);
    expect(await drive(f.harness, keysUnder(f.node, 'auth/token/id/'))).toHaveLength(before + 1);
  });

  it('logs in once with a single-use secret_id and answers the retry with the same token', async () => {
    const roleId = await f.appRole('web', {
      token_policies: ['default'],
      token_ttl: '5m',
      secret_id_num_uses: 1,
    });
    const issue: CoreRequest = {
      operation: 'update',
      path: 'auth/approle/role/web/secret-id',
      token: f.rootToken,
      requestId: 'req-secret-id-1',
    };
    const issued = await f.ok(issue);
    expect((await f.ok(issue)).data?.['secret_id']).toBe(issued.data?.['secret_id']);
    const secretId = issued.data?.['secret_id'];
    const login: CoreRequest = {
      operation: 'update',
      path: 'auth/approle/login',
      data: { role_id: roleId, secret_id: secretId },
      requestId: 'req-login-1',
    };
    const first = await f.ok(login);
    const retry = await f.ok(login);
    expect(retry.auth?.clientToken).toBe(first.auth?.clientToken);
    // A new login (a new request id) with the spent secret_id is refused, as before.
    expect(await f.call({ ...login, requestId: 'req-login-2' })).toMatchObject({
      ok: false,
      code: CoreErrorCode.loginFailed,
    });
  });

  it('is another request from another caller or with another body', async () => {
    const other = await f.ok({
      operation: 'update',
      path: 'auth/token/create',
      token: f.rootToken,
      data: { policies: ['root'] },
    });
    const otherToken = other.auth?.clientToken ?? '';
    await f.ok(put('once/b', { v: 1 }, 'req-shared'));
    await f.ok(put('once/b', { v: 2 }, 'req-shared'));
    expect(await currentVersion('once/b')).toBe(2);
    await f.ok({ ...put('once/b', { v: 2 }, 'req-shared'), token: otherToken });
    expect(await currentVersion('once/b')).toBe(3);
  });

  it('records no outcome for a failed request: its retry runs again', async () => {
    await f.ok(put('once/cas', { v: 1 }, 'req-cas-setup'));
    const failing: CoreRequest = {
      operation: 'update',
      path: 'secret/data/once/cas',
      token: f.rootToken,
      data: { data: { v: 2 }, options: { cas: 0 } },
      requestId: 'req-cas-1',
    };
    const first = await f.call(failing);
    expect(first).toMatchObject({ ok: false });
    expect(await f.call(failing)).toEqual(first);
    await f.ok({
      operation: 'update',
      path: 'secret/data/once/cas',
      token: f.rootToken,
      data: { data: { v: 2 }, options: { cas: 1 } },
      requestId: 'req-cas-1',
    });
    expect(await currentVersion('once/cas')).toBe(2);
  });

  it('runs a write again when a concurrent write to the same secret committed first', async () => {
    const writes = Array.from({ length: 6 }, (_, i) =>
      drive(f.harness, f.node.handle(put('once/busy', { i }, `req-busy-${i}`))),
    );
    const responses: CoreResponse[] = await Promise.all(writes);
    expect(responses.filter((r) => !r.ok)).toEqual([]);
    const versions = responses.map((r) => (r.ok ? r.data?.['version'] : undefined));
    expect([...versions].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('answers concurrent attempts of one request with one response', async () => {
    const before = (await drive(f.harness, keysUnder(f.node, 'auth/token/id/'))).length;
    const request: CoreRequest = {
      operation: 'update',
      path: 'auth/token/create',
      token: f.rootToken,
      data: { policies: ['default'] },
      requestId: 'req-token-concurrent',
    };
    const [a, b] = await Promise.all([
      drive(f.harness, f.node.handle(request)),
      drive(f.harness, f.node.handle(request)),
    ]);
    expect(a.ok && b.ok).toBe(true);
    expect(a).toEqual(b);
    expect(await drive(f.harness, keysUnder(f.node, 'auth/token/id/'))).toHaveLength(before + 1);
  });

  it('forgets outcomes once their retention passed', async () => {
    expect(await drive(f.harness, keysUnder(f.node, outcomeExpiryPrefix))).not.toHaveLength(0);
    for (let minute = 0; minute < 7; minute++) {
      f.harness.clock.advance(60_000);
      await drive(f.harness, Promise.resolve());
    }
    await driveUntil(f.harness, () => true);
    const deadline = f.harness.clock.nowMs() + 120_000;
    let left = await drive(f.harness, keysUnder(f.node, outcomesPrefix));
    while (left.length > 0 && f.harness.clock.nowMs() < deadline) {
      f.harness.clock.advance(1000);
      left = await drive(f.harness, keysUnder(f.node, outcomesPrefix));
    }
    expect(left).toEqual([]);
    expect(await drive(f.harness, keysUnder(f.node, outcomeExpiryPrefix))).toEqual([]);
    // The same id now is a new request.
    await f.ok(put('once/a', { v: 1 }, 'req-kv-1'));
    expect(await currentVersion('once/a')).toBe(2);
  });
});

describe('staged writes', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  const text = (value: Uint8Array | undefined) =>
    value === undefined ? undefined : new TextDecoder().decode(value);

  it('read back within their request, merged into listings, and commit only when asked', async () => {
    const secure = f.node.secureStore;
    await drive(
      f.harness,
      secure.write({
        conditions: [],
        operations: ['a', 'c', 'e', 'g'].map((k) => ({
          kind: 'put' as const,
          key: `stage-test/${k}`,
          value: bytes(k),
        })),
      }),
    );
    const staged = new StagedWrites();
    const seen = await drive(
      f.harness,
      staged.run(async () => {
        const write = await secure.write({
          conditions: [{ kind: 'absent', key: 'stage-test/b' }],
          operations: [
            { kind: 'put', key: 'stage-test/b', value: bytes('b') },
            { kind: 'delete', key: 'stage-test/c' },
            { kind: 'put', key: 'stage-test/h', value: bytes('h') },
          ],
        });
        const refused = await secure.write({
          conditions: [{ kind: 'absent', key: 'stage-test/b' }],
          operations: [{ kind: 'put', key: 'stage-test/b', value: bytes('again') }],
        });
        const version = secure.versionLocal('stage-test/b');
        const first = await secure.listLocal('stage-test/', { limit: 2 });
        const second = await secure.listLocal('stage-test/', {
          after: first.cursor ?? '',
          limit: 2,
        });
        const third = await secure.listLocal('stage-test/', {
          after: second.cursor ?? '',
          limit: 2,
        });
        return {
          write,
          refused,
          version,
          b: text(secure.getLocal('stage-test/b')?.value),
          c: secure.getLocal('stage-test/c'),
          pages: [first, second, third],
        };
      }),
    );
    expect(seen.write).toEqual({ ok: true });
    expect(seen.refused).toMatchObject({ ok: false, key: 'stage-test/b' });
    expect(seen.version).toBeLessThan(0);
    expect(seen.b).toBe('b');
    expect(seen.c).toBeUndefined();
    expect(seen.pages.flatMap((p) => p.keys)).toEqual(
      ['a', 'b', 'e', 'g', 'h'].map((k) => `stage-test/${k}`),
    );
    expect(seen.pages[2]?.cursor).toBeUndefined();
    // Nothing reached the state: the set was never committed.
    staged.close();
    expect(secure.getLocal('stage-test/b')).toBeUndefined();
    expect(text(secure.getLocal('stage-test/c')?.value)).toBe('c');
    const committed = await drive(f.harness, secure.write(staged.transaction()));
    expect(committed).toEqual({ ok: true });
    await drive(f.harness, secure.readPoint());
    expect(text(secure.getLocal('stage-test/b')?.value)).toBe('b');
    expect(secure.getLocal('stage-test/c')).toBeUndefined();
  });
});

describe('a request resent to the new leader after the old one stopped', () => {
  it('answers the committed response and applies nothing twice', async () => {
    const c = await openInProcessCluster([1, 2, 3]);
    try {
      const write: CoreRequest = {
        operation: 'update',
        path: 'secret/data/failover',
        token: c.rootToken,
        data: { data: { v: 1 } },
        requestId: 'req-failover-1',
      };
      const token: CoreRequest = {
        operation: 'update',
        path: 'auth/token/create',
        token: c.rootToken,
        data: { policies: ['default'] },
        requestId: 'req-failover-token',
      };
      const written = await c.ok(await c.leader(), write);
      const created = await c.ok(await c.leader(), token);

      const oldLeader = await c.leader();
      await oldLeader.close();
      c.nodes.splice(c.nodes.indexOf(oldLeader), 1);
      const newLeader = await c.leader();
      expect(newLeader).not.toBe(oldLeader);

      expect(await c.send(newLeader, write)).toEqual(written);
      expect(await c.send(await c.leader(), token)).toEqual(created);
      const metadata = await c.send(await c.leader(), {
        operation: 'read',
        path: 'secret/metadata/failover',
        token: c.rootToken,
      });
      expect(metadata).toMatchObject({ ok: true, data: { current_version: 1 } });
    } finally {
      for (const node of c.nodes) {
        await node.close();
      }
      await removeRoot(c.harness.root);
    }
  });
});
