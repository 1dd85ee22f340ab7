/**
 * Goal: the token store validates only live tokens (expired, revoked, spent, malformed, out of
 * their bound CIDRs: one answer), spends uses by committed writes (exactly one of two racing
 * requests gets a 1-use token), issues login and wrapping tokens within their TTLs, revokes
 * trees with their leases (or orphans the children), lets tokens expire through the expiration
 * manager, finishes interrupted revocations in tidy, and never stores a token id.
 * Method: a MemoryStorageView, a ManualClock, a fixed-key HMAC as hashId, a recording secret
 * backend (lease_test_support.ts).
 */
import { describe, expect, it } from 'vitest';

import type { LoginAuth } from '../router/backend.ts';
import { makeHarness, testHashId, testMount, type Harness } from '../lease/lease_test_support.ts';
import { jsonBytes } from '../router/storage_view.ts';
import { entryPath, rootTokenEntry, TokenKind, type TokenEntry } from './token_entry.ts';
import { accessorHashInput, newAccessor, newTokenId } from './token_id.ts';
import { planTtl } from './token_ttl.ts';

const login: LoginAuth = {
  policies: ['app'],
  displayName: 'web',
  metadata: { role: 'web' },
  ttlSeconds: 0,
  maxTtlSeconds: 0,
  numUses: 0,
  renewable: true,
};
const approle = testMount({ path: 'auth/approle/', type: 'approle', accessor: 'auth_approle_1' });

async function loginToken(h: Harness, auth: Partial<LoginAuth> = {}) {
  const info = await h.tokens.issueForLogin(
    { ...login, ...auth },
    { mount: approle, path: 'auth/approle/login', nowMs: h.wall() },
  );
  const entry = await h.tokens.validate(info.clientToken, { nowMs: h.wall() });
  if (entry === undefined) {
    throw new Error('the token just issued does not validate');
  }
  return { id: info.clientToken, info, entry };
}

/** A child of parent, as auth/token/create would issue it. */
async function childOf(h: Harness, parent: TokenEntry, ttlSeconds = 600) {
  const read = await h.tokens.records.read(parent.key);
  return h.tokens.issue({
    kind: TokenKind.service,
    policies: ['app', 'default'],
    ...(read === undefined ? {} : { parent: read }),
    ttl: planTtl(
      { ttlSeconds, explicitMaxTtlSeconds: 0, periodSeconds: 0, root: false },
      { limits: h.tokens.defaults, nowMs: h.wall() },
    ),
    periodSeconds: 0,
    numUses: 0,
    renewable: true,
    displayName: 'token',
    metadata: {},
    boundCidrs: [],
    path: 'auth/token/create',
    nowMs: h.wall(),
  });
}

/** A root token written as lifecycle/root_token.ts writes it. */
async function rootToken(h: Harness) {
  const id = newTokenId();
  const accessor = newAccessor();
  const entry = rootTokenEntry({ key: testHashId(id), accessor, nowMs: h.wall() });
  const view = h.root.sub('auth/token/');
  await view.write({
    operations: [
      { kind: 'put', key: entryPath(entry.key), value: jsonBytes(entry) },
      {
        kind: 'put',
        key: `accessor/${testHashId(accessorHashInput(accessor))}`,
        value: jsonBytes({ tokenKey: entry.key }),
      },
    ],
  });
  return { id, entry };
}

