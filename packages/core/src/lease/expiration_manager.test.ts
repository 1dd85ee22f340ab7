/**
 * Goal: the expiration manager registers leases within the mount's TTLs, renews them within
 * their max TTL, revokes them when due in expiry order with bounded memory (one page of index
 * keys), only while started, across a restart, at the configured rate, retries failures with
 * exponential backoff and jitter, marks a lease irrevocable after K failures, and revokes by
 * token and by prefix.
 * Method: a MemoryStorageView, a ManualClock (no sleeps), a fixed jitter source and a
 * scriptable secret backend (lease_test_support.ts).
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { flush, makeHarness, testMount, type Harness } from './lease_test_support.ts';

const mount = testMount();

function register(
  h: Harness,
  ttlSeconds: number,
  options: { path?: string; tokenKey?: string } = {},
) {
  return h.leases.registerSecret({
    mount,
    path: options.path ?? 'creds/ro',
    tokenKey: options.tokenKey,
    secret: { ttlSeconds, renewable: true, internal: { user: `u${ttlSeconds}` } },
    nowMs: h.wall(),
  });
}

describe('ExpirationManager.registerSecret', () => {
  it('registerSecret names the lease after its path and bounds its TTL by the mount', async () => {
    const h = makeHarness();
    const lease = await register(h, 10 * 86400);
    expect(lease.leaseId).toMatch(/^db\/creds\/ro\/[A-Za-z0-9_-]{24}$/);
    expect(lease).toMatchObject({ ttlSeconds: 86400, renewable: true });
    const byDefault = await register(h, 0);
    expect(byDefault.ttlSeconds).toBe(3600);
    expect(h.storedLease(lease.leaseId)).toMatchObject({
      kind: 'secret',
      mount: { uuid: mount.uuid, path: 'db/' },
      internal: { user: 'u864000' },
    });
  });
});

describe('ExpirationManager.renew', () => {
  it('renew extends from now and is cut at the max TTL with a warning', async () => {
    const h = makeHarness();
    const { leaseId } = await h.leases.registerSecret({
      mount: testMount({ maxLeaseTtlSeconds: 10_000 }),
      path: 'creds/ro',
      tokenKey: undefined,
      secret: { ttlSeconds: 3600, renewable: true, internal: {} },
      nowMs: h.wall(),
    });
    h.clock.advance(3_000_000);
    const first = await h.leases.renew(leaseId, { incrementSeconds: 3600, nowMs: h.wall() });
    expect(first.lease.ttlSeconds).toBe(3600);
    expect(first.warnings).toEqual([]);
    h.clock.advance(3_000_000);
    const cut = await h.leases.renew(leaseId, { incrementSeconds: 7200, nowMs: h.wall() });
    expect(cut.lease.ttlSeconds).toBe(4000);
    expect(cut.warnings[0]).toContain('capped');
    h.clock.advance(600_000);
    const view = await h.leases.lookup(leaseId, h.wall());
    expect(view).toMatchObject({ renewable: true, ttlSeconds: 3400 });
    expect(h.storedLease(leaseId)?.expireMs).toBe(h.storedLease(leaseId)?.maxExpireMs);
  });

  it('renew refuses a non-renewable, expired, unknown or token lease', async () => {
    const h = makeHarness();
    const fixed = await h.leases.registerSecret({
      mount,
      path: 'creds/ro',
      tokenKey: undefined,
      secret: { ttlSeconds: 60, renewable: false, internal: {} },
      nowMs: h.wall(),
    });
    const now = () => ({ incrementSeconds: 0, nowMs: h.wall() });
    await expect(h.leases.renew(fixed.leaseId, now())).rejects.toMatchObject({
      code: CoreErrorCode.leaseInvalid,
    });
    await expect(h.leases.renew('db/creds/ro/none', now())).rejects.toMatchObject({
      code: CoreErrorCode.leaseInvalid,
    });
    const tokenLease = await h.leases.registerToken({
      tokenKey: 'k',
      creationPath: 'auth/token/create',
      issuedMs: h.wall(),
      expireMs: h.wall() + 60_000,
      maxExpireMs: 0,
      ttlSeconds: 60,
      renewable: true,
    });
    await expect(h.leases.renew(tokenLease, now())).rejects.toMatchObject({
      code: CoreErrorCode.invalidRequest,
    });
    const short = await register(h, 10);
    h.clock.advance(10_000);
    await expect(h.leases.renew(short.leaseId, now())).rejects.toMatchObject({
      code: CoreErrorCode.leaseInvalid,
    });
  });
});

describe('ExpirationManager expiry', () => {
  it('expiry revokes nothing until started, then every due lease in expiry order', async () => {
    const h = makeHarness({
      revocationRate: { concurrency: 1, perSecond: Number.POSITIVE_INFINITY },
    });
    const ttls = [50, 10, 40, 20, 30, 1000];
    const leases = [];
    for (const ttl of ttls) {
      leases.push({ ttl, leaseId: (await register(h, ttl)).leaseId });
    }
    h.clock.advance(60_000);
    await flush();
    expect(h.revokedSecrets).toEqual([]);
    await h.leases.start();
    await h.leases.settled();
    const expected = leases.filter((l) => l.ttl <= 60).sort((a, b) => a.ttl - b.ttl);
    expect(h.revokedSecrets).toEqual(expected.map((l) => l.leaseId));
    h.clock.advance(1_000_000);
    await h.leases.settled();
    expect(h.revokedSecrets).toHaveLength(6);
    await h.leases.stop();
  });

  it('expiry fires the timer of a lease registered while running', async () => {
    const h = makeHarness();
    await h.leases.start();
    const { leaseId } = await register(h, 30);
    h.clock.advance(29_999);
    await h.leases.settled();
    expect(h.revokedSecrets).toEqual([]);
    h.clock.advance(1);
    await h.leases.settled();
    expect(h.revokedSecrets).toEqual([leaseId]);
    expect(h.storedLease(leaseId)).toBeUndefined();
    await h.leases.stop();
  });

  it('expiry stops with stop() and resumes in a new manager after a restart', async () => {
    const h = makeHarness();
    await h.leases.start();
    const early = await register(h, 10);
    const late = await register(h, 100);
    h.clock.advance(10_000);
    await h.leases.settled();
    await h.leases.stop();
    h.clock.advance(500_000);
    await flush();
    expect(h.revokedSecrets).toEqual([early.leaseId]);
    const next = h.newManager();
    await next.start();
    await next.settled();
    expect(h.revokedSecrets).toEqual([early.leaseId, late.leaseId]);
    await next.stop();
  });

  it('expiry pages through 5,000 due leases holding at most one page of keys', async () => {
    const h = makeHarness({ pageSize: 100 });
    for (let i = 0; i < 5000; i += 1) {
      await register(h, 10 + (i % 97));
    }
    h.clock.advance(200_000);
    await h.leases.start();
    await h.leases.settled();
    expect(h.revokedSecrets).toHaveLength(5000);
    expect(h.leases.metrics().pageKeysMax).toBeLessThanOrEqual(100);
    expect(h.leases.metrics().inFlightMax).toBeLessThanOrEqual(8);
    const left = [...h.root.entries().keys()].filter((k) => k.startsWith('sys/expire/'));
    expect(left).toEqual([]);
    await h.leases.stop();
  }, 60_000);

  it('expiry is rate limited by its token bucket', async () => {
    const h = makeHarness({ revocationRate: { concurrency: 1, perSecond: 2, burst: 2 } });
    for (let i = 0; i < 6; i += 1) {
      await register(h, 10);
    }
    h.clock.advance(10_000);
    await h.leases.start();
    await flush();
    expect(h.revokedSecrets).toHaveLength(2);
    h.clock.advance(500);
    await flush();
    expect(h.revokedSecrets).toHaveLength(3);
    for (let i = 0; i < 3; i += 1) {
      h.clock.advance(500);
      await flush();
    }
    expect(h.revokedSecrets).toHaveLength(6);
    await h.leases.stop();
  });
});

describe('ExpirationManager failures', () => {
  it('a failed revocation is retried with exponential backoff and jitter', async () => {
    const h = makeHarness({ retry: { delayBaseMs: 1000, random: () => 0 } });
    let failures = 2;
    h.failing = () => (failures -= 1) >= 0;
    const { leaseId } = await register(h, 10);
    await h.leases.start();
    h.clock.advance(10_000);
    await h.leases.settled();
    expect(h.attempts.get(leaseId)).toBe(1);
    // First retry after 50 % of 1 s (jitter 0), the second after 50 % of 2 s.
    expect(h.storedLease(leaseId)?.dueMs).toBe(h.wall() + 500);
    h.clock.advance(499);
    await h.leases.settled();
    expect(h.attempts.get(leaseId)).toBe(1);
    h.clock.advance(1);
    await h.leases.settled();
    expect(h.attempts.get(leaseId)).toBe(2);
    expect(h.storedLease(leaseId)?.dueMs).toBe(h.wall() + 1000);
    h.clock.advance(1000);
    await h.leases.settled();
    expect(h.attempts.get(leaseId)).toBe(3);
    expect(h.revokedSecrets).toEqual([leaseId]);
    expect(h.logged.filter((l) => l.event === 'lease_revoke_retry')).toHaveLength(2);
    await h.leases.stop();
  });

  it('a lease is marked irrevocable after K failures, reported, and removed by revoke-force', async () => {
    const h = makeHarness({ retry: { delayBaseMs: 1000, failuresMax: 3, random: () => 0.5 } });
    h.failing = () => true;
    const { leaseId } = await register(h, 10);
    const other = await register(h, 10, { path: 'creds/rw' });
    h.failing = (id) => id === leaseId;
    await h.leases.start();
    for (let i = 0; i < 10; i += 1) {
      h.clock.advance(60_000);
      await h.leases.settled();
    }
    expect(h.attempts.get(leaseId)).toBe(3);
    expect(h.revokedSecrets).toEqual([other.leaseId]);
    const report = await h.leases.irrevocable();
    expect(report.leases).toEqual([
      expect.objectContaining({ leaseId, failures: 3, code: 'TEST_DOWN', mountPath: 'db/' }),
    ]);
    expect(h.logged).toContainEqual(
      expect.objectContaining({ level: 'warn', event: 'lease_irrevocable' }),
    );
    h.clock.advance(10_000_000);
    await h.leases.settled();
    expect(h.attempts.get(leaseId)).toBe(3);
    expect(await h.leases.revokeForce('db/creds/ro')).toBe(1);
    expect((await h.leases.irrevocable()).leases).toEqual([]);
    expect(h.storedLease(leaseId)).toBeUndefined();
    await h.leases.stop();
  });
});

describe('ExpirationManager revocation', () => {
  it('revokePrefix revokes every lease under a mount path and nothing else', async () => {
    const h = makeHarness();
    const inside = [await register(h, 100), await register(h, 100, { path: 'creds/rw' })];
    const outside = await h.leases.registerSecret({
      mount: testMount({ path: 'dbx/', uuid: 'other' }),
      path: 'creds/ro',
      tokenKey: undefined,
      secret: { ttlSeconds: 100, renewable: true, internal: {} },
      nowMs: h.wall(),
    });
    expect(await h.leases.revokePrefix('db/', h.wall())).toBe(2);
    expect([...h.revokedSecrets].sort()).toEqual(inside.map((l) => l.leaseId).sort());
    expect(h.storedLease(outside.leaseId)).toBeDefined();
  });

  it('revokePrefix reports a backend failure and keeps the lease scheduled', async () => {
    const h = makeHarness();
    const { leaseId } = await register(h, 100);
    h.failing = () => true;
    await expect(h.leases.revokePrefix('db/', h.wall())).rejects.toMatchObject({
      code: CoreErrorCode.internal,
    });
    expect(h.storedLease(leaseId)).toMatchObject({ revokeFailures: 1 });
  });

  it('revokeByToken revokes only the leases the token created', async () => {
    const h = makeHarness();
    const mine = [
      await register(h, 100, { tokenKey: 'tok-a' }),
      await register(h, 100, { tokenKey: 'tok-a' }),
    ];
    const theirs = await register(h, 100, { tokenKey: 'tok-b' });
    await h.leases.revokeByToken('tok-a');
    expect([...h.revokedSecrets].sort()).toEqual(mine.map((l) => l.leaseId).sort());
    expect(h.storedLease(theirs.leaseId)).toBeDefined();
  });

  it('revoke of an unknown lease is LEASE_INVALID', async () => {
    const h = makeHarness();
    await expect(h.leases.revoke('db/creds/ro/nope')).rejects.toMatchObject({
      code: CoreErrorCode.leaseInvalid,
    });
  });

  it('tidy drops stale index entries and makes leases of vanished tokens due', async () => {
    const h = makeHarness();
    const orphaned = await register(h, 3600, { tokenKey: 'vanished' });
    const view = h.root.sub('sys/expire/');
    await view.write({
      operations: [
        {
          kind: 'put',
          key: 'by-expiry/0000000000000001/db/creds/ro/ghost',
          value: new Uint8Array(),
        },
        { kind: 'put', key: 'by-token/t/db/creds/ro/ghost', value: new Uint8Array() },
      ],
    });
    const report = await h.leases.tidy(h.wall());
    expect(report).toEqual({ staleIndexKeys: 2, restoredIndexKeys: 0, orphanedLeases: 1 });
    await h.leases.start();
    await h.leases.settled();
    expect(h.revokedSecrets).toEqual([orphaned.leaseId]);
    await h.leases.stop();
  });
});
