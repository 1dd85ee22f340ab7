/**
 * Goal: the request path of issue 7 holds end to end on a real node: KV v2 through the router
 * with tokens and policies; a token with policy A is denied everywhere outside A; TTLs, max
 * TTLs, renewals, cascading revocation and use counts hold on a fake clock; AppRole logins
 * give working tokens; disabling a mount empties it; a sealed node serves nothing; the audit
 * log (hash-chained) and the server log never hold a secret, and audit fails closed.
 * Method: single-voter CofferNode on real LevelDB in a temporary directory, real audit files,
 * a pino server log in a file, the in-memory transport and a manual clock (no sleeps).
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { SeededRandom } from '@coffer/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { verifyAuditFile } from '../audit/verify_audit_file.ts';
import { CoreErrorCode } from '../errors.ts';
import { closeOpenedNodes, removeRoot } from './lifecycle_harness.ts';
import { openRequestFixture, type RequestFixture } from './request_test_support.ts';

let f: RequestFixture;

function canary(): string {
  return `canary-${randomBytes(12).toString('hex')}`;
}

async function bytesUnder(dir: string): Promise<Buffer[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return Promise.all(
    entries.filter((e) => e.isFile()).map((e) => readFile(join(e.parentPath, e.name))),
  );
}

/** Creates a token with the given body through the root token; returns its id. */
async function token(data: Record<string, unknown>): Promise<string> {
  const created = await f.ok({
    operation: 'update',
    path: 'auth/token/create',
    token: f.rootToken,
    data,
  });
  const id = created.auth?.clientToken;
  if (id === undefined) {
    throw new Error('no token');
  }
  return id;
}

beforeAll(async () => {
  f = await openRequestFixture();
  await f.mountKv();
  await f.ok({
    operation: 'update',
    path: 'sys/audit/file',
    token: f.rootToken,
    data: { type: 'file', options: { file_path: join(f.harness.root, 'audit.log') } },
  });
});

afterAll(async () => {
  await closeOpenedNodes();
  await removeRoot(f.harness.root);
});