describe('TokenStore.validate', () => {
  it('TokenStore.validate accepts a live token and refuses every bad one alike', async () => {
    const h = makeHarness();
    const { id, entry } = await loginToken(h);
    expect(entry.policies).toEqual(['app', 'default']);
    const now = { nowMs: h.wall() };
    for (const bad of ['', 'cfr.', `${id}x`, id.slice(0, -1), newTokenId(), 'x'.repeat(36)]) {
      expect(await h.tokens.validate(bad, now)).toBeUndefined();
    }
    await h.tokens.revokeTree(entry, h.wall());
    expect(await h.tokens.validate(id, now)).toBeUndefined();
  });

  it('TokenStore.validate refuses an expired token before the expiration manager ran', async () => {
    const h = makeHarness();
    const { id } = await loginToken(h, { ttlSeconds: 60 });
    h.clock.advance(59_999);
    expect(await h.tokens.validate(id, { nowMs: h.wall() })).toBeDefined();
    h.clock.advance(1);
    expect(await h.tokens.validate(id, { nowMs: h.wall() })).toBeUndefined();
  });

  it('TokenStore.validate refuses a token used outside its bound CIDRs', async () => {
    const h = makeHarness();
    const { clientToken: id } = await h.tokens.issueForLogin(
      { ...login, boundCidrs: ['10.1.0.0/16', '2001:db8::/32'] },
      { mount: approle, path: 'auth/approle/login', nowMs: h.wall() },
    );
    const at = (clientAddress?: string) =>
      h.tokens.validate(id, {
        nowMs: h.wall(),
        ...(clientAddress === undefined ? {} : { clientAddress }),
      });
    expect(await at('10.1.2.3')).toBeDefined();
    expect(await at('::ffff:10.1.2.3')).toBeDefined();
    expect(await at('2001:db8::1')).toBeDefined();
    expect(await at('10.2.0.1')).toBeUndefined();
    expect(await at(undefined)).toBeUndefined();
    expect(await at('not-an-ip')).toBeUndefined();
  });

  it('TokenStore.issueForLogin refuses malformed bound CIDRs', async () => {
    const h = makeHarness();
    await expect(loginToken(h, { boundCidrs: ['10.0.0.0/33'] })).rejects.toMatchObject({
      code: 'COFFER_CORE_INVALID_REQUEST',
    });
  });
});

describe('TokenStore.consumeUse', () => {
  it('TokenStore.consumeUse stops a use-limited token after its uses', async () => {
    const h = makeHarness();
    const { id, entry } = await loginToken(h, { numUses: 2 });
    expect(await h.tokens.consumeUse(entry, h.wall())).toBe(true);
    const again = await h.tokens.validate(id, { nowMs: h.wall() });
    expect(again?.numUses).toBe(1);
    expect(await h.tokens.consumeUse(entry, h.wall())).toBe(true);
    expect(await h.tokens.validate(id, { nowMs: h.wall() })).toBeUndefined();
    expect(await h.tokens.consumeUse(entry, h.wall())).toBe(false);
  });

  it('TokenStore.consumeUse gives a 1-use token to exactly one of two racing requests', async () => {
    const h = makeHarness();
    const { entry } = await loginToken(h, { numUses: 1 });
    const results = await Promise.all([
      h.tokens.consumeUse(entry, h.wall()),
      h.tokens.consumeUse(entry, h.wall()),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('TokenStore.consumeUse writes nothing for an unlimited token', async () => {
    const h = makeHarness();
    const { entry } = await loginToken(h);
    const writes = h.root.writeCount;
    expect(await h.tokens.consumeUse(entry, h.wall())).toBe(true);
    expect(h.root.writeCount).toBe(writes);
  });

  it('TokenStore.settleUse revokes a spent token with its children after its last request', async () => {
    const h = makeHarness();
    const { entry } = await loginToken(h, { numUses: 1 });
    expect(await h.tokens.consumeUse(entry, h.wall())).toBe(true);
    const child = await childOf(h, entry);
    await h.tokens.settleUse(entry, h.wall());
    expect(await h.tokens.exists(entry.key)).toBe(false);
    expect(await h.tokens.validate(child.id, { nowMs: h.wall() })).toBeUndefined();
  });
});

describe('TokenStore.issueForLogin', () => {
  it('TokenStore.issueForLogin clamps TTLs to the mount tune and registers a lease', async () => {
    const h = makeHarness();
    const { info, entry } = await loginToken(h, { ttlSeconds: 200_000, maxTtlSeconds: 500_000 });
    expect(info).toMatchObject({
      leaseDurationSeconds: 86400,
      orphan: true,
      tokenType: 'service',
      policies: ['app', 'default'],
    });
    expect(entry).toMatchObject({ displayName: 'approle-web', path: 'auth/approle/login' });
    expect(entry.maxExpireMs).toBe(h.wall() + 86_400_000);
    expect(entry.leaseId).toMatch(/^auth\/approle\/login\/[A-Za-z0-9_-]{24}$/);
    expect(h.storedLease(entry.leaseId ?? '')).toMatchObject({
      kind: 'token',
      tokenKey: entry.key,
    });
  });

  it('TokenStore.issueWrapping issues a single-use orphan with only response-wrapping', async () => {
    const h = makeHarness();
    const wrap = await h.tokens.issueWrapping({
      ttlSeconds: 300,
      creationPath: 'db/creds/ro',
      nowMs: h.wall(),
    });
    const entry = await h.tokens.validate(wrap.token, { nowMs: h.wall() });
    expect(entry).toMatchObject({
      policies: ['response-wrapping'],
      numUses: 1,
      orphan: true,
      renewable: false,
      key: wrap.key,
      accessor: wrap.accessor,
      kind: 'wrapping',
    });
  });
});

describe('TokenStore revocation', () => {
  it('TokenStore.revokeTree revokes children, grandchildren and every lease they created', async () => {
    const h = makeHarness();
    const parent = await loginToken(h);
    const child = await childOf(h, parent.entry);
    const grandchild = await childOf(h, child.entry);
    const sibling = await childOf(h, parent.entry);
    const mount = testMount();
    const leaseOf = (tokenKey: string) =>
      h.leases.registerSecret({
        mount,
        path: 'creds/ro',
        tokenKey,
        secret: { renewable: true, internal: { user: 'u' } },
        nowMs: h.wall(),
      });
    const leases = [
      await leaseOf(parent.entry.key),
      await leaseOf(child.entry.key),
      await leaseOf(grandchild.entry.key),
      await leaseOf(sibling.entry.key),
    ];
    await h.tokens.revokeTree(parent.entry, h.wall());
    for (const id of [parent.id, child.id, grandchild.id, sibling.id]) {
      expect(await h.tokens.validate(id, { nowMs: h.wall() })).toBeUndefined();
    }
    expect([...h.revokedSecrets].sort()).toEqual(leases.map((l) => l.leaseId).sort());
    const left = [...h.root.entries().keys()].filter(
      (k) => k.startsWith('auth/token/') || k.startsWith('sys/expire/'),
    );
    expect(left).toEqual([]);
  });

  it('TokenStore.revokeOrphan revokes the token and leaves its children valid orphans', async () => {
    const h = makeHarness();
    const parent = await loginToken(h);
    const child = await childOf(h, parent.entry);
    await h.tokens.revokeOrphan(parent.entry, h.wall());
    expect(await h.tokens.validate(parent.id, { nowMs: h.wall() })).toBeUndefined();
    const orphan = await h.tokens.validate(child.id, { nowMs: h.wall() });
    expect(orphan).toMatchObject({ orphan: true });
    expect(orphan?.parentKey).toBeUndefined();
  });

  it('TokenStore refuses a child whose parent was revoked meanwhile', async () => {
    const h = makeHarness();
    const parent = await loginToken(h);
    const read = await h.tokens.records.read(parent.entry.key);
    await h.tokens.markRevoked(parent.entry, h.wall());
    await expect(
      h.tokens.issue({
        kind: TokenKind.service,
        policies: ['default'],
        ...(read === undefined ? {} : { parent: read }),
        ttl: planTtl(
          { ttlSeconds: 60, explicitMaxTtlSeconds: 0, periodSeconds: 0, root: false },
          { limits: h.tokens.defaults, nowMs: h.wall() },
        ),
        periodSeconds: 0,
        numUses: 0,
        renewable: true,
        displayName: 'token',
        metadata: {},
        boundCidrs: [],
        path: 'auth/token/create',
        nowMs: h.wall(),
      }),
    ).rejects.toMatchObject({ code: 'COFFER_CORE_PERMISSION_DENIED' });
  });

  it('TokenStore tokens expire through the expiration manager with children and leases', async () => {
    const h = makeHarness();
    const parent = await loginToken(h, { ttlSeconds: 60 });
    const child = await childOf(h, parent.entry, 3600);
    const lease = await h.leases.registerSecret({
      mount: testMount(),
      path: 'creds/ro',
      tokenKey: child.entry.key,
      secret: { renewable: false, internal: {} },
      nowMs: h.wall(),
    });
    await h.leases.start();
    h.clock.advance(60_000);
    await h.leases.settled();
    expect(await h.tokens.exists(parent.entry.key)).toBe(false);
    expect(await h.tokens.exists(child.entry.key)).toBe(false);
    expect(h.revokedSecrets).toEqual([lease.leaseId]);
    await h.leases.stop();
  });

  it('TokenStore.tidy finishes an interrupted revocation and drops dangling indexes', async () => {
    const h = makeHarness();
    const parent = await loginToken(h);
    const child = await childOf(h, parent.entry);
    await h.tokens.markRevoked(parent.entry, h.wall());
    const view = h.root.sub('auth/token/');
    await view.write({
      operations: [
        { kind: 'put', key: 'accessor/dangling', value: jsonBytes({ tokenKey: 'gone' }) },
      ],
    });
    const report = await h.tokens.tidy(h.wall());
    expect(report.danglingAccessors).toBe(1);
    expect(report.revokedTokens).toBeGreaterThanOrEqual(1);
    expect(await h.tokens.exists(parent.entry.key)).toBe(false);
    expect(await h.tokens.exists(child.entry.key)).toBe(false);
    expect([...h.root.entries().keys()].filter((k) => k.startsWith('auth/token/'))).toEqual([]);
  });
});

describe('TokenStore secrecy', () => {
  it('TokenStore never stores a token id, nor an accessor in a key', async () => {
    const h = makeHarness();
    const issued = [await loginToken(h), await loginToken(h, { numUses: 3 })];
    const child = await childOf(h, issued[0]?.entry ?? ({} as TokenEntry));
    const wrap = await h.tokens.issueWrapping({
      ttlSeconds: 60,
      creationPath: 'x',
      nowMs: h.wall(),
    });
    const ids = [...issued.map((t) => t.id), child.id, wrap.token];
    const accessors = [...issued.map((t) => t.entry.accessor), child.entry.accessor, wrap.accessor];
    const decoder = new TextDecoder();
    for (const [key, { value }] of h.root.entries()) {
      const text = decoder.decode(value);
      for (const id of ids) {
        expect(key).not.toContain(id.slice(4));
        expect(text).not.toContain(id.slice(4));
      }
      for (const accessor of accessors) {
        expect(key).not.toContain(accessor);
      }
    }
  });

  it('TokenStore errors never contain the token id', async () => {
    const h = makeHarness();
    const { id, entry } = await loginToken(h, { renewable: false });
    const messages: string[] = [];
    await h.tokens.renew(entry, { incrementSeconds: 60, nowMs: h.wall() }).catch((e: unknown) => {
      messages.push((e as Error).message);
    });
    await h.tokens.revokeTree(entry, h.wall());
    await h.tokens.renew(entry, { incrementSeconds: 60, nowMs: h.wall() }).catch((e: unknown) => {
      messages.push((e as Error).message);
    });
    expect(messages).toHaveLength(2);
    for (const message of messages) {
      expect(message).not.toContain(id.slice(4));
    }
  });

  it('TokenStore validates a root token written in the lifecycle format', async () => {
    const h = makeHarness();
    const { id } = await rootToken(h);
    const entry = await h.tokens.validate(id, { nowMs: h.wall() + 10 * 365 * 86_400_000 });
    expect(entry).toMatchObject({ policies: ['root'], expireMs: 0 });
    expect(h.tokens.callerOf(entry as TokenEntry)).toMatchObject({ root: true });
    expect(await h.tokens.findByAccessor(entry?.accessor ?? '', { nowMs: h.wall() })).toBeDefined();
  });
});

describe('security review regressions', () => {
  it('a child is refused from the moment its parent is marked revoked (an interrupted revocation)', async () => {
    const h = makeHarness();
    const { entry: root } = await rootToken(h);
    const child = await childOf(h, root);
    expect(await h.tokens.validate(child.id, { nowMs: h.wall() })).toBeDefined();
    // NB: as if the node stopped right after the first write of revokeTree.
    await h.tokens.markRevoked(root, h.wall());
    expect(await h.tokens.validate(child.id, { nowMs: h.wall() })).toBeUndefined();
  });

  it('a child is refused once its parent has expired', async () => {
    const h = makeHarness();
    const parent = await loginToken(h, { ttlSeconds: 60 });
    const child = await childOf(h, parent.entry, 600);
    h.clock.advance(45_000);
    const parentEntry = (await h.tokens.records.read(parent.entry.key))?.entry;
    expect(parentEntry).toBeDefined();
    expect(await h.tokens.validate(child.id, { nowMs: h.wall() })).toBeDefined();
    h.clock.advance(16_000);
    expect(await h.tokens.validate(child.id, { nowMs: h.wall() })).toBeUndefined();
  });

  it('a login never issues a root token, whatever the case of the policy name', async () => {
    const h = makeHarness();
    for (const policies of [['root'], ['Root'], [' ROOT ']]) {
      await expect(loginToken(h, { policies })).rejects.toMatchObject({
        code: 'COFFER_CORE_INVALID_REQUEST',
      });
    }
  });

  it("a periodic login token's period is capped at the mount's max TTL", async () => {
    const h = makeHarness();
    const info = await h.tokens.issueForLogin(
      { ...login, periodSeconds: 100 * 365 * 86400 },
      { mount: approle, path: 'auth/approle/login', nowMs: h.wall() },
    );
    expect(info.leaseDurationSeconds).toBeLessThanOrEqual(approle.maxLeaseTtlSeconds);
  });
});