describe('the request path on one node', () => {
  it('writes and reads KV v2 secrets with the root token', async () => {
    const written = await f.ok({
      operation: 'update',
      path: 'secret/data/app/db',
      token: f.rootToken,
      data: { data: { password: 'pw-1' } },
    });
    expect(written.data).toMatchObject({ version: 1 });
    const read = await f.ok({ operation: 'read', path: 'secret/data/app/db', token: f.rootToken });
    expect(read.data).toMatchObject({ data: { password: 'pw-1' }, metadata: { version: 1 } });
    const listed = await f.ok({ operation: 'list', path: 'secret/metadata/', token: f.rootToken });
    expect(listed.data).toEqual({ keys: ['app/'] });
  });

  it('denies a token with policy A on every path outside A, and allows inside', async () => {
    await f.ok({
      operation: 'update',
      path: 'sys/policies/acl/team-a',
      token: f.rootToken,
      data: {
        policy: 'path "secret/data/team-a/*" { capabilities = ["create", "read", "update"] }',
      },
    });
    const a = await token({ policies: ['team-a'] });
    expect(
      await f.call({
        operation: 'update',
        path: 'secret/data/team-a/one',
        token: a,
        data: { data: { k: 'v' } },
      }),
    ).toMatchObject({ ok: true });
    const outside = [
      ['read', 'secret/data/team-b/one'],
      ['read', 'secret/data/team-a'],
      ['read', 'secret/metadata/team-a/one'],
      ['delete', 'secret/data/team-a/one'],
      ['list', 'secret/metadata/team-a/'],
      ['read', 'secret/data/team-a/../app/db'],
      ['read', 'secret/data/team-a//one'],
      ['read', 'secret/data/team-a/%2e%2e/one'],
      ['read', 'secret/data/team-a\uff0fone'],
      ['read', 'secret/data/tеam-a/one'],
      ['read', 'sys/mounts'],
      ['update', 'sys/policies/acl/team-a'],
      ['read', 'sys/audit'],
      ['update', 'auth/token/create'],
      ['update', 'sys/mounts/other'],
      ['read', 'cubbyhole/x'],
    ] as const;
    for (const [operation, path] of outside) {
      const answer = await f.call({ operation, path, token: a });
      expect(answer.ok, `${operation} ${path}`).toBe(false);
      if (!answer.ok) {
        expect(
          [CoreErrorCode.permissionDenied, CoreErrorCode.invalidPath, CoreErrorCode.notFound],
          `${operation} ${path}: ${answer.code}`,
        ).toContain(answer.code);
      }
    }
  });

  it('never lets policy A reach a path outside A (seeded random paths through the router)', async () => {
    const a = await token({ policies: ['team-a'] });
    const random = new SeededRandom(7);
    const pieces = [
      'team-a',
      'team-b',
      '..',
      '.',
      '',
      '%2e',
      '\uff0f',
      'tеam-a',
      '*',
      '+',
      'x',
      'one',
    ];
    const operations = ['read', 'update', 'delete', 'list', 'patch'] as const;
    for (let i = 0; i < 150; i++) {
      const depth = 1 + random.int(3);
      const tail = Array.from({ length: depth }, () => random.pick(pieces)).join('/');
      const path = `secret/${random.pick(['data', 'metadata', 'delete', 'destroy'])}/${tail}${random.chance(0.2) ? '/' : ''}`;
      const operation = random.pick(operations);
      const answer = await f.call({ operation, path, token: a, data: {} });
      const inside =
        /^secret\/data\/team-a\/[^/]+(\/[^/]+)*$/.test(path) &&
        ['read', 'update'].includes(operation);
      if (!inside) {
        expect(answer.ok, `${operation} ${path}`).toBe(false);
      }
    }
  });

  it('answers missing, malformed, expired and revoked tokens alike', async () => {
    const short = await token({ policies: ['default'], ttl: '30s' });
    const revoked = await token({ policies: ['default'] });
    await f.ok({
      operation: 'update',
      path: 'auth/token/revoke',
      token: f.rootToken,
      data: { token: revoked },
    });
    f.harness.clock.advance(31_000);
    const answers = [];
    for (const candidate of [undefined, 'nope', `cfr.${'A'.repeat(32)}`, short, revoked]) {
      const answer = await f.call({
        operation: 'read',
        path: 'secret/data/app/db',
        requestId: 'same',
        ...(candidate === undefined ? {} : { token: candidate }),
      });
      answers.push(answer);
    }
    for (const answer of answers) {
      expect(answer).toEqual(answers[0]);
    }
    expect(answers[0]).toMatchObject({ ok: false, code: CoreErrorCode.permissionDenied });
  });

  it('renews within the max TTL only, and revoking a parent revokes its children', async () => {
    await f.ok({
      operation: 'update',
      path: 'sys/policies/acl/creator',
      token: f.rootToken,
      data: { policy: 'path "auth/token/create" { capabilities = ["create", "update"] }' },
    });
    const parent = await token({ policies: ['creator'], ttl: '60s', explicit_max_ttl: '120s' });
    f.harness.clock.advance(50_000);
    const renewed = await f.ok({
      operation: 'update',
      path: 'auth/token/renew-self',
      token: parent,
      data: { increment: '1h' },
    });
    expect(JSON.stringify(renewed)).toMatch(/max/i);
    const child = (
      await f.ok({
        operation: 'update',
        path: 'auth/token/create',
        token: parent,
        data: { ttl: '60s' },
      })
    ).auth?.clientToken;
    expect(child).toBeDefined();
    const lookup = async (t: string) =>
      (await f.call({ operation: 'read', path: 'auth/token/lookup-self', token: t })).ok;
    expect(await lookup(child ?? '')).toBe(true);
    await f.ok({ operation: 'update', path: 'auth/token/revoke-self', token: parent });
    expect(await lookup(parent)).toBe(false);
    expect(await lookup(child ?? '')).toBe(false);
  });

  it('lets only a caller with sudo on auth/token/create make orphan tokens there', async () => {
    await f.ok({
      operation: 'update',
      path: 'sys/policies/acl/creator-sudo',
      token: f.rootToken,
      data: {
        policy: 'path "auth/token/create" { capabilities = ["create", "update", "sudo"] }',
      },
    });
    const withSudo = await token({ policies: ['creator-sudo'] });
    const withoutSudo = await token({ policies: ['creator'] });
    const orphan = { policies: ['default'], no_parent: true };
    expect(
      await f.call({
        operation: 'update',
        path: 'auth/token/create',
        token: withSudo,
        data: orphan,
      }),
    ).toMatchObject({ ok: true, auth: { orphan: true } });
    expect(
      await f.call({
        operation: 'update',
        path: 'auth/token/create',
        token: withoutSudo,
        data: orphan,
      }),
    ).toMatchObject({ ok: false, code: CoreErrorCode.permissionDenied });
  });

  it('an expired token fails everywhere, and a use-limited token stops after its uses', async () => {
    const expiring = await token({ policies: ['default'], ttl: '10s' });
    f.harness.clock.advance(11_000);
    for (const path of ['auth/token/lookup-self', 'secret/data/app/db', 'sys/policies/acl']) {
      expect((await f.call({ operation: 'read', path, token: expiring })).ok).toBe(false);
    }
    const twice = await token({ policies: ['default'], num_uses: 2 });
    const uses = [];
    for (let i = 0; i < 3; i++) {
      uses.push(
        (await f.call({ operation: 'read', path: 'auth/token/lookup-self', token: twice })).ok,
      );
    }
    expect(uses).toEqual([true, true, false]);
  });

  it('logs in with AppRole and the token reads what its policy allows', async () => {
    const roleId = await f.appRole('web', {
      token_policies: ['team-a'],
      token_ttl: '5m',
      secret_id_num_uses: 1,
    });
    const secretId = (
      await f.ok({
        operation: 'update',
        path: 'auth/approle/role/web/secret-id',
        token: f.rootToken,
      })
    ).data?.['secret_id'];
    const login = await f.ok({
      operation: 'update',
      path: 'auth/approle/login',
      data: { role_id: roleId, secret_id: secretId },
    });
    expect(login.auth?.policies).toEqual(['default', 'team-a']);
    const read = await f.call({
      operation: 'read',
      path: 'secret/data/team-a/one',
      token: login.auth?.clientToken ?? '',
    });
    expect(read).toMatchObject({ ok: true });
    const again = await f.call({
      operation: 'update',
      path: 'auth/approle/login',
      data: { role_id: roleId, secret_id: secretId },
    });
    expect(again).toMatchObject({ ok: false, code: CoreErrorCode.loginFailed });
  });

  it('disabling a mount deletes its data, and enabling the path again starts empty', async () => {
    await f.ok({
      operation: 'update',
      path: 'sys/mounts/scratch',
      token: f.rootToken,
      data: { type: 'kv' },
    });
    await f.ok({
      operation: 'update',
      path: 'scratch/data/x',
      token: f.rootToken,
      data: { data: { v: '1' } },
    });
    await f.ok({ operation: 'delete', path: 'sys/mounts/scratch', token: f.rootToken });
    expect(
      await f.call({ operation: 'read', path: 'scratch/data/x', token: f.rootToken }),
    ).toMatchObject({
      ok: false,
      code: CoreErrorCode.notFound,
    });
    await f.ok({
      operation: 'update',
      path: 'sys/mounts/scratch',
      token: f.rootToken,
      data: { type: 'kv' },
    });
    expect(
      await f.call({ operation: 'read', path: 'scratch/data/x', token: f.rootToken }),
    ).toMatchObject({
      ok: false,
      code: CoreErrorCode.notFound,
    });
  });

  it('refuses to disable a builtin or an auth method through sys/mounts, and revokes nothing', async () => {
    // Regression: a refused disable of auth/token/ had already revoked every token lease.
    const created = await f.ok({
      operation: 'update',
      path: 'auth/token/create',
      token: f.rootToken,
      data: { policies: ['default'], ttl: '1h' },
    });
    const token = created.auth?.clientToken ?? '';
    await f.ok({
      operation: 'update',
      path: 'sys/auth/approle-x',
      token: f.rootToken,
      data: { type: 'approle' },
    });
    const refusals = [
      { operation: 'delete', path: 'sys/auth/token', token: f.rootToken },
      { operation: 'delete', path: 'sys/mounts/auth/token', token: f.rootToken },
      { operation: 'delete', path: 'sys/mounts/sys', token: f.rootToken },
      { operation: 'delete', path: 'sys/mounts/auth/approle-x', token: f.rootToken },
    ] as const;
    for (const request of refusals) {
      const refused = await f.call(request);
      expect(refused.ok, request.path).toBe(false);
    }
    expect((await f.call({ operation: 'read', path: 'auth/token/lookup-self', token })).ok).toBe(
      true,
    );
    const auth = await f.ok({ operation: 'read', path: 'sys/auth', token: f.rootToken });
    expect(Object.keys(auth.data ?? {})).toContain('approle-x/');
    await f.ok({ operation: 'delete', path: 'sys/auth/approle-x', token: f.rootToken });
  });

  it('wraps a secret in a single-use token', async () => {
    const wrapped = await f.ok({
      operation: 'read',
      path: 'secret/data/app/db',
      token: f.rootToken,
      wrapTtlSeconds: 60,
    });
    expect(wrapped.data).toBeUndefined();
    const wrapToken = wrapped.wrapInfo?.token ?? '';
    const unwrapped = await f.ok({
      operation: 'update',
      path: 'sys/wrapping/unwrap',
      token: wrapToken,
    });
    expect(unwrapped.data).toMatchObject({ data: { password: 'pw-1' } });
    expect(
      (await f.call({ operation: 'update', path: 'sys/wrapping/unwrap', token: wrapToken })).ok,
    ).toBe(false);
  });

  it('fails closed when the only audit device cannot write, and serves through a second one', async () => {
    const auditPath = join(f.harness.root, 'audit.log');
    f.faults.failing.set(auditPath, 'EIO');
    const refused = await f.call({
      operation: 'read',
      path: 'secret/data/app/db',
      token: f.rootToken,
    });
    expect(refused).toMatchObject({ ok: false, code: CoreErrorCode.auditUnavailable });
    expect(JSON.stringify(refused)).not.toContain('pw-1');
    f.faults.failing.delete(auditPath);
    const second = join(f.harness.root, 'audit-2.log');
    await f.ok({
      operation: 'update',
      path: 'sys/audit/second',
      token: f.rootToken,
      data: { type: 'file', options: { file_path: second } },
    });
    f.faults.failing.set(auditPath, 'ENOSPC');
    const served = await f.call({
      operation: 'read',
      path: 'secret/data/app/db',
      token: f.rootToken,
    });
    expect(served).toMatchObject({ ok: true });
    f.faults.failing.delete(auditPath);
    const lines = (await readFile(second, 'utf8')).trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps every secret out of the audit file, the server log, the data directory and every error', async () => {
    const secretValue = canary();
    await f.ok({
      operation: 'update',
      path: 'secret/data/canary',
      token: f.rootToken,
      data: { data: { value: secretValue } },
    });
    await f.ok({ operation: 'read', path: 'secret/data/canary', token: f.rootToken });
    const roleId = String(
      (await f.ok({ operation: 'read', path: 'auth/approle/role/web/role-id', token: f.rootToken }))
        .data?.['role_id'],
    );
    const secretId = String(
      (
        await f.ok({
          operation: 'update',
          path: 'auth/approle/role/web/secret-id',
          token: f.rootToken,
        })
      ).data?.['secret_id'],
    );
    const login = await f.ok({
      operation: 'update',
      path: 'auth/approle/login',
      data: { role_id: roleId, secret_id: secretId },
    });
    const loginToken = login.auth?.clientToken ?? '';
    await f.call({
      operation: 'update',
      path: 'auth/approle/login',
      data: { role_id: roleId, secret_id: secretValue },
    });
    await f.call({
      operation: 'update',
      path: 'secret/data/canary',
      token: loginToken,
      data: { data: { value: secretValue }, unknown: secretValue },
    });
    await f.call({
      operation: 'update',
      path: 'secret/data/canary',
      token: f.rootToken,
      data: { data: secretValue },
    });
    const secrets = [secretValue, f.rootToken, secretId, loginToken, ...f.shares];
    const audit = await readFile(join(f.harness.root, 'audit.log'));
    const serverLog = await readFile(f.serverLogPath);
    const data = await bytesUnder(join(f.harness.root, 'node'));
    for (const secret of secrets) {
      expect(audit.includes(secret), 'audit file').toBe(false);
      expect(serverLog.includes(secret), 'server log').toBe(false);
      expect(
        data.some((bytes) => bytes.includes(secret)),
        'data directory',
      ).toBe(false);
    }
    for (const response of f.responses.filter((r) => !r.ok)) {
      for (const secret of secrets) {
        expect(JSON.stringify(response)).not.toContain(secret);
      }
    }
    expect(audit.toString()).toContain('hmac-sha256:');
    const verified = await verifyAuditFile(join(f.harness.root, 'audit.log'));
    expect(verified).toMatchObject({ ok: true });
  });

  it('a sealed node serves no request but status', async () => {
    await f.node.seal();
    for (const path of [
      'secret/data/app/db',
      'sys/mounts',
      'auth/token/lookup-self',
      'sys/policies/acl',
    ]) {
      expect(await f.call({ operation: 'read', path, token: f.rootToken })).toMatchObject({
        ok: false,
        code: CoreErrorCode.sealed,
      });
    }
    expect(await f.call({ operation: 'read', path: 'sys/seal-status' })).toMatchObject({
      ok: true,
      data: { sealed: true, initialized: true },
    });
  });
});
